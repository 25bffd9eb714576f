//! `POST /oauth2/token` (authorization_code) and `/userinfo`, driven through the real
//! authorization flow (security.md TK-*, CA-*, ID-*).

mod client_auth;
mod codes;
mod failures;
mod lifecycle;
mod refresh;
mod revocation;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use josekit::jwk::Jwk;
use josekit::jws::RS256;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::browser::{REDIRECT, VERIFIER, flow_app};
use crate::helpers::{TestApp, obtain_code};

pub const PUBLIC_REDIRECT: &str = "http://127.0.0.1/cb";

/// How a test client authenticates at the token endpoint.
pub enum Auth<'a> {
    Basic(&'a str, &'a str),
    /// `client_id` in the body and nothing else (`none`).
    Public(&'a str),
    Post(&'a str, &'a str),
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
pub fn basic(id: &str, secret: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
    )
}

/// POSTs a token request with `params` and the client authentication `auth`.
pub async fn token(app: &TestApp, auth: &Auth<'_>, params: &[(&str, &str)]) -> reqwest::Response {
    let mut form: Vec<(&str, &str)> = params.to_vec();
    let mut request = app.http.post(format!("{}/oauth2/token", app.public));
    match *auth {
        Auth::Basic(id, secret) => request = request.header("authorization", basic(id, secret)),
        Auth::Public(id) => form.push(("client_id", id)),
        Auth::Post(id, secret) => form.extend([("client_id", id), ("client_secret", secret)]),
    }
    request.form(&form).send().await.unwrap()
}

/// The standard code exchange of `code` with the test verifier.
pub async fn redeem(
    app: &TestApp,
    auth: &Auth<'_>,
    code: &str,
    redirect: &str,
) -> reqwest::Response {
    let params = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect),
        ("code_verifier", VERIFIER),
    ];
    token(app, auth, &params).await
}

/// Asserts an RFC 6749 §5.2 error: status, code, `no-store`, and that `secrets` are not echoed.
pub async fn assert_oauth_error(
    res: reqwest::Response,
    status: u16,
    error: &str,
    secrets: &[&str],
) -> Value {
    assert_eq!(res.status(), status);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let text = res.text().await.unwrap();
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "the error body echoes a secret: {text}"
        );
    }
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["status_code"], status);
    body
}

pub async fn userinfo(app: &TestApp, access_token: &str) -> reqwest::Response {
    app.http
        .get(format!("{}/userinfo", app.public))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
}

/// Verifies `jwt` against the published JWKS with josekit (not the service's own verifier).
async fn verify_with_jwks(app: &TestApp, jwt: &str) -> Value {
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
    assert_eq!(header["alg"], "RS256");
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the kid is published");
    let jwk = Jwk::from_bytes(key.to_string()).unwrap();
    let verifier = RS256.verifier_from_jwk(&jwk).unwrap();
    let (payload, _) =
        josekit::jwt::decode_with_verifier(jwt, &verifier).expect("the signature verifies");
    serde_json::to_value(payload.claims_set()).unwrap()
}

/// TK-01 (happy path), ID-01, ID-05, ID-11, ID-13: a confidential client (client_secret_basic)
/// gets an opaque access token and an ID token that verifies with the JWKS; userinfo answers.
#[tokio::test]
async fn token_confidential_client_exchanges_a_code() {
    let app = flow_app().await;
    let (client_id, secret) = app.confidential_client().await;
    let code = obtain_code(&app, &client_id, &[]).await;
    let before = chrono::Utc::now().timestamp();
    let res = redeem(&app, &Auth::Basic(&client_id, &secret), &code, REDIRECT).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["pragma"], "no-cache");
    let body: Value = res.json().await.unwrap();
    let access_token = body["access_token"].as_str().unwrap();
    assert!(
        access_token.starts_with("oly_at_") && access_token.len() >= 47,
        "{body}"
    );
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "openid email");
    assert!(
        body.get("refresh_token").is_none(),
        "RT-01: no refresh token without offline_access"
    );

    let claims = verify_with_jwks(&app, body["id_token"].as_str().unwrap()).await;
    assert_eq!(
        claims["iss"],
        app.public.as_str(),
        "the issuer byte for byte"
    );
    assert_eq!(claims["sub"], "user-1");
    assert_eq!(claims["aud"], json!([client_id]));
    assert_eq!(claims["nonce"], "nonce-456");
    let digest = Sha256::digest(access_token.as_bytes());
    assert_eq!(claims["at_hash"], URL_SAFE_NO_PAD.encode(&digest[..16]));
    assert!(
        uuid::Uuid::parse_str(claims["sid"].as_str().unwrap()).is_ok(),
        "{claims}"
    );
    let (iat, exp, auth_time) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
        claims["auth_time"].as_i64().unwrap(),
    );
    assert!((iat - before).abs() <= 60 && exp == iat + 3600, "{claims}");
    assert!(auth_time <= iat && iat - auth_time <= 60, "{claims}");
    assert_eq!(claims["email"], "ada@example.com");
    assert!(claims["jti"].is_string());

    let res = userinfo(&app, access_token).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"sub": "user-1", "email": "ada@example.com"})
    );
    assert_only_hashes_are_stored(&app, access_token).await;
}

