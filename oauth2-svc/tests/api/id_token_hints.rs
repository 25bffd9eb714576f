//! Inbound `id_token_hint`s at the authorization endpoint (security.md ID-07; at logout:
//! `logout.rs`), and the hostile hints both use.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jws::{HS256, JwsSigner};
use serde_json::{Value, json};

use crate::browser::{REDIRECT, browser, flow_app, follow, query_param};
use crate::helpers::TestApp;
use crate::oidc::{decode, id_token, tokens};

/// A JWS over `claims` with `header`, signed by `signer` (or unsigned).
pub fn forge(header: Value, claims: &Value, signer: Option<&dyn JwsSigner>) -> String {
    let encode = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let input = format!("{}.{}", encode(&header), encode(claims));
    let signature = signer.map_or_else(Vec::new, |s| s.sign(input.as_bytes()).unwrap());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// Hostile versions of `id_token` (one of ours): a flipped signature, `alg: none`, and HS256
/// keyed with our own public key (algorithm confusion); each named for the assertion message.
pub async fn forged_hints(app: &TestApp, id_token: &str) -> Vec<(&'static str, String)> {
    let parts: Vec<&str> = id_token.split('.').collect();
    let (header, claims) = (decode(parts[0]), decode(parts[1]));
    let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    signature[0] ^= 1;
    let flipped = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        URL_SAFE_NO_PAD.encode(signature)
    );
    let jwks: Value = app
        .http
        .get(format!("{}/.well-known/jwks.json", app.public))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let public_key = jwks["keys"][0].to_string();
    let hmac = HS256.signer_from_bytes(public_key.as_bytes()).unwrap();
    let kid = header["kid"].clone();
    vec![
        ("flipped signature", flipped),
        (
            "alg none",
            forge(json!({"alg": "none", "kid": kid}), &claims, None),
        ),
        (
            "HS256 with the public key",
            forge(
                json!({"alg": "HS256", "kid": kid, "typ": "JWT"}),
                &claims,
                Some(&hmac),
            ),
        ),
    ]
}

/// ID-07 at the authorization endpoint: hints with a flipped signature, `alg: none`, HS256
/// keyed with the public key, from another issuer, or issued to another client are refused
/// (`invalid_request` at the client, no code, no login). An expired but otherwise valid hint is
/// still a hint (OIDC Core §3.1.2.1): recorded here as accepted.
#[tokio::test]
async fn id_07_authorization_refuses_forged_id_token_hints() {
    let app = flow_app().await;
    let (id, secret) = app.confidential_client().await;
    let (other, other_secret) = app.confidential_client().await;
    let hint = tokens(&app, &id, &secret, &[]).await["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    let foreign_client = tokens(&app, &other, &other_secret, &[]).await;
    let elsewhere = flow_app().await;
    let (there, there_secret) = elsewhere.confidential_client().await;
    let foreign_issuer = tokens(&elsewhere, &there, &there_secret, &[]).await;
    let mut hints = forged_hints(&app, &hint).await;
    hints.push(("another client's", id_token(&foreign_client).to_string()));
    hints.push(("another issuer's", id_token(&foreign_issuer).to_string()));
    for (what, forged) in &hints {
        let url = app.authorize_url(&id, &[("id_token_hint", Some(forged))]);
        let to = follow(&browser(), &url).await;
        assert!(to.starts_with(REDIRECT), "{what}: {to}");
        assert_eq!(
            query_param(&to, "error").as_deref(),
            Some("invalid_request"),
            "{what}"
        );
        assert!(query_param(&to, "code").is_none(), "{what}");
    }
    app.clock.advance(std::time::Duration::from_secs(7200));
    let url = app.authorize_url(&id, &[("id_token_hint", Some(&hint))]);
    let to = follow(&browser(), &url).await;
    assert!(
        query_param(&to, "login_challenge").is_some(),
        "an expired hint: {to}"
    );
}
