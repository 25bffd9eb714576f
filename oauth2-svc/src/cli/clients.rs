//! `oauth2-svc clients create|get|list|update|delete`: the admin `/admin/clients` API.

use serde_json::{Map, Value, json};

use super::Api;
use super::output::{self, Format, cell};

#[derive(Debug, clap::Subcommand)]
pub enum ClientsCommand {
    /// Create a client; prints it with its generated secret (shown only now).
    Create(ClientFields),
    /// Show one client.
    Get { id: String },
    /// List clients (one page).
    List {
        #[arg(long)]
        page_size: Option<u32>,
        #[arg(long)]
        page_token: Option<String>,
    },
    /// Change the given fields of a client (JSON Patch), or replace it with `--file` (PUT).
    Update {
        #[arg(value_name = "ID")]
        client_id: String,
        #[command(flatten)]
        fields: ClientFields,
    },
    /// Delete clients.
    Delete {
        #[arg(required = true)]
        ids: Vec<String>,
    },
}

/// The common client fields; flags override the fields of `--file`.
#[derive(Debug, Clone, clap::Args)]
pub struct ClientFields {
    /// A JSON client document (Hydra's `oAuth2Client` shape).
    #[arg(long)]
    file: Option<std::path::PathBuf>,
    /// `client_id` (create only; the server generates one when absent).
    #[arg(long)]
    id: Option<String>,
    #[arg(long)]
    name: Option<String>,
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    #[arg(long = "response-type")]
    response_types: Vec<String>,
    /// Space-separated scopes.
    #[arg(long)]
    scope: Option<String>,
    #[arg(long)]
    token_endpoint_auth_method: Option<String>,
    /// Make the client first-party (Hydra's `skip_consent`).
    #[arg(long)]
    skip_consent: bool,
}

impl ClientFields {
    /// The flags as client fields (only those given).
    fn flags(&self) -> Map<String, Value> {
        let mut doc = Map::new();
        let mut put = |key: &str, value: Value| {
            doc.insert(key.into(), value);
        };
        if let Some(id) = &self.id {
            put("client_id", json!(id));
        }
        if let Some(name) = &self.name {
            put("client_name", json!(name));
        }
        for (key, list) in [
            ("redirect_uris", &self.redirect_uris),
            ("grant_types", &self.grant_types),
            ("response_types", &self.response_types),
        ] {
            if !list.is_empty() {
                put(key, json!(list));
            }
        }
        if let Some(scope) = &self.scope {
            put("scope", json!(scope));
        }
        if let Some(method) = &self.token_endpoint_auth_method {
            put("token_endpoint_auth_method", json!(method));
        }
        if self.skip_consent {
            put("skip_consent", json!(true));
        }
        doc
    }

    fn file(&self) -> Result<Option<Map<String, Value>>, String> {
        let Some(path) = &self.file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        match serde_json::from_str(&text) {
            Ok(Value::Object(doc)) => Ok(Some(doc)),
            Ok(_) => Err(format!("{} must hold a JSON object", path.display())),
            Err(e) => Err(format!("{} is not valid JSON: {e}", path.display())),
        }
    }

    /// The file's document with the flags applied over it.
    fn document(&self) -> Result<Value, String> {
        let mut doc = self.file()?.unwrap_or_default();
        doc.extend(self.flags());
        Ok(Value::Object(doc))
    }
}

pub async fn run(api: &Api, command: ClientsCommand) -> Result<(), String> {
    match command {
        ClientsCommand::Create(fields) => {
            let body = fields.document()?;
            let client = api
                .send(api.http.post(api.admin("/admin/clients")).json(&body))
                .await?;
            print_clients(api.format(), &client, true);
        }
        ClientsCommand::Get { id } => {
            let client = api.send(api.http.get(client_url(api, &id))).await?;
            print_clients(api.format(), &client, false);
        }
        ClientsCommand::List {
            page_size,
            page_token,
        } => {
            let mut query: Vec<(&str, String)> = Vec::new();
            query.extend(page_size.map(|n| ("page_size", n.to_string())));
            query.extend(page_token.map(|t| ("page_token", t)));
            let request = api.http.get(api.admin("/admin/clients")).query(&query);
            let clients = api.send(request).await?;
            print_clients(api.format(), &clients, false);
        }
        ClientsCommand::Update {
            client_id: id,
            fields,
        } => {
            let request = match fields.file()? {
                Some(_) => api.http.put(client_url(api, &id)).json(&fields.document()?),
                None => api.http.patch(client_url(api, &id)).json(&patch(&fields)?),
            };
            let client = api.send(request).await?;
            print_clients(api.format(), &client, false);
        }
        ClientsCommand::Delete { ids } => {
            for id in &ids {
                api.send(api.http.delete(client_url(api, id))).await?;
            }
            match api.format() {
                Format::Json => output::json(&json!({ "deleted": ids })),
                Format::Table => ids.iter().for_each(|id| println!("deleted {id}")),
            }
        }
    }
    Ok(())
}

fn client_url(api: &Api, id: &str) -> String {
    let id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    api.admin(&format!("/admin/clients/{}", id.replace('+', "%20")))
}

/// RFC 6902 `add` operations (add replaces an existing member) for the given flags.
fn patch(fields: &ClientFields) -> Result<Value, String> {
    let flags = fields.flags();
    if flags.is_empty() {
        return Err("nothing to update: give at least one field flag, or --file".into());
    }
    if flags.contains_key("client_id") {
        return Err("--id cannot be changed by an update".into());
    }
    let ops: Vec<Value> = flags
        .into_iter()
        .map(|(key, value)| json!({"op": "add", "path": format!("/{key}"), "value": value}))
        .collect();
    Ok(Value::Array(ops))
}

/// One client or a list of them.
fn print_clients(format: Format, body: &Value, with_secret: bool) {
    if format == Format::Json {
        return output::json(body);
    }
    let clients = match body {
        Value::Array(items) => items.clone(),
        one => vec![one.clone()],
    };
    let mut headers = vec!["CLIENT ID", "CLIENT NAME"];
    if with_secret {
        headers.push("CLIENT SECRET");
    }
    headers.extend([
        "GRANT TYPES",
        "RESPONSE TYPES",
        "SCOPE",
        "REDIRECT URIS",
        "AUTH METHOD",
    ]);
    let rows: Vec<Vec<String>> = clients
        .iter()
        .map(|c| {
            let mut row = vec![cell(c, "client_id"), cell(c, "client_name")];
            if with_secret {
                row.push(cell(c, "client_secret"));
            }
            for key in [
                "grant_types",
                "response_types",
                "scope",
                "redirect_uris",
                "token_endpoint_auth_method",
            ] {
                row.push(cell(c, key));
            }
            row
        })
        .collect();
    output::table(&headers, &rows);
}
