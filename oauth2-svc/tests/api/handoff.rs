//! Helpers for the prompt, remembered-consent and logout tests: a UI that can remember consent,
//! tokens for a browser, JWKS verification, and a back-channel logout receiver.

use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::Jwk;
use josekit::jws::RS256;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::browser::{REDIRECT, accept_login, follow, query_param};
use crate::helpers::TestApp;
use crate::token::{Auth, redeem};

/// Plays the UI like `browser::sign_in`, accepting skipped logins with the remembered subject
/// and remembering the consent when `remember_consent`; returns where the browser ends up.
pub async fn sign_in_remembering(
    app: &TestApp,
    browser: &reqwest::Client,
    authorize: &str,
    subject: &str,
    remember_consent: bool,
) -> String {
    let to_login = follow(browser, authorize).await;
    let challenge = query_param(&to_login, "login_challenge").expect("sent to the login UI");
    let login = json!({"subject": subject, "remember": true});
    let (challenge, request) = accept_login(app, browser, &challenge, login).await;
    let body = json!({"grant_scope": request["requested_scope"], "remember": remember_consent,
        "session": {"id_token": {"email": "ada@example.com"}}});
    let accepted: Value = app
        .admin_put("consent", "accept", &challenge, body)
        .await
        .json()
        .await
        .unwrap();
    follow(browser, accepted["redirect_to"].as_str().unwrap()).await
}

/// Exchanges the code that `done` carries; returns the token response.
pub async fn tokens(app: &TestApp, client_id: &str, secret: &str, done: &str) -> Value {
    let code = query_param(done, "code").unwrap_or_else(|| panic!("no code: {done}"));
    let res = redeem(app, &Auth::Basic(client_id, secret), &code, REDIRECT).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// A confidential client with extra metadata.
pub async fn client_with(app: &TestApp, extra: Value) -> (String, String) {
    let mut body = json!({"redirect_uris": [REDIRECT], "scope": "openid offline_access email profile",
        "grant_types": ["authorization_code", "refresh_token"]});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let res = app.create_client(body).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    (
        body["client_id"].as_str().unwrap().into(),
        body["client_secret"].as_str().unwrap().into(),
    )
}

/// The claims of `jwt` after verifying it with josekit against the published JWKS.
pub async fn verify_with_jwks(app: &TestApp, jwt: &str) -> Value {
    let jwks: Value = app
        .http
        .get(format!("{}/.well-known/jwks.json", app.public))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(jwt.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the kid is published");
    let verifier = RS256
        .verifier_from_jwk(&Jwk::from_bytes(key.to_string()).unwrap())
        .unwrap();
    let (payload, _) =
        josekit::jwt::decode_with_verifier(jwt, &verifier).expect("signature verifies");
    serde_json::to_value(payload.claims_set()).unwrap()
}

/// A raw HTTP receiver that records request bodies and answers every request with `status`.
pub struct Receiver {
    pub url: String,
    pub bodies: Arc<Mutex<Vec<String>>>,
}

pub async fn receiver(status: u16) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/backchannel", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let body = read_request(&mut socket).await;
                seen.lock().unwrap().push(body);
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    Receiver { url, bodies }
}

async fn read_request(socket: &mut tokio::net::TcpStream) -> String {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = socket.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                return text[end + 4..end + 4 + length].to_string();
            }
        }
    }
    String::from_utf8_lossy(&data).to_string()
}

impl Receiver {
    /// Waits (bounded) until `count` requests have arrived; returns the bodies.
    pub async fn wait_for(&self, count: usize) -> Vec<String> {
        for _ in 0..100 {
            if self.bodies.lock().unwrap().len() >= count {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        self.bodies.lock().unwrap().clone()
    }
}
