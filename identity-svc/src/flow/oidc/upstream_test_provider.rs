//! A provider for unit tests: a local HTTP server answering discovery and the key set, counting
//! the fetches of each, with one P-256 key (`kid` given) it serves and signs with.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::flow::oidc::ProviderSettings;

pub struct TestProvider {
    pub issuer: String,
    pub discoveries: Arc<AtomicUsize>,
    pub key_sets: Arc<AtomicUsize>,
    /// Discovery answers 500 while set.
    pub down: Arc<AtomicBool>,
    /// The served key set (replaced to rotate keys).
    pub jwks: Arc<std::sync::Mutex<serde_json::Value>>,
    pub key: SigningKey,
}

pub fn jwk(key: &SigningKey, kid: &str) -> serde_json::Value {
    let point = key.verifying_key().to_encoded_point(false);
    serde_json::json!({
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
        "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
    })
}

pub fn new_key() -> SigningKey {
    let mut secret = [0u8; 32];
    secret[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    secret[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    SigningKey::from_slice(&secret).expect("a P-256 scalar")
}

/// A compact JWS of `claims` with `header`, signed ES256 by `key`.
pub fn es256(key: &SigningKey, header: serde_json::Value, claims: serde_json::Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature: Signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

impl TestProvider {
    pub async fn start(code_challenge_methods: serde_json::Value) -> TestProvider {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let key = new_key();
        let provider = TestProvider {
            issuer: issuer.clone(),
            discoveries: Arc::default(),
            key_sets: Arc::default(),
            down: Arc::default(),
            jwks: Arc::new(std::sync::Mutex::new(
                serde_json::json!({"keys": [jwk(&key, "k1")]}),
            )),
            key,
        };
        let mut document = serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256", "HS256", "none"],
        });
        if !code_challenge_methods.is_null() {
            document["code_challenge_methods_supported"] = code_challenge_methods;
        }
        let (discoveries, key_sets, down, jwks) = (
            provider.discoveries.clone(),
            provider.key_sets.clone(),
            provider.down.clone(),
            provider.jwks.clone(),
        );
        tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                let n = conn.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = request.split(' ').nth(1).unwrap_or("").to_string();
                let (status, body) = if path == "/.well-known/openid-configuration" {
                    discoveries.fetch_add(1, Ordering::SeqCst);
                    // Slow enough for concurrent callers to pile up behind the fetch.
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    if down.load(Ordering::SeqCst) {
                        ("500 Internal Server Error", "{}".to_string())
                    } else {
                        ("200 OK", document.to_string())
                    }
                } else if path == "/jwks" {
                    key_sets.fetch_add(1, Ordering::SeqCst);
                    ("200 OK", jwks.lock().unwrap().to_string())
                } else {
                    ("404 Not Found", "{}".to_string())
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(response.as_bytes()).await;
                let _ = conn.shutdown().await;
            }
        });
        provider
    }

    pub fn settings(&self, extra: serde_json::Value) -> ProviderSettings {
        let mut settings = serde_json::json!({
            "id": "p", "client_id": "web", "client_secret": "s", "issuer_url": self.issuer,
            "additional_id_token_audiences": ["ios"]
        });
        for (k, v) in extra.as_object().unwrap() {
            settings[k] = v.clone();
        }
        serde_json::from_value(settings).unwrap()
    }

    pub fn discoveries(&self) -> usize {
        self.discoveries.load(Ordering::SeqCst)
    }

    pub fn key_sets(&self) -> usize {
        self.key_sets.load(Ordering::SeqCst)
    }
}
