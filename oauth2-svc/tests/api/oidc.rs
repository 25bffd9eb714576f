//! ID tokens and userinfo as a relying party checks them (security.md ID-01, ID-02, ID-03,
//! ID-05, ID-06, ID-11). Discovery and the JWKS (ID-09, ID-10) are in `keys.rs`, inbound
//! `id_token_hint`s (ID-07) in `id_token_hints.rs` and `logout.rs`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::browser::{
    REDIRECT, accept_consent, accept_login, browser, flow_app, follow, query_param,
};
use crate::handoff::{client_with, verify_with_jwks};
use crate::helpers::{TestApp, fresh_database, obtain_code, spawn_on};
use crate::token::{Auth, redeem, userinfo};

pub fn decode(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Walks the flow for `id` with `params` and redeems the code: the token response.
pub async fn tokens(
    app: &TestApp,
    id: &str,
    secret: &str,
    params: &[(&str, Option<&str>)],
) -> Value {
    let code = obtain_code(app, id, params).await;
    let res = redeem(app, &Auth::Basic(id, secret), &code, REDIRECT).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

pub fn id_token(body: &Value) -> &str {
    body["id_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
}

async fn discovery(app: &TestApp) -> Value {
    let url = format!("{}/.well-known/openid-configuration", app.public);
    app.http
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// ID-01: `iss` is discovery's issuer byte for byte, `aud` names the client, `exp` follows
/// `iat` by the configured lifetime, `iat` is now, `sub` is stable, `auth_time` comes with
/// `max_age`, and `nonce` is the request's.
#[tokio::test]
async fn id_01_id_tokens_carry_the_core_claims() {
    let app = spawn_on(fresh_database(), |s| {
        s.dev = true;
        s.ttl.id_token = std::time::Duration::from_secs(600);
    })
    .await;
    let (id, secret) = app.confidential_client().await;
    let issuer = discovery(&app).await["issuer"]
        .as_str()
        .unwrap()
        .to_string();
    let now = chrono::Utc::now().timestamp();
    let params = [("max_age", Some("300")), ("nonce", Some("n-0123456789"))];
    let first = verify_with_jwks(&app, id_token(&tokens(&app, &id, &secret, &params).await)).await;
    assert_eq!(first["iss"], issuer.as_str());
    assert_eq!(first["aud"], json!([id]));
    let (iat, exp) = (
        first["iat"].as_i64().unwrap(),
        first["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 600, "ttl.id_token");
    assert!((iat - now).abs() <= 60, "{first}");
    let auth_time = first["auth_time"].as_i64().expect("auth_time with max_age");
    assert!(auth_time <= iat && iat - auth_time <= 60, "{first}");
    assert_eq!(first["nonce"], "n-0123456789");
    let second = verify_with_jwks(&app, id_token(&tokens(&app, &id, &secret, &[]).await)).await;
    assert_eq!(second["sub"], first["sub"], "stable");
    assert_eq!(second["nonce"], "nonce-456");
}

/// ID-02: two flows in one browser at once, with their own nonces: each ID token carries the
/// nonce of its own request (so a client detects swapped codes); no nonce sent, no claim.
#[tokio::test]
async fn id_02_each_id_token_carries_its_own_requests_nonce() {
    let app = flow_app().await;
    let (id, secret) = app.confidential_client().await;
    let b = browser();
    let nonces = ["nonce-one-1111", "nonce-two-2222"];
    let mut logins = Vec::new();
    for nonce in nonces {
        let url = app.authorize_url(&id, &[("nonce", Some(nonce))]);
        logins.push(query_param(&follow(&b, &url).await, "login_challenge").unwrap());
    }
    let mut verifiers = Vec::new();
    for login in logins.iter().rev() {
        let accepted: Value = app
            .admin_put("login", "accept", login, json!({"subject": "user-1"}))
            .await
            .json()
            .await
            .unwrap();
        verifiers.push(accepted["redirect_to"].as_str().unwrap().to_string());
    }
    let mut codes = Vec::new();
    for verifier in verifiers {
        let consent = query_param(&follow(&b, &verifier).await, "consent_challenge").unwrap();
        let done = accept_consent(&app, &b, &consent, json!({"grant_scope": ["openid"]})).await;
        codes.push(query_param(&done, "code").unwrap());
    }
    // Answered in reverse order: the second code belongs to the first request.
    for (code, nonce) in codes.iter().zip(nonces.iter().rev()) {
        let res = redeem(&app, &Auth::Basic(&id, &secret), code, REDIRECT).await;
        let claims = verify_with_jwks(&app, id_token(&res.json().await.unwrap())).await;
        assert_eq!(claims["nonce"], *nonce);
    }
    let body = tokens(&app, &id, &secret, &[("nonce", None)]).await;
    let claims = verify_with_jwks(&app, id_token(&body)).await;
    assert!(claims.get("nonce").is_none(), "{claims}");
}

/// ID-03: an access token for another audience (a resource server) still gives an ID token
/// whose only audience is the client, so no `azp` is needed; the audience goes to the access
/// token.
#[tokio::test]
async fn id_03_the_id_token_audience_is_only_the_client() {
    let app = flow_app().await;
    let api = "https://api.test";
    let (id, secret) = client_with(&app, json!({"audience": [api]})).await;
    let b = browser();
    let url = app.authorize_url(&id, &[("audience", Some(api))]);
    let login = query_param(&follow(&b, &url).await, "login_challenge").unwrap();
    let (consent, request) = accept_login(&app, &b, &login, json!({"subject": "user-1"})).await;
    assert_eq!(request["requested_access_token_audience"], json!([api]));
    let body = json!({"grant_scope": ["openid"], "grant_access_token_audience": [api]});
    let done = accept_consent(&app, &b, &consent, body).await;
    let code = query_param(&done, "code").unwrap();
    let res = redeem(&app, &Auth::Basic(&id, &secret), &code, REDIRECT).await;
    let issued: Value = res.json().await.unwrap();
    let claims = verify_with_jwks(&app, id_token(&issued)).await;
    assert_eq!(claims["aud"], json!([id]));
    assert!(
        claims.get("azp").is_none_or(|azp| azp == id.as_str()),
        "{claims}"
    );
    let seen: Value = app
        .http
        .post(format!("{}/admin/oauth2/introspect", app.admin))
        .form(&[("token", issued["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["aud"], json!([api]));
}

/// ID-05: the ID token's `alg` is advertised (RS256 among them) and its `kid` names exactly one
/// published key, of the same `alg` and `use: sig`, that verifies it.
#[tokio::test]
async fn id_05_the_signature_names_one_published_key() {
    let app = flow_app().await;
    let (id, secret) = app.confidential_client().await;
    let jwt = tokens(&app, &id, &secret, &[]).await["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    let header = decode(jwt.split('.').next().unwrap());
    let algs = discovery(&app).await["id_token_signing_alg_values_supported"].clone();
    let algs = algs.as_array().unwrap();
    assert!(
        algs.contains(&json!("RS256")) && algs.contains(&header["alg"]),
        "{header}"
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
    let named: Vec<&Value> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["kid"] == header["kid"])
        .collect();
    assert_eq!(named.len(), 1, "{header} {jwks}");
    assert_eq!(
        (&named[0]["alg"], &named[0]["use"]),
        (&header["alg"], &json!("sig"))
    );
    verify_with_jwks(&app, &jwt).await;
}

/// ID-06: ID tokens are always signed with the server's keys: a client asking for unsigned
/// (`none`) or HMAC-signed ID tokens is refused at registration, public or not; the default
/// `RS256` is accepted and kept.
#[tokio::test]
async fn id_06_unsigned_or_symmetric_id_tokens_are_refused_at_registration() {
    let app = flow_app().await;
    for (alg, method) in [
        ("none", "client_secret_basic"),
        ("none", "none"),
        ("HS256", "none"),
        ("HS256", "client_secret_basic"),
        ("HS512", "client_secret_post"),
    ] {
        let body = json!({"redirect_uris": [REDIRECT], "id_token_signed_response_alg": alg,
            "token_endpoint_auth_method": method});
        let res = app.create_client(body).await;
        assert_eq!(res.status(), 400, "{alg} for {method}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client_metadata", "{body}");
    }
    let body = json!({"redirect_uris": [REDIRECT], "id_token_signed_response_alg": "RS256"});
    let res = app.create_client(body).await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["id_token_signed_response_alg"], "RS256");
    let listed: Value = app
        .http
        .get(format!(
            "{}/admin/clients/{}",
            app.admin,
            created["client_id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["id_token_signed_response_alg"], "RS256");
    let doc = discovery(&app).await;
    assert!(
        !doc["id_token_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("none"))
    );
}

/// ID-11: userinfo takes the token by GET or POST in the header, or in a POSTed form body
/// (RFC 6750 §2.2), never two ways at once and never in the query; no token is 401 with a bare
/// `Bearer` challenge, a bad one 401 `invalid_token`. `sub` is the ID token's.
#[tokio::test]
async fn id_11_userinfo_takes_the_token_in_the_header_or_the_body_only() {
    let app = flow_app().await;
    let (id, secret) = app.confidential_client().await;
    let issued = tokens(&app, &id, &secret, &[]).await;
    let at = issued["access_token"].as_str().unwrap();
    let sub = verify_with_jwks(&app, id_token(&issued)).await["sub"].clone();
    let url = format!("{}/userinfo", app.public);
    let post_header = app.http.post(&url).bearer_auth(at).send().await.unwrap();
    let post_body = app
        .http
        .post(&url)
        .form(&[("access_token", at)])
        .send()
        .await
        .unwrap();
    for res in [userinfo(&app, at).await, post_header, post_body] {
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert_eq!(res.json::<Value>().await.unwrap()["sub"], sub);
    }
    let both = app
        .http
        .post(&url)
        .bearer_auth(at)
        .form(&[("access_token", at)])
        .send();
    let both = both.await.unwrap();
    assert_eq!(both.status(), 400);
    assert_eq!(
        both.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );

    let in_query = app.http.get(format!("{url}?access_token={at}")).send();
    let missing = app.http.get(&url).send();
    for res in [in_query.await.unwrap(), missing.await.unwrap()] {
        assert_eq!(res.status(), 401);
        let challenge = res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            challenge.starts_with("Bearer") && !challenge.contains("error="),
            "{challenge}"
        );
        let text = res.text().await.unwrap();
        assert!(!text.contains("user-1"), "{text}");
    }
    let res = userinfo(&app, "invalid").await;
    assert_eq!(res.status(), 401);
    let challenge = res.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
}
