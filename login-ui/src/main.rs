use clap::{Parser, Subcommand};
use login_ui::Settings;
use service_kit::cli::CommonArgs;

/// Olympus login-ui: the login, consent and account pages.
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
    /// Serve the public pages and the admin health endpoints until SIGTERM or SIGINT.
    Serve,
    /// Print the version.
    Version,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Command::Version = cli.command {
        println!("{} {}", login_ui::INFO.service, login_ui::INFO.version);
        return std::process::ExitCode::SUCCESS;
    }
    let settings = match Settings::load(cli.common.config.as_deref()) {
        Ok(s) => s,
        Err(e) => return service_kit::cli::fail(&e),
    };
    service_kit::telemetry::init(
        &settings.log.level,
        cli.common.log_format.unwrap_or(settings.log.format),
    );
    let outcome = async {
        login_ui::build(settings, None)
            .await?
            .run_until_stopped()
            .await
            .map_err(anyhow::Error::from)
    };
    match outcome.await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => service_kit::cli::fail(&e),
    }
}
