//! The JWT bearer grant (RFC 7523) and the trust-relationship admin API: success with RS256 and
//! ES256, and each failure (untrusted issuer or subject, wrong key, wrong aud, expired, replayed
//! jti, scope not trusted) — security.md TK-10 (grant restrictions), CA-07/CA-09 (assertion
//! replay and signature checks, applied to grant assertions).

use josekit::jwk::alg::ec::{EcCurve, EcKeyPair};
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jws::{ES256, JwsHeader, RS256};
use josekit::jwt::{self, JwtPayload};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn};

const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const ISSUER: &str = "https://idp.partner.test";

struct Signer {
    private: josekit::jwk::Jwk,
    public: Value,
    alg: &'static str,
}

fn rsa() -> Signer {
    let pair = RsaKeyPair::generate(2048).unwrap();
    let mut public = pair.to_jwk_public_key();
    public.set_key_id("rsa-1");
    Signer {
        private: pair.to_jwk_private_key(),
        public: serde_json::to_value(public.as_ref()).unwrap(),
        alg: "RS256",
    }
}

fn ec() -> Signer {
    let pair = EcKeyPair::generate(EcCurve::P256).unwrap();
    Signer {
        private: pair.to_jwk_private_key(),
        public: serde_json::to_value(pair.to_jwk_public_key().as_ref()).unwrap(),
        alg: "ES256",
    }
}

impl Signer {
    fn sign(&self, claims: Value) -> String {
        let mut header = JwsHeader::new();
        header.set_token_type("JWT");
        if let Some(kid) = self.public.get("kid").and_then(Value::as_str) {
            header.set_key_id(kid);
        }
        let payload = JwtPayload::from_map(claims.as_object().unwrap().clone()).unwrap();
        match self.alg {
            "ES256" => jwt::encode_with_signer(
                &payload,
                &header,
                &ES256.signer_from_jwk(&self.private).unwrap(),
            ),
            _ => jwt::encode_with_signer(
                &payload,
                &header,
                &RS256.signer_from_jwk(&self.private).unwrap(),
            ),
        }
        .unwrap()
    }
}

fn now(app: &TestApp) -> i64 {
    app.clock.now().timestamp()
}

fn claims(app: &TestApp, jti: &str) -> Value {
    json!({"iss": ISSUER, "sub": "alice", "aud": format!("{}/oauth2/token", app.public),
        "iat": now(app), "exp": now(app) + 300, "jti": jti})
}

