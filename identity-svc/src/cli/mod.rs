//! The operator CLI in the `identity-svc` binary (the `kratos` CLI's role): it talks to a running
//! service's admin API over HTTP (`--endpoint`, `IDENTITY_ADMIN_URL`), except `schemas validate`,
//! which checks a schema file offline. Output is a table, or the server's JSON with
//! `--format json`; a failure prints the Kratos error envelope's message and exits non-zero.

mod identities;
use service_kit::cli::output;
mod schemas;
mod sessions;

use std::process::ExitCode;

use serde_json::Value;

pub use output::Format;

/// The operator commands; `main.rs` flattens them into its own.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Manage identities through the admin API.
    Identities {
        #[command(flatten)]
        target: Target,
        #[command(subcommand)]
        command: identities::IdentitiesCommand,
    },
    /// List and revoke sessions through the admin API.
    Sessions {
        #[command(flatten)]
        target: Target,
        #[command(subcommand)]
        command: sessions::SessionsCommand,
    },
    /// Check identity schema files offline, as the service does at start.
    Schemas {
        #[command(subcommand)]
        command: schemas::SchemasCommand,
    },
}

/// Where the service is and how to print.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// The admin API's base URL.
    #[arg(
        long,
        global = true,
        env = "IDENTITY_ADMIN_URL",
        default_value = "http://127.0.0.1:4434"
    )]
    pub endpoint: String,
    /// `table` (default) or `json`.
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Runs one operator command; prints the result or the error.
pub async fn run(command: Command) -> ExitCode {
    let outcome = match command {
        Command::Identities { target, command } => {
            identities::run(&Api::new(target), command).await
        }
        Command::Sessions { target, command } => sessions::run(&Api::new(target), command).await,
        Command::Schemas { command } => schemas::run(command),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// An HTTP client for the admin API; errors are the message to print.
pub(crate) struct Api {
    target: Target,
    http: reqwest::Client,
}

/// A response read whole: its status, its `Link` next page (a path) and its JSON body.
struct Answer {
    status: reqwest::StatusCode,
    next: Option<String>,
    body: Value,
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

    fn format(&self) -> Format {
        self.target.format
    }

    /// Sends `request` and reads the answer, whatever its status.
    async fn exchange(&self, request: reqwest::RequestBuilder) -> Result<Answer, String> {
        let res = request
            .send()
            .await
            .map_err(|e| format!("cannot reach the service: {e}"))?;
        let status = res.status();
        let next = res
            .headers()
            .get_all(reqwest::header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(next_link);
        let text = res.text().await.map_err(|e| e.to_string())?;
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok(Answer { status, next, body })
    }

    /// Sends `request`; the JSON body of a success (`Null` when empty), or the server's error.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, String> {
        let answer = self.exchange(request).await?;
        if answer.status.is_success() {
            Ok(answer.body)
        } else {
            Err(error_message(answer.status, &answer.body))
        }
    }

    /// A listing: one page from `path` with `query`, or every page (following `Link`) when
    /// `all`. Returns the items and, for one page, the next page's token.
    async fn list(
        &self,
        path: &str,
        query: &[(&str, String)],
        all: bool,
    ) -> Result<(Vec<Value>, Option<String>), String> {
        let mut request = self.http.get(self.admin(path)).query(query);
        let mut items = Vec::new();
        loop {
            let answer = self.exchange(request).await?;
            if !answer.status.is_success() {
                return Err(error_message(answer.status, &answer.body));
            }
            match answer.body {
                Value::Array(page) => items.extend(page),
                other => return Err(format!("the service answered a non-list: {other}")),
            }
            match answer.next {
                Some(next) if all => request = self.http.get(self.admin(&next)),
                next => return Ok((items, next.as_deref().and_then(page_token))),
            }
        }
    }
}

/// The target of a `Link` header's `rel="next"` entry.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|entry| {
        let (target, params) = entry.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"")
            .then(|| {
                target
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
    })
}

/// The `page_token` of a next-page link.
fn page_token(link: &str) -> Option<String> {
    let (_, query) = link.split_once('?')?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "page_token")
        .map(|(_, v)| v.into_owned())
}

/// RFC 3986's unreserved characters stay; everything else in a path segment is escaped.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `value` as one path segment.
fn segment(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, SEGMENT).to_string()
}

/// The Kratos envelope's `error.message` and `error.reason`, else the status.
fn error_message(status: reqwest::StatusCode, body: &Value) -> String {
    let field = |key: &str| {
        body.pointer(&format!("/error/{key}"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    match (field("message"), field("reason")) {
        (Some(message), Some(reason)) => format!("{message}: {reason} (HTTP {status})"),
        (Some(message), None) => format!("{message} (HTTP {status})"),
        (None, Some(reason)) => format!("{reason} (HTTP {status})"),
        (None, None) => format!("the service answered HTTP {status}"),
    }
}
