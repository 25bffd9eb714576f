//! The operator CLI in the `oauth2-svc` binary (the `hydra` CLI's role): it talks to a running
//! service's admin API over HTTP (`--endpoint`, `OAUTH2_ADMIN_URL`) and, for smoke checks, to
//! its public token endpoint (`--public-endpoint`, `OAUTH2_PUBLIC_URL`). Output is a table, or
//! the server's JSON with `--format json`; a failure prints the server's `error_description`
//! and exits non-zero.

mod clients;
mod keys;
use service_kit::cli::output;
mod perform;

use std::process::ExitCode;

use serde_json::Value;

pub use output::Format;

/// The operator commands; `main.rs` flattens them into its own.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Manage OAuth2 clients through the admin API.
    Clients {
        #[command(flatten)]
        target: Target,
        #[command(subcommand)]
        command: clients::ClientsCommand,
    },
    /// Manage JSON Web Key sets through the admin API.
    Keys {
        #[command(flatten)]
        target: Target,
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Smoke checks against the public endpoints.
    Perform {
        #[command(flatten)]
        target: Target,
        #[command(subcommand)]
        command: perform::PerformCommand,
    },
}

/// Where the service is and how to print.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// The admin API's base URL.
    #[arg(
        long,
        global = true,
        env = "OAUTH2_ADMIN_URL",
        default_value = "http://127.0.0.1:4445"
    )]
    pub endpoint: String,
    /// The public API's base URL (`perform`).
    #[arg(
        long,
        global = true,
        env = "OAUTH2_PUBLIC_URL",
        default_value = "http://127.0.0.1:4444"
    )]
    pub public_endpoint: String,
    /// `table` (default) or `json`.
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Runs one operator command; prints the result or the error.
pub async fn run(command: Command) -> ExitCode {
    let outcome = match command {
        Command::Clients { target, command } => clients::run(&Api::new(target), command).await,
        Command::Keys { target, command } => keys::run(&Api::new(target), command).await,
        Command::Perform { target, command } => perform::perform(&Api::new(target), command).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// An HTTP client for one service; errors are the message to print.
pub(crate) struct Api {
    target: Target,
    http: reqwest::Client,
}

impl Api {
    fn new(target: Target) -> Self {
        Api {
            target,
            http: reqwest::Client::new(),
        }
    }

    fn admin(&self, path: &str) -> String {
        format!("{}{path}", self.target.endpoint.trim_end_matches('/'))
    }

    fn public(&self, path: &str) -> String {
        format!(
            "{}{path}",
            self.target.public_endpoint.trim_end_matches('/')
        )
    }

    fn format(&self) -> Format {
        self.target.format
    }

    /// Sends `request`; the JSON body of a success (`Null` when empty), or the server's error.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, String> {
        let res = request
            .send()
            .await
            .map_err(|e| format!("cannot reach the service: {e}"))?;
        let status = res.status();
        let text = res.text().await.map_err(|e| e.to_string())?;
        let body: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status.is_success() {
            return Ok(body);
        }
        Err(error_message(status, &body))
    }
}

/// The Hydra envelope's `error_description` (or `error`), else the status.
fn error_message(status: reqwest::StatusCode, body: &Value) -> String {
    let field = |key: &str| {
        body.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    match (field("error"), field("error_description")) {
        (Some(error), Some(description)) => format!("{description} ({error}, HTTP {status})"),
        (Some(error), None) => format!("{error} (HTTP {status})"),
        (None, Some(description)) => format!("{description} (HTTP {status})"),
        (None, None) => format!("the service answered HTTP {status}"),
    }
}
