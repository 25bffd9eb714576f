use clap::{Parser, Subcommand};
use identity_svc::Settings;
use service_kit::cli::CommonArgs;

/// Olympus identity-svc: identities, credentials and self-service flows.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the public and admin APIs until SIGTERM or SIGINT.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Delete expired rows once (as the background janitor does) and print the counts.
    Janitor,
    /// Print the version.
    Version,
    #[command(flatten)]
    Operator(Box<identity_svc::cli::Command>),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Command::Version = cli.command {
        println!(
            "{} {}",
            identity_svc::INFO.service,
            identity_svc::INFO.version
        );
        return std::process::ExitCode::SUCCESS;
    }
    if let Command::Operator(command) = cli.command {
        return identity_svc::cli::run(*command).await;
    }
    let settings = match Settings::load(cli.common.config.as_deref()) {
        Ok(s) => s,
        Err(e) => return service_kit::cli::fail(&e),
    };
    service_kit::telemetry::init(
        &settings.log.level,
        cli.common.log_format.unwrap_or(settings.log.format),
    );
    let outcome = match cli.command {
        Command::Serve => {
            async {
                identity_svc::build(settings, None)
                    .await?
                    .run_until_stopped()
                    .await
                    .map_err(Into::into)
            }
            .await
        }
        Command::Migrate => identity_svc::migrate(settings)
            .await
            .map(|n| println!("applied {n} migration(s)")),
        Command::Janitor => identity_svc::janitor::run_once(settings)
            .await
            .map(|report| print!("{report}")),
        Command::Version | Command::Operator(_) => Ok(()),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => service_kit::cli::fail(&e),
    }
}
