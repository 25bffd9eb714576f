//! What the token endpoint and userinfo refuse: client authentication (CA-01, CA-03, CA-06),
//! code checks (TK-03, TK-05, TK-06, TK-09), grant types and request format (TK-10, TK-11),
//! bearer challenges (ID-11).

use std::time::Duration;

use serde_json::{Value, json};

use super::{Auth, PUBLIC_REDIRECT, assert_oauth_error, redeem, token, userinfo};
use crate::browser::{REDIRECT, flow_app};
use crate::helpers::{fresh_database, obtain_code, random_secret, spawn_on};

fn assert_basic_challenge(res: &reqwest::Response) {
    let challenge = res.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Basic realm="), "{challenge}");
}

/// CA-01, CA-03, CA-06: wrong secret, unknown client, a confidential client posing as public,
/// a method other than the registered one and no authentication are all 401 `invalid_client`
/// with the same body; none of them spends the code.
#[tokio::test]
async fn token_client_authentication_failures_are_invalid_client() {
    let app = flow_app().await;
    let (client_id, secret) = app.confidential_client().await;
    let code = obtain_code(&app, &client_id, &[]).await;
    let wrong = format!("{secret}x");
    let attempts = [
        Auth::Basic(&client_id, &wrong),
        Auth::Basic("no-such-client", &secret),
        Auth::Public(&client_id),
        Auth::Post(&client_id, &secret),
        Auth::Public("no-such-client"),
    ];
    let mut bodies = Vec::new();
    for auth in &attempts {
        let res = redeem(&app, auth, &code, REDIRECT).await;
        assert_basic_challenge(&res);
        bodies
            .push(assert_oauth_error(res, 401, "invalid_client", &[&secret, &wrong, &code]).await);
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "one body for every failure: {bodies:?}"
    );
    let garbage = app
        .http
        .post(format!("{}/oauth2/token", app.public))
        .header("authorization", "Basic !!!")
        .form(&[("grant_type", "authorization_code"), ("code", &code)])
        .send()
        .await
        .unwrap();
    assert_basic_challenge(&garbage);
    assert_oauth_error(garbage, 401, "invalid_client", &[]).await;
    let res = redeem(&app, &Auth::Basic(&client_id, &secret), &code, REDIRECT).await;
    assert_eq!(
        res.status(),
        200,
        "failed authentication does not spend the code"
    );
}

/// client_secret_post works for a client registered with it (CA-03).
#[tokio::test]
async fn token_client_secret_post_is_supported_when_registered() {
    let app = flow_app().await;
    let res = app
        .create_client(json!({"redirect_uris": [REDIRECT], "scope": "openid email", "token_endpoint_auth_method": "client_secret_post"}))
        .await;
    let created: Value = res.json().await.unwrap();
    let (id, secret) = (
        created["client_id"].as_str().unwrap(),
        created["client_secret"].as_str().unwrap(),
    );
    let code = obtain_code(&app, id, &[]).await;
    let basic = redeem(&app, &Auth::Basic(id, secret), &code, REDIRECT).await;
    assert_oauth_error(basic, 401, "invalid_client", &[secret]).await;
    assert_eq!(
        redeem(&app, &Auth::Post(id, secret), &code, REDIRECT)
            .await
            .status(),
        200
    );
}

/// Secret rotation is complete: a client secret hashed under an older `secrets.system` value
/// authenticates and is re-hashed under the current one.
#[tokio::test]
async fn token_client_secrets_are_rehashed_after_rotation() {
    let old = random_secret();
    let first = spawn_on(fresh_database(), |s| s.secrets.system = old.clone()).await;
    let (client_id, secret) = first.confidential_client().await;
    first.stop.stop(true).await;
    let rotated = service_kit::settings::SecretList::new(
        random_secret().all().iter().chain(old.all()).cloned(),
    );
    let app = spawn_on(first.db, |s| s.secrets.system = rotated).await;
    let stored_before = stored_secret_hash(&app.db.dsn).await;
    let res = token(
        &app,
        &Auth::Basic(&client_id, &secret),
        &[("grant_type", "client_credentials")],
    )
    .await;
    // Authenticated (not 401), then refused: the client lacks the grant.
    assert_oauth_error(res, 400, "unauthorized_client", &[]).await;
    let stored_after = stored_secret_hash(&app.db.dsn).await;
    assert_ne!(
        stored_before, stored_after,
        "re-hashed under the current secret"
    );
    let res = token(
        &app,
        &Auth::Basic(&client_id, &secret),
        &[("grant_type", "client_credentials")],
    )
    .await;
    // Authenticated (not 401), then refused: the client lacks the grant.
    assert_oauth_error(res, 400, "unauthorized_client", &[]).await;
}

async fn stored_secret_hash(dsn: &str) -> String {
    #[derive(diesel::QueryableByName)]
    struct Stored {
        #[diesel(sql_type = diesel::sql_types::Text)]
        secret_hash: String,
    }
    let db = service_kit::db::Db::connect(
        &service_kit::db::Dsn::parse(dsn).unwrap(),
        &Default::default(),
    )
    .unwrap();
    let rows: Vec<Stored> = db
        .read(|c| {
            use diesel::RunQueryDsl;
            diesel::sql_query("SELECT secret_hash FROM oauth2_clients")
                .load(c)
                .map_err(service_kit::db::DbError::from)
        })
        .await
        .unwrap();
    rows.into_iter().next().unwrap().secret_hash
}