/// The token table holds a keyed hash, never the bearer value (design: secrets at rest).
async fn assert_only_hashes_are_stored(app: &TestApp, access_token: &str) {
    #[derive(diesel::QueryableByName)]
    struct Stored {
        #[diesel(sql_type = diesel::sql_types::Text)]
        token_hash: String,
    }
    let dsn = service_kit::db::Dsn::parse(&app.db.dsn).unwrap();
    let db = service_kit::db::Db::connect(&dsn, &Default::default()).unwrap();
    let rows: Vec<Stored> = db
        .read(|c| {
            use diesel::RunQueryDsl;
            diesel::sql_query("SELECT token_hash FROM oauth2_access_tokens")
                .load(c)
                .map_err(service_kit::db::DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].token_hash.contains(access_token) && !rows[0].token_hash.starts_with("oly_"));
}

/// TK-05, ID-11: a public client (`none` + PKCE) redeems with its client_id in the body; the
/// token works at userinfo by GET, POST header and POST body; the query form is not accepted.
#[tokio::test]
async fn token_public_client_exchanges_a_code_with_pkce() {
    let app = flow_app().await;
    let client_id = app.public_client().await;
    let code = obtain_code(&app, &client_id, &[("redirect_uri", Some(PUBLIC_REDIRECT))]).await;
    let res = redeem(&app, &Auth::Public(&client_id), &code, PUBLIC_REDIRECT).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let access_token = body["access_token"].as_str().unwrap();
    assert!(body["id_token"].is_string());

    let url = format!("{}/userinfo", app.public);
    let by_header = app
        .http
        .post(&url)
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(by_header.status(), 200);
    let by_body = app
        .http
        .post(&url)
        .form(&[("access_token", access_token)])
        .send()
        .await
        .unwrap();
    assert_eq!(by_body.status(), 200);
    assert_eq!(by_body.json::<Value>().await.unwrap()["sub"], "user-1");
    let both = app
        .http
        .post(&url)
        .bearer_auth(access_token)
        .form(&[("access_token", access_token)])
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), 400);
    let by_query = app
        .http
        .get(format!("{url}?access_token={access_token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), 401);
}

/// TK-01: a replayed code fails, at once and 30 s later, and revokes what the first redemption
/// issued: the access token (userinfo 401, introspection inactive) and the refresh token.
#[tokio::test]
async fn tk_01_replayed_codes_are_refused_and_revoke_their_tokens() {
    let app = flow_app().await;
    let (client_id, secret) = app.confidential_client().await;
    let auth = Auth::Basic(&client_id, &secret);
    let code = obtain_code(&app, &client_id, refresh::OFFLINE).await;
    let first: Value = redeem(&app, &auth, &code, REDIRECT)
        .await
        .json()
        .await
        .unwrap();
    let access_token = first["access_token"].as_str().unwrap();
    let refresh_token = first["refresh_token"].as_str().unwrap();
    assert_eq!(userinfo(&app, access_token).await.status(), 200);
    assert_eq!(
        refresh::introspect(&app, access_token).await["active"],
        true
    );

    let replay = redeem(&app, &auth, &code, REDIRECT).await;
    assert_oauth_error(replay, 400, "invalid_grant", &[&code, &secret]).await;
    let res = userinfo(&app, access_token).await;
    assert_eq!(res.status(), 401);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    assert_eq!(
        refresh::introspect(&app, access_token).await,
        json!({"active": false})
    );
    let res = refresh::refresh(&app, &auth, refresh_token).await;
    assert_oauth_error(res, 400, "invalid_grant", &[refresh_token]).await;
    app.clock.advance(std::time::Duration::from_secs(30));
    let again = redeem(&app, &auth, &code, REDIRECT).await;
    assert_oauth_error(again, 400, "invalid_grant", &[&code]).await;
}

/// TK-02: 20 parallel redemptions of one code: exactly one 200, the others `invalid_grant`,
/// never a 5xx. The losers count as replays, so the winner's tokens end up revoked too.
/// Runs on PostgreSQL when OLYMPUS_TEST_POSTGRES is set.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tk_02_concurrent_redemptions_have_exactly_one_winner() {
    let app = std::sync::Arc::new(flow_app().await);
    let (client_id, secret) = app.confidential_client().await;
    let code = obtain_code(&app, &client_id, refresh::OFFLINE).await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (app, client_id, secret, code) =
                (app.clone(), client_id.clone(), secret.clone(), code.clone());
            tokio::spawn(async move {
                let res = redeem(&app, &Auth::Basic(&client_id, &secret), &code, REDIRECT).await;
                (res.status().as_u16(), res.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (200, body) => winners.push(body),
            (400, body) => assert_eq!(body["error"], "invalid_grant"),
            (status, body) => panic!("unexpected {status}: {body}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let res = userinfo(&app, winners[0]["access_token"].as_str().unwrap()).await;
    assert_eq!(
        res.status(),
        401,
        "the losers' replays revoke the winner's token"
    );
    let rt = winners[0]["refresh_token"].as_str().unwrap();
    let auth = Auth::Basic(&client_id, &secret);
    assert_oauth_error(
        refresh::refresh(&app, &auth, rt).await,
        400,
        "invalid_grant",
        &[],
    )
    .await;
}
