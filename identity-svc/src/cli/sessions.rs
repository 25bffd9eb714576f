//! `identity-svc sessions list|revoke`: the admin session API.

use serde_json::{Value, json};

use super::output::{self, Format, cell};
use super::{Api, segment};

#[derive(Debug, clap::Subcommand)]
pub enum SessionsCommand {
    /// List sessions, all of them or one identity's.
    List {
        /// Only this identity's sessions.
        #[arg(long, value_name = "ID")]
        identity: Option<String>,
        /// Only sessions still active.
        #[arg(long)]
        active: bool,
        #[arg(long)]
        page_size: Option<u32>,
        #[arg(long)]
        page_token: Option<String>,
        /// Follow the next-page links to the end.
        #[arg(long)]
        all: bool,
    },
    /// End sessions by id, or delete every session of an identity with `--identity`.
    Revoke {
        #[arg(value_name = "SESSION_ID", required_unless_present = "identity")]
        ids: Vec<String>,
        #[arg(long, value_name = "ID", conflicts_with = "ids")]
        identity: Option<String>,
    },
}

pub async fn run(api: &Api, command: SessionsCommand) -> Result<(), String> {
    match command {
        SessionsCommand::List {
            identity,
            active,
            page_size,
            page_token,
            all,
        } => {
            let mut query: Vec<(&str, String)> = Vec::new();
            query.extend(page_size.map(|n| ("page_size", n.to_string())));
            query.extend(page_token.map(|t| ("page_token", t)));
            if active {
                query.push(("active", "true".into()));
            }
            let path = match &identity {
                Some(id) => format!("/admin/identities/{}/sessions", segment(id)),
                None => {
                    // The identity's id is only in the expanded form.
                    query.push(("expand", "identity".into()));
                    "/admin/sessions".into()
                }
            };
            let (sessions, next) = api.list(&path, &query, all).await?;
            print_sessions(api.format(), &sessions);
            if let Some(token) = next {
                eprintln!("next page: --page-token {token} (or --all)");
            }
        }
        SessionsCommand::Revoke {
            identity: Some(id), ..
        } => {
            let url = api.admin(&format!("/admin/identities/{}/sessions", segment(&id)));
            api.send(api.http.delete(url)).await?;
            match api.format() {
                Format::Json => output::json(&json!({ "revoked_sessions_of": id })),
                Format::Table => println!("revoked every session of identity {id}"),
            }
        }
        SessionsCommand::Revoke {
            ids,
            identity: None,
        } => {
            for id in &ids {
                let url = api.admin(&format!("/admin/sessions/{}", segment(id)));
                api.send(api.http.delete(url)).await?;
            }
            match api.format() {
                Format::Json => output::json(&json!({ "revoked": ids })),
                Format::Table => ids.iter().for_each(|id| println!("revoked {id}")),
            }
        }
    }
    Ok(())
}

fn print_sessions(format: Format, sessions: &[Value]) {
    if format == Format::Json {
        return output::json(&Value::Array(sessions.to_vec()));
    }
    let rows: Vec<Vec<String>> = sessions
        .iter()
        .map(|s| {
            vec![
                cell(s, "id"),
                s.pointer("/identity/id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                cell(s, "active"),
                cell(s, "authenticated_at"),
                cell(s, "expires_at"),
            ]
        })
        .collect();
    output::table(
        &[
            "ID",
            "IDENTITY ID",
            "ACTIVE",
            "AUTHENTICATED AT",
            "EXPIRES AT",
        ],
        &rows,
    );
}