/// TK-05, TK-06, TK-07: a missing or wrong verifier is `invalid_grant`, and the code is spent.
#[tokio::test]
async fn token_pkce_failures_are_invalid_grant_and_spend_the_code() {
    let app = flow_app().await;
    let client_id = app.public_client().await;
    let auth = Auth::Public(&client_id);
    let redirect = ("redirect_uri", Some(PUBLIC_REDIRECT));
    for verifier in [
        None,
        Some("x".repeat(43)),
        Some("short".to_string()),
        Some(crate::browser::CHALLENGE.to_string()),
    ] {
        let code = obtain_code(&app, &client_id, &[redirect]).await;
        let mut params = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", PUBLIC_REDIRECT),
        ];
        if let Some(v) = &verifier {
            params.push(("code_verifier", v));
        }
        assert_oauth_error(
            token(&app, &auth, &params).await,
            400,
            "invalid_grant",
            &[&code],
        )
        .await;
        let retry = redeem(&app, &auth, &code, PUBLIC_REDIRECT).await;
        assert_oauth_error(retry, 400, "invalid_grant", &[]).await;
    }
}

/// TK-03, TK-09 and a code of another client or past `ttl.auth_code`: `invalid_grant`.
#[tokio::test]
async fn token_code_checks_are_invalid_grant() {
    let app = flow_app().await;
    let (client_id, secret) = app.confidential_client().await;
    let (other_id, other_secret) = app.confidential_client().await;
    let auth = Auth::Basic(&client_id, &secret);
    for redirect in ["https://rp.test/cb2", "https://rp.test/cb?x", ""] {
        let code = obtain_code(&app, &client_id, &[]).await;
        assert_oauth_error(
            redeem(&app, &auth, &code, redirect).await,
            400,
            "invalid_grant",
            &[],
        )
        .await;
    }
    let code = obtain_code(&app, &client_id, &[]).await;
    let stolen = redeem(
        &app,
        &Auth::Basic(&other_id, &other_secret),
        &code,
        REDIRECT,
    )
    .await;
    let body = assert_oauth_error(stolen, 400, "invalid_grant", &[&code]).await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("another client"),
        "{body}"
    );
    let code = obtain_code(&app, &client_id, &[]).await;
    let forged = [
        format!("{code}x"),
        code[..code.len() - 1].to_string(),
        "oly_ac_forged".into(),
    ];
    for forged in &forged {
        assert_oauth_error(
            redeem(&app, &auth, forged, REDIRECT).await,
            400,
            "invalid_grant",
            &[forged],
        )
        .await;
    }
    app.clock.advance(Duration::from_secs(11 * 60));
    let body = assert_oauth_error(
        redeem(&app, &auth, &code, REDIRECT).await,
        400,
        "invalid_grant",
        &[],
    )
    .await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );
}

/// TK-10, TK-11: grant types and request format.
#[tokio::test]
async fn token_request_format_and_grant_types() {
    let app = flow_app().await;
    let (client_id, secret) = app.confidential_client().await;
    let auth = Auth::Basic(&client_id, &secret);
    let cc = token(&app, &auth, &[("grant_type", "client_credentials")]).await;
    assert_oauth_error(cc, 400, "unauthorized_client", &[&secret]).await;
    let jwt = token(
        &app,
        &auth,
        &[("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")],
    )
    .await;
    assert_oauth_error(jwt, 400, "unauthorized_client", &[&secret]).await;
    for grant in ["password", "implicit"] {
        let res = token(&app, &auth, &[("grant_type", grant)]).await;
        assert_oauth_error(res, 400, "unsupported_grant_type", &[]).await;
    }
    assert_oauth_error(token(&app, &auth, &[]).await, 400, "invalid_request", &[]).await;
    let code = obtain_code(&app, &client_id, &[]).await;
    let url = format!("{}/oauth2/token", app.public);
    let dup = token(
        &app,
        &auth,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code", "B"),
        ],
    )
    .await;
    assert_oauth_error(dup, 400, "invalid_request", &[&code]).await;
    let json_body =
        json!({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT});
    let as_json = app
        .http
        .post(&url)
        .header("authorization", super::basic(&client_id, &secret))
        .json(&json_body)
        .send()
        .await
        .unwrap();
    assert_oauth_error(as_json, 400, "invalid_request", &[&code]).await;
    let get = app
        .http
        .get(format!("{url}?grant_type=authorization_code&code={code}"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 405);
    assert_eq!(
        redeem(&app, &auth, &code, REDIRECT).await.status(),
        200,
        "none of these spent the code"
    );
}

/// ID-11: no token is a bare `Bearer` challenge; a bad token is `invalid_token`; a token
/// without `openid` is 403 `insufficient_scope`.
#[tokio::test]
async fn token_userinfo_refuses_missing_bad_and_non_openid_tokens() {
    let app = flow_app().await;
    let res = app
        .http
        .get(format!("{}/userinfo", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.starts_with("Bearer") && !challenge.contains("error="),
        "{challenge}"
    );
    assert_eq!(res.headers()["cache-control"], "no-store");
    for garbage in ["garbage", "oly_at_0000000000000000000000000000000000000000"] {
        let res = userinfo(&app, garbage).await;
        assert_eq!(res.status(), 401);
        let challenge = res.headers()["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.starts_with("Bearer") && challenge.contains("error=\"invalid_token\""),
            "{challenge}"
        );
        assert_oauth_error(res, 401, "invalid_token", &[garbage]).await;
    }
    let (client_id, secret) = app.confidential_client().await;
    let code = obtain_code(&app, &client_id, &[("scope", Some("email"))]).await;
    let body: Value = redeem(&app, &Auth::Basic(&client_id, &secret), &code, REDIRECT)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        body.get("id_token").is_none(),
        "no openid, no ID token: {body}"
    );
    let res = userinfo(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(res.status(), 403);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"insufficient_scope\"")
    );
    app.clock.advance(Duration::from_secs(3601));
    let code_token = body["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&app, code_token).await.status(), 401, "expired");
}
