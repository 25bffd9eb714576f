//! `oauth2-svc keys create|list|rotate <set>` (the admin `/admin/keys` API).

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
