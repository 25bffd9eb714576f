//! Real ID tokens for the native (`id_token`) tests: an authorization code flow at the upstream
//! oauth2-svc, driven through its admin API, then the code redeemed at its token endpoint.

use serde_json::{Value, json};

use crate::browser::Browser;
use crate::helpers::TestApp;
use crate::oidc_support::{CLIENT_ID, CLIENT_SECRET, PROVIDER, Upstream, query_param};

/// The upstream requires PKCE; the test's verifier need not be secret.
const VERIFIER: &str = "a-pkce-verifier-for-the-native-tests-0123456789abcdef";

fn challenge(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

/// A client of the upstream: id, secret, redirect URI.
pub struct Client<'a> {
    pub id: &'a str,
    pub secret: &'a str,
    pub redirect: String,
}

/// identity-svc's own client at the upstream (registered by `pair`).
pub fn relying_party(app: &TestApp) -> Client<'static> {
    Client {
        id: CLIENT_ID,
        secret: CLIENT_SECRET,
        redirect: format!(
            "{}/self-service/methods/oidc/callback/{PROVIDER}",
            app.public
        ),
    }
}

/// Registers another client (a native app's own registration at the provider).
pub async fn register_client<'a>(up: &Upstream, id: &'a str, secret: &'a str) -> Client<'a> {
    let redirect = "https://native-app.test/callback".to_string();
    let body = json!({"client_id": id, "client_secret": secret, "redirect_uris": [redirect],
        "scope": "openid email profile", "grant_types": ["authorization_code"],
        "response_types": ["code"]});
    up.admin(reqwest::Method::POST, "/admin/clients", Some(body))
        .await;
    Client {
        id,
        secret,
        redirect,
    }
}

/// An ID token the upstream issues to `client` for `subject` with `claims` and `nonce`.
pub async fn mint(
    up: &Upstream,
    client: &Client<'_>,
    subject: &str,
    claims: Value,
    nonce: &str,
) -> String {
    let mut authorize = reqwest::Url::parse(&format!("{}/oauth2/auth", up.public)).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client.id)
        .append_pair("redirect_uri", &client.redirect)
        .append_pair("scope", "openid email profile")
        .append_pair("state", "native-state-0123456789")
        .append_pair("nonce", nonce)
        .append_pair("code_challenge", &challenge(VERIFIER))
        .append_pair("code_challenge_method", "S256");
    let browser = Browser::new();
    let back = up
        .sign_in(&browser, authorize.as_str(), subject, claims)
        .await;
    assert!(back.starts_with(&client.redirect), "{back}");
    let code = query_param(&back, "code").expect("an authorization code");
    let res = up
        .http
        .post(format!("{}/oauth2/token", up.public))
        .basic_auth(client.id, Some(client.secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", client.redirect.as_str()),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let tokens: Value = res.json().await.unwrap();
    tokens["id_token"]
        .as_str()
        .expect("an ID token")
        .to_string()
}

/// A new api flow (`login` or `registration`).
pub async fn api_flow(app: &TestApp, kind: &str, query: &str) -> Value {
    let res = app
        .http
        .get(format!("{}/self-service/{kind}/api{query}", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Submits `body` (JSON) to the api flow.
pub async fn submit(app: &TestApp, kind: &str, flow: &Value, body: Value) -> reqwest::Response {
    let id = flow["id"].as_str().unwrap();
    app.http
        .post(format!("{}/self-service/{kind}?flow={id}", app.public))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The `oidc` submission of `id_token` with `nonce`.
pub fn token_body(id_token: &str, nonce: Option<&str>) -> Value {
    let mut body = json!({"method": "oidc", "provider": PROVIDER, "id_token": id_token});
    if let Some(nonce) = nonce {
        body["id_token_nonce"] = json!(nonce);
    }
    body
}

/// The messages (`<id> <text>`) of a flow answered with 400, on the form and its nodes.
pub async fn rejected(res: reqwest::Response) -> Vec<String> {
    assert_eq!(res.status(), 400);
    let flow: Value = res.json().await.unwrap();
    let nodes = flow["ui"]["nodes"].as_array().cloned().unwrap_or_default();
    let mut all: Vec<Value> = flow["ui"]["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for node in &nodes {
        all.extend(node["messages"].as_array().cloned().unwrap_or_default());
    }
    all.iter()
        .map(|m| format!("{} {}", m["id"], m["text"].as_str().unwrap_or_default()))
        .collect()
}

/// Whether one of `messages` contains `needle`.
pub fn says(messages: &[String], needle: &str) -> bool {
    messages.iter().any(|m| m.contains(needle))
}
