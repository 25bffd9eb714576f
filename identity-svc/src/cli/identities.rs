//! `identity-svc identities import|get|list|patch|delete`: the admin `/admin/identities` API.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::output::{self, Format, cell};
use super::{Api, error_message, segment};

#[derive(Debug, clap::Subcommand)]
pub enum IdentitiesCommand {
    /// Create identities from JSON files, each holding one identity body or an array of them
    /// (passwords plaintext or as imported hashes), through the batch endpoint.
    Import {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Show one identity.
    Get { id: String },
    /// List identities.
    List {
        #[arg(long)]
        page_size: Option<u32>,
        #[arg(long)]
        page_token: Option<String>,
        /// Only the identity with this login identifier (an e-mail address, say).
        #[arg(long)]
        credentials_identifier: Option<String>,
        /// Follow the next-page links to the end.
        #[arg(long)]
        all: bool,
    },
    /// Change an identity with a JSON Patch (RFC 6902) document.
    Patch {
        id: String,
        /// A JSON array of RFC 6902 operations.
        #[arg(long, value_name = "PATCH.json")]
        file: PathBuf,
    },
    /// Delete identities (with their credentials and sessions).
    Delete {
        #[arg(required = true)]
        ids: Vec<String>,
    },
}

/// Kratos' batch limits: 1000 identities per request, 200 when any has a plaintext password.
const BATCH: usize = 1000;
const BATCH_WITH_PLAINTEXT: usize = 200;

pub async fn run(api: &Api, command: IdentitiesCommand) -> Result<(), String> {
    match command {
        IdentitiesCommand::Import { files } => import(api, &files).await?,
        IdentitiesCommand::Get { id } => {
            let identity = api.send(api.http.get(identity_url(api, &id))).await?;
            print_identities(api.format(), &identity);
        }
        IdentitiesCommand::List {
            page_size,
            page_token,
            credentials_identifier,
            all,
        } => {
            let mut query: Vec<(&str, String)> = Vec::new();
            query.extend(page_size.map(|n| ("page_size", n.to_string())));
            query.extend(page_token.map(|t| ("page_token", t)));
            query.extend(credentials_identifier.map(|c| ("credentials_identifier", c)));
            let (identities, next) = api.list("/admin/identities", &query, all).await?;
            print_identities(api.format(), &Value::Array(identities));
            if let Some(token) = next {
                eprintln!("next page: --page-token {token} (or --all)");
            }
        }
        IdentitiesCommand::Patch { id, file } => {
            let patch = read_json(&file)?;
            if !patch.is_array() {
                return Err(format!(
                    "{} must hold a JSON array of RFC 6902 operations",
                    file.display()
                ));
            }
            let request = api.http.patch(identity_url(api, &id)).json(&patch);
            let identity = api.send(request).await?;
            print_identities(api.format(), &identity);
        }
        IdentitiesCommand::Delete { ids } => {
            for id in &ids {
                api.send(api.http.delete(identity_url(api, id))).await?;
            }
            match api.format() {
                Format::Json => output::json(&json!({ "deleted": ids })),
                Format::Table => ids.iter().for_each(|id| println!("deleted {id}")),
            }
        }
    }
    Ok(())
}

fn identity_url(api: &Api, id: &str) -> String {
    api.admin(&format!("/admin/identities/{}", segment(id)))
}

/// A file's JSON; the error names the file but never quotes its content (it may hold passwords).
fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not valid JSON: {e}", path.display()))
}

/// Imports every identity of `files` in batches; prints one row per identity and fails when
/// any identity was not created.
async fn import(api: &Api, files: &[PathBuf]) -> Result<(), String> {
    let mut bodies = Vec::new();
    for file in files {
        match read_json(file)? {
            Value::Array(items) => bodies.extend(
                (0..items.len())
                    .map(|i| format!("{}[{i}]", file.display()))
                    .zip(items),
            ),
            one => bodies.push((file.display().to_string(), one)),
        }
    }
    let plaintext = bodies.iter().any(|(_, b)| {
        !b.pointer("/credentials/password/config/password")
            .is_none_or(Value::is_null)
    });
    let size = if plaintext {
        BATCH_WITH_PLAINTEXT
    } else {
        BATCH
    };
    let mut results = Vec::with_capacity(bodies.len());
    for chunk in bodies.chunks(size) {
        let patches: Vec<Value> = chunk.iter().map(|(_, b)| json!({ "create": b })).collect();
        let outcomes = batch(api, patches).await?;
        for ((source, _), outcome) in chunk.iter().zip(outcomes) {
            let mut outcome = outcome;
            if let Value::Object(fields) = &mut outcome {
                fields.insert("source".into(), json!(source));
            }
            results.push(outcome);
        }
    }
    print_import(api.format(), &results);
    let failed = results.iter().filter(|r| r["action"] != "create").count();
    if failed > 0 {
        return Err(format!(
            "{failed} of {} identities could not be imported",
            results.len()
        ));
    }
    Ok(())
}

/// One batch request; the per-identity results, also when none was created (the server then
/// answers 400 or 409 with them in `error.details.identities`).
async fn batch(api: &Api, patches: Vec<Value>) -> Result<Vec<Value>, String> {
    let count = patches.len();
    let request = api
        .http
        .patch(api.admin("/admin/identities"))
        .json(&json!({ "identities": patches }));
    let answer = api.exchange(request).await?;
    let results = if answer.status.is_success() {
        answer.body.pointer("/identities")
    } else {
        answer.body.pointer("/error/details/identities")
    };
    match results.and_then(Value::as_array) {
        Some(results) if results.len() == count => Ok(results.clone()),
        _ => Err(error_message(answer.status, &answer.body)),
    }
}

fn print_import(format: Format, results: &[Value]) {
    if format == Format::Json {
        return output::json(&json!({ "identities": results }));
    }
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            let error = match (r.pointer("/error/message"), r.pointer("/error/reason")) {
                (Some(Value::String(m)), Some(Value::String(reason))) => format!("{m}: {reason}"),
                (Some(Value::String(m)), _) => m.clone(),
                _ => String::new(),
            };
            let result = if r["action"] == "create" {
                "created"
            } else {
                "failed"
            };
            vec![cell(r, "source"), result.into(), cell(r, "identity"), error]
        })
        .collect();
    output::table(&["SOURCE", "RESULT", "IDENTITY ID", "ERROR"], &rows);
}

/// One identity or a list of them.
fn print_identities(format: Format, body: &Value) {
    if format == Format::Json {
        return output::json(body);
    }
    let identities = match body {
        Value::Array(items) => items.clone(),
        one => vec![one.clone()],
    };
    let rows: Vec<Vec<String>> = identities
        .iter()
        .map(|i| {
            vec![
                cell(i, "id"),
                cell(i, "schema_id"),
                cell(i, "state"),
                cell(i, "created_at"),
                i.get("traits").map(Value::to_string).unwrap_or_default(),
            ]
        })
        .collect();
    output::table(&["ID", "SCHEMA", "STATE", "CREATED AT", "TRAITS"], &rows);
}
