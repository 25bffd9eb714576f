//! `oauth2-svc keys create|list|rotate <set>` (the admin `/admin/keys` API) and
//! `oauth2-svc perform client-credentials` (a smoke check of the public token endpoint).

use serde_json::{Value, json};

use super::Api;
use super::output::{self, Format, cell};

#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Add a key to a set (creating the set). It is published at once and signs after
    /// `oauth2.keys.publish_ahead`.
    Create {
        set: String,
        /// RS256, ES256 or EdDSA.
        #[arg(long, default_value = "RS256")]
        alg: String,
        #[arg(long = "use", default_value = "sig")]
        key_use: String,
    },
    /// Show the public keys of a set.
    List { set: String },
    /// Add a new key to a set with the algorithm and use of its newest key.
    Rotate { set: String },
}

#[derive(Debug, clap::Subcommand)]
pub enum PerformCommand {
    /// Request a token with the client_credentials grant and print it.
    ClientCredentials {
        #[arg(long, env = "OAUTH2_CLIENT_ID")]
        client_id: String,
        #[arg(long, env = "OAUTH2_CLIENT_SECRET", hide_env_values = true)]
        client_secret: String,
        /// Space-separated scopes.
        #[arg(long)]
        scope: Option<String>,
        #[arg(long)]
        audience: Vec<String>,
    },
}

pub async fn run(api: &Api, command: KeysCommand) -> Result<(), String> {
    let (set, alg, key_use) = match command {
        KeysCommand::List { set } => {
            let keys = api.send(api.http.get(set_url(api, &set))).await?;
            print_keys(api.format(), &set, &keys);
            return Ok(());
        }
        KeysCommand::Create { set, alg, key_use } => (set, alg, key_use),
        KeysCommand::Rotate { set } => {
            let keys = api.send(api.http.get(set_url(api, &set))).await?;
            // The admin API lists a set's keys oldest first.
            let newest = keys["keys"]
                .as_array()
                .and_then(|k| k.last())
                .ok_or_else(|| format!("key set {set} has no key to rotate"))?;
            (set, cell(newest, "alg"), cell(newest, "use"))
        }
    };
    let body = json!({"alg": alg, "use": key_use});
    let keys = api
        .send(api.http.post(set_url(api, &set)).json(&body))
        .await?;
    print_keys(api.format(), &set, &keys);
    Ok(())
}

pub async fn perform(api: &Api, command: PerformCommand) -> Result<(), String> {
    let PerformCommand::ClientCredentials {
        client_id,
        client_secret,
        scope,
        audience,
    } = command;
    let mut form = vec![("grant_type", "client_credentials".to_string())];
    form.extend(scope.map(|s| ("scope", s)));
    form.extend(audience.into_iter().map(|a| ("audience", a)));
    let request = api
        .http
        .post(api.public("/oauth2/token"))
        .basic_auth(encode(&client_id), Some(encode(&client_secret)))
        .form(&form);
    let token = api.send(request).await?;
    match api.format() {
        Format::Json => output::json(&token),
        Format::Table => {
            let rows: Vec<Vec<String>> = ["access_token", "token_type", "expires_in", "scope"]
                .iter()
                .map(|k| vec![k.to_uppercase().replace('_', " "), cell(&token, k)])
                .collect();
            output::table(&["FIELD", "VALUE"], &rows);
        }
    }
    Ok(())
}

/// RFC 6749 §2.3.1: client credentials are form-encoded before HTTP Basic.
fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn set_url(api: &Api, set: &str) -> String {
    let set: String = url::form_urlencoded::byte_serialize(set.as_bytes()).collect();
    api.admin(&format!("/admin/keys/{}", set.replace('+', "%20")))
}

fn print_keys(format: Format, set: &str, body: &Value) {
    if format == Format::Json {
        return output::json(body);
    }
    let rows: Vec<Vec<String>> = body["keys"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|k| {
            vec![
                set.to_string(),
                cell(k, "kid"),
                cell(k, "alg"),
                cell(k, "use"),
                cell(k, "kty"),
            ]
        })
        .collect();
    output::table(&["SET", "KEY ID", "ALG", "USE", "KTY"], &rows);
}
