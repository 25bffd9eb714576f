//! `oauth2-svc perform client-credentials|authorization-code`: smoke checks of the public
//! endpoints, like `hydra perform`.
//!
//! `authorization-code` plays a native app (RFC 8252): it listens on a loopback port, prints the
//! authorization URL (PKCE S256, state and nonce) for a person to open, takes the one callback,
//! checks its `state` and exchanges the code. The client must have registered
//! `http://127.0.0.1/callback` (any port matches a loopback registration) or the exact URI.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::Api;
use super::output::{self, Format, cell};

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
    /// Sign in through a browser with the authorization code grant (PKCE) and print the tokens.
    AuthorizationCode {
        #[arg(long, env = "OAUTH2_CLIENT_ID")]
        client_id: String,
        /// Omit for a public client (`token_endpoint_auth_method: none`).
        #[arg(long, env = "OAUTH2_CLIENT_SECRET", hide_env_values = true)]
        client_secret: Option<String>,
        /// The loopback port to receive the callback on; 0 picks a free one.
        #[arg(long, default_value_t = 4446)]
        port: u16,
        /// Space-separated scopes.
        #[arg(long, default_value = "openid offline_access")]
        scope: String,
        #[arg(long)]
        audience: Vec<String>,
        /// `none`, `login`, `consent` or `select_account`.
        #[arg(long)]
        prompt: Option<String>,
        #[arg(long)]
        max_age: Option<u64>,
        /// How long to wait for the browser, in seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
}

pub async fn perform(api: &Api, command: PerformCommand) -> Result<(), String> {
    let token = match command {
        PerformCommand::ClientCredentials {
            client_id,
            client_secret,
            scope,
            audience,
        } => {
            let mut form = vec![("grant_type", "client_credentials".to_string())];
            form.extend(scope.map(|s| ("scope", s)));
            form.extend(audience.into_iter().map(|a| ("audience", a)));
            let request = api
                .http
                .post(api.public("/oauth2/token"))
                .basic_auth(encode(&client_id), Some(encode(&client_secret)))
                .form(&form);
            api.send(request).await?
        }
        PerformCommand::AuthorizationCode { .. } => authorization_code(api, command).await?,
    };
    match api.format() {
        Format::Json => output::json(&token),
        Format::Table => {
            let fields = [
                "access_token",
                "refresh_token",
                "id_token",
                "token_type",
                "expires_in",
                "scope",
            ];
            let rows: Vec<Vec<String>> = fields
                .iter()
                .filter(|k| token.get(**k).is_some())
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

fn random() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

async fn authorization_code(api: &Api, command: PerformCommand) -> Result<Value, String> {
    let PerformCommand::AuthorizationCode {
        client_id,
        client_secret,
        port,
        scope,
        audience,
        prompt,
        max_age,
        timeout,
    } = command
    else {
        unreachable!("called for authorization-code only")
    };
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let (verifier, state, nonce) = (random(), random(), random());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let mut params = vec![
        ("response_type", "code".to_string()),
        ("client_id", client_id.clone()),
        ("redirect_uri", redirect_uri.clone()),
        ("scope", scope),
        ("state", state.clone()),
        ("nonce", nonce),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256".into()),
    ];
    params.extend(prompt.map(|p| ("prompt", p)));
    params.extend(max_age.map(|m| ("max_age", m.to_string())));
    params.extend(audience.into_iter().map(|a| ("audience", a)));
    let url = reqwest::Url::parse_with_params(&api.public("/oauth2/auth"), &params)
        .map_err(|e| format!("the public endpoint is not a URL: {e}"))?;
    eprintln!("Open this URL in a browser:\n{url}");
    eprintln!("Waiting for the callback at {redirect_uri} ...");

    let callback = tokio::time::timeout(
        Duration::from_secs(timeout),
        callback(listener, state.clone()),
    )
    .await
    .map_err(|_| format!("no callback within {timeout} s"))??;
    let query: Vec<(String, String)> = url::form_urlencoded::parse(callback.as_bytes())
        .into_owned()
        .collect();
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if let Some(error) = get("error") {
        let description = get("error_description").unwrap_or_default();
        return Err(format!("the authorization failed: {error} {description}"));
    }
    let code = get("code").ok_or("the callback carries no code")?;
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", &redirect_uri),
        ("code_verifier", &verifier),
    ];
    let mut request = api.http.post(api.public("/oauth2/token"));
    match &client_secret {
        Some(secret) => request = request.basic_auth(encode(&client_id), Some(encode(secret))),
        None => form.push(("client_id", &client_id)),
    }
    api.send(request.form(&form)).await
}

/// Serves the loopback listener until a `/callback` carrying this request's `state` arrives
/// (checked before anything else in it is believed); answers it with a short page and returns
/// its query string. Each connection is served on its own, so an idle or stray one (a
/// browser's pre-connect, a page poking at the port) cannot hold up or end the wait.
async fn callback(listener: TcpListener, state: String) -> Result<String, String> {
    let (found, mut done) = tokio::sync::mpsc::channel::<String>(1);
    loop {
        tokio::select! {
            query = done.recv() => return query.ok_or_else(|| "the callback server stopped".into()),
            accepted = listener.accept() => {
                let (stream, _) = accepted.map_err(|e| e.to_string())?;
                tokio::spawn(serve(stream, state.clone(), found.clone()));
            }
        }
    }
}

async fn serve(mut stream: TcpStream, state: String, found: tokio::sync::mpsc::Sender<String>) {
    let Some(target) = request_target(&mut stream).await else {
        return;
    };
    let Some(("/callback", query)) = target.split_once('?') else {
        return respond(&mut stream, "404 Not Found", "Not found.").await;
    };
    let ours = url::form_urlencoded::parse(query.as_bytes())
        .any(|(k, v)| k == "state" && v.as_ref() == state.as_str());
    if !ours {
        return respond(
            &mut stream,
            "400 Bad Request",
            "This callback is not for this request.",
        )
        .await;
    }
    respond(&mut stream, "200 OK", "Done. You can close this window.").await;
    let _ = found.send(query.to_string()).await;
}

/// The request target of the request line, reading at most 16 KiB of head.
async fn request_target(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = head.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) => Some(target.to_string()),
        _ => None,
    }
}

async fn respond(stream: &mut TcpStream, status: &str, text: &str) {
    let body = format!("<!doctype html><title>oauth2-svc</title><p>{text}</p>\n");
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\n\
         cache-control: no-store\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    // The browser may already have gone; the outcome is decided by the callback, not this.
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
