//! olympus-bench: the load generator (docs/benchmarks.md). `olympus-bench run --spawn` starts a
//! local domain from the binaries beside this one; `--issuer … --client-id … --client-secret …`
//! points the OAuth2 scenarios at any provider instead.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use olympus_tests::bench::memory::Watched;
use olympus_tests::bench::{self, Load, Plan, Scenario, Target, TargetSpec};

#[derive(Parser)]
#[command(
    version,
    about = "Load generator for Olympus and other OAuth2/OIDC providers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios one after another and print their figures.
    Run(RunArgs),
}

#[derive(Args)]
struct RunArgs {
    /// Comma-separated: trivial, client_credentials, introspection, whoami, refresh,
    /// authcode_session, authcode_password.
    #[arg(long, value_delimiter = ',', required = true)]
    scenario: Vec<String>,
    /// Measured time per scenario (`10s`, `500ms`, `2m`).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Time per scenario before measuring starts.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    warmup: Duration,
    /// Workers, each with its own keep-alive connection.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Stop a scenario after this many measured units.
    #[arg(long)]
    max_requests: Option<u64>,
    /// Start identity-svc, oauth2-svc and login-ui from this target directory (SQLite).
    #[arg(long, conflicts_with = "issuer")]
    spawn: bool,
    /// With --spawn: PostgreSQL server for fresh databases instead of SQLite.
    #[arg(long, requires = "spawn")]
    postgres: Option<String>,
    #[arg(long, required_unless_present = "spawn")]
    issuer: Option<String>,
    #[arg(
        long,
        env = "OLYMPUS_BENCH_CLIENT_ID",
        required_unless_present = "spawn"
    )]
    client_id: Option<String>,
    #[arg(
        long,
        env = "OLYMPUS_BENCH_CLIENT_SECRET",
        hide_env_values = true,
        required_unless_present = "spawn"
    )]
    client_secret: Option<String>,
    /// Introspect here without client authentication (Hydra-style admin) instead of the
    /// discovery document's endpoint.
    #[arg(long)]
    introspect_url: Option<String>,
    /// GET target of `trivial`; the discovery document when unset.
    #[arg(long)]
    trivial_url: Option<String>,
    /// identity-svc's public URL (whoami, native logins for seeding).
    #[arg(long)]
    identity_url: Option<String>,
    /// A user for password logins, with --password.
    #[arg(long, requires = "password")]
    user: Option<String>,
    #[arg(long, env = "OLYMPUS_BENCH_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Access tokens issued before `introspection`.
    #[arg(long, default_value_t = 1000)]
    seed_tokens: usize,
    /// Sessions made before `whoami` (one password hash each); --seed-tokens when unset.
    #[arg(long)]
    seed_sessions: Option<usize>,
    /// A process to watch for memory, as `name=PID` (repeatable; --spawn watches its own).
    #[arg(long = "pid", value_parser = parse_pid)]
    pids: Vec<Watched>,
    /// Also write the figures as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// No progress line.
    #[arg(long)]
    quiet: bool,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((text, "s"), |i| text.split_at(i));
    let value: f64 = number
        .parse()
        .map_err(|_| format!("not a duration: {text}"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("unknown unit in {text}: use ms, s or m")),
    };
    Ok(Duration::from_secs_f64(seconds))
}

fn parse_pid(text: &str) -> Result<Watched, String> {
    let (name, pid) = text.split_once('=').ok_or("expected name=PID")?;
    let pid = pid.parse().map_err(|_| format!("not a pid: {pid}"))?;
    Ok(Watched {
        name: name.to_string(),
        pid,
    })
}

fn main() -> std::process::ExitCode {
    let Command::Run(args) = Cli::parse().command;
    if let Some(dsn) = &args.postgres {
        // Read by the harness's test databases; set before any thread exists.
        unsafe { std::env::set_var("OLYMPUS_TEST_POSTGRES", dsn) };
    }
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    match runtime.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("olympus-bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let scenarios = args
        .scenario
        .iter()
        .map(|name| Scenario::parse(name.trim()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let plan = Plan {
        scenarios,
        load: Load {
            duration: args.duration,
            warmup: args.warmup,
            concurrency: args.concurrency,
            max_requests: args.max_requests,
            progress: !args.quiet,
        },
        seed_tokens: args.seed_tokens,
        seed_sessions: args.seed_sessions.unwrap_or(args.seed_tokens),
    };
    let report = if args.spawn {
        eprintln!("olympus-bench: starting identity-svc, oauth2-svc and login-ui…");
        bench::run_spawned(&plan).await?
    } else {
        let spec = TargetSpec {
            issuer: args.issuer.context("--issuer")?,
            client_id: args.client_id.context("--client-id")?,
            client_secret: args.client_secret.context("--client-secret")?,
            admin_introspect_url: args.introspect_url,
            trivial_url: args.trivial_url,
            identity_public: args.identity_url,
            user: args.user.zip(args.password),
            redirect_uri: None,
        };
        let target = Target::discover(&spec).await?;
        bench::run(target, &args.pids, &plan).await?
    };
    print!("{}", report.table());
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let errors: u64 = report.scenarios.iter().map(|s| s.errors).sum();
    if errors > 0 {
        bail!("{errors} errors");
    }
    Ok(())
}