async fn trust(app: &TestApp, body: Value) -> reqwest::Response {
    app.http
        .post(format!(
            "{}/admin/trust/grants/jwt-bearer/issuers",
            app.admin
        ))
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn trust_body(signer: &Signer, subject: &str) -> Value {
    json!({"issuer": ISSUER, "subject": subject, "scope": ["openid", "email"],
        "jwk": signer.public, "expires_at": "2099-01-01T00:00:00Z"})
}

async fn grant_client(app: &TestApp) -> (String, String) {
    let res = app
        .create_client(
            json!({"grant_types": [JWT_GRANT], "scope": "openid email profile",
            "token_endpoint_auth_method": "client_secret_post"}),
        )
        .await;
    let body: Value = res.json().await.unwrap();
    (
        body["client_id"].as_str().unwrap().into(),
        body["client_secret"].as_str().unwrap().into(),
    )
}

async fn exchange(
    app: &TestApp,
    client: &(String, String),
    assertion: &str,
    scope: &str,
) -> (u16, Value) {
    let res = app
        .http
        .post(format!("{}/oauth2/token", app.public))
        .form(&[
            ("grant_type", JWT_GRANT),
            ("assertion", assertion),
            ("scope", scope),
            ("client_id", &client.0),
            ("client_secret", &client.1),
        ])
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

fn error_of(outcome: &(u16, Value)) -> (u16, &str) {
    (outcome.0, outcome.1["error"].as_str().unwrap_or(""))
}

#[tokio::test]
async fn jwt_bearer_trust_relationships_are_created_listed_read_and_deleted() {
    let app = spawn().await;
    let signer = rsa();
    let res = trust(&app, trust_body(&signer, "alice")).await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["issuer"], ISSUER);
    assert_eq!(created["subject"], "alice");
    assert_eq!(created["allow_any_subject"], false);
    assert_eq!(created["scope"], json!(["openid", "email"]));
    assert_eq!(
        created["public_key"],
        json!({"set": ISSUER, "kid": "rsa-1"})
    );
    assert!(
        created["expires_at"]
            .as_str()
            .unwrap()
            .starts_with("2099-01-01T00:00:00")
    );
    let id = created["id"].as_str().unwrap();
    let url = format!("{}/admin/trust/grants/jwt-bearer/issuers/{id}", app.admin);
    assert_eq!(
        app.http
            .get(&url)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap(),
        created
    );
    let list: Value = app
        .http
        .get(format!(
            "{}/admin/trust/grants/jwt-bearer/issuers?issuer={ISSUER}",
            app.admin
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list, json!([created]));
    assert_eq!(
        trust(&app, trust_body(&signer, "alice")).await.status(),
        409
    );
    assert_eq!(app.http.delete(&url).send().await.unwrap().status(), 204);
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), 404);
    assert_eq!(app.http.delete(&url).send().await.unwrap().status(), 404);
    let garbled = format!(
        "{}/admin/trust/grants/jwt-bearer/issuers/not-an-id",
        app.admin
    );
    assert_eq!(app.http.get(&garbled).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn jwt_bearer_trust_rejects_bad_bodies() {
    let app = spawn().await;
    let signer = rsa();
    let mut private = trust_body(&signer, "alice");
    private["jwk"] = serde_json::to_value(signer.private.as_ref()).unwrap();
    let mut neither = trust_body(&signer, "");
    neither.as_object_mut().unwrap().remove("subject");
    let mut both = trust_body(&signer, "alice");
    both["allow_any_subject"] = true.into();
    let mut past = trust_body(&signer, "alice");
    past["expires_at"] = "2001-01-01T00:00:00Z".into();
    let mut symmetric = trust_body(&signer, "alice");
    symmetric["jwk"] = json!({"kty": "oct", "k": "c2VjcmV0"});
    for body in [private, neither, both, past, symmetric] {
        let res = trust(&app, body.clone()).await;
        assert_eq!(res.status(), 400, "{body}");
        assert_eq!(
            res.json::<Value>().await.unwrap()["error"],
            "invalid_request"
        );
    }
}

/// An RS256 assertion for a trusted subject gives an access token for it, nothing more; the
/// same jti again is a replay; ES256 keys and `allow_any_subject` work too.
#[tokio::test]
async fn jwt_bearer_grant_issues_an_access_token_once_per_assertion() {
    let app = spawn().await;
    let client = grant_client(&app).await;
    let signer = rsa();
    assert_eq!(
        trust(&app, trust_body(&signer, "alice")).await.status(),
        201
    );
    let assertion = signer.sign(claims(&app, "jti-1"));
    let (status, body) = exchange(&app, &client, &assertion, "openid").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "openid");
    assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none());
    let userinfo: Value = app
        .http
        .get(format!("{}/userinfo", app.public))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["sub"], "alice");
    let replay = exchange(&app, &client, &assertion, "openid").await;
    assert_eq!(error_of(&replay), (400, "invalid_grant"));

    let ec_signer = ec();
    let mut any = trust_body(&ec_signer, "");
    any.as_object_mut().unwrap().remove("subject");
    any["allow_any_subject"] = true.into();
    assert_eq!(trust(&app, any).await.status(), 201);
    let mut bob = claims(&app, "jti-2");
    bob["sub"] = "bob".into();
    let (status, body) = exchange(&app, &client, &ec_signer.sign(bob), "email").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn jwt_bearer_grant_failures() {
    let app = spawn().await;
    let client = grant_client(&app).await;
    let signer = rsa();
    assert_eq!(
        trust(&app, trust_body(&signer, "alice")).await.status(),
        201
    );
    let base = |jti: &str| claims(&app, jti);
    let mut untrusted = base("a");
    untrusted["iss"] = "https://other.test".into();
    let mut other_subject = base("b");
    other_subject["sub"] = "mallory".into();
    let mut wrong_aud = base("c");
    wrong_aud["aud"] = "https://evil.test/oauth2/token".into();
    let mut expired = base("d");
    expired["exp"] = (now(&app) - 120).into();
    let mut far = base("e");
    far["exp"] = (now(&app) + 800 * 3600).into();
    let mut no_jti = base("f");
    no_jti.as_object_mut().unwrap().remove("jti");
    let stranger = rsa();
    for (name, assertion, scope, expected) in [
        (
            "untrusted issuer",
            signer.sign(untrusted),
            "openid",
            "invalid_grant",
        ),
        (
            "untrusted subject",
            signer.sign(other_subject),
            "openid",
            "invalid_grant",
        ),
        (
            "wrong key",
            stranger.sign(base("g")),
            "openid",
            "invalid_grant",
        ),
        (
            "wrong aud",
            signer.sign(wrong_aud),
            "openid",
            "invalid_grant",
        ),
        ("expired", signer.sign(expired), "openid", "invalid_grant"),
        (
            "exp beyond max_ttl",
            signer.sign(far),
            "openid",
            "invalid_grant",
        ),
        ("no jti", signer.sign(no_jti), "openid", "invalid_grant"),
        (
            "scope not trusted",
            signer.sign(base("h")),
            "profile",
            "invalid_scope",
        ),
        (
            "scope not the client's",
            signer.sign(base("i")),
            "admin",
            "invalid_scope",
        ),
        ("garbage", "a.b.c".to_string(), "openid", "invalid_grant"),
        ("alg none", unsigned(&base("j")), "openid", "invalid_grant"),
    ] {
        let outcome = exchange(&app, &client, &assertion, scope).await;
        assert_eq!(error_of(&outcome), (400, expected), "{name}: {}", outcome.1);
        assert!(
            !outcome.1.to_string().contains(&assertion),
            "{name}: echoed"
        );
    }
    // A client without the grant (TK-10).
    let (web, secret) = app.confidential_client().await;
    let res = app
        .http
        .post(format!("{}/oauth2/token", app.public))
        .basic_auth(&web, Some(&secret))
        .form(&[
            ("grant_type", JWT_GRANT),
            ("assertion", &signer.sign(base("k"))),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );
}

fn unsigned(claims: &Value) -> String {
    use base64::Engine;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.", b64(&json!({"alg": "none"})), b64(claims))
}
