//! What the token endpoint and userinfo refuse: code checks (TK-03 and a code of another client
//! or past its TTL), grant types (TK-10), request format (TK-11), bearer challenges (ID-11).
//! Client authentication (CA-*) is in `client_auth.rs`, PKCE and forged codes in `codes.rs`.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Auth, assert_oauth_error, redeem, token, userinfo};
use crate::browser::{REDIRECT, VERIFIER, flow_app};
use crate::handoff::client_with;
use crate::helpers::obtain_code;

/// TK-03: a code issued for …/cb redeemed with …/cb2 (also registered), with …/cb?x or without
/// a redirect_uri is `invalid_grant`, and the attempt spends the code.
#[tokio::test]
async fn tk_03_the_redirect_uri_is_bound_to_the_code() {
    let app = flow_app().await;
    let (client_id, secret) = client_with(
        &app,
        json!({"redirect_uris": [REDIRECT, "https://rp.test/cb2"]}),
    )
    .await;
    let auth = Auth::Basic(&client_id, &secret);
    for redirect in [
        Some("https://rp.test/cb2"),
        Some("https://rp.test/cb?x"),
        None,
    ] {
        let code = obtain_code(&app, &client_id, &[]).await;
        let mut params = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", VERIFIER),
        ];
        params.extend(redirect.map(|r| ("redirect_uri", r)));
        let res = token(&app, &auth, &params).await;
        let body = assert_oauth_error(res, 400, "invalid_grant", &[&code]).await;
        let says = body["error_description"].as_str().unwrap();
        assert!(says.contains("redirect_uri"), "{redirect:?}: {says}");
        let retry = redeem(&app, &auth, &code, REDIRECT).await;
        assert_oauth_error(retry, 400, "invalid_grant", &[]).await;
    }
}

/// A code of another client, or past `ttl.auth_code`: `invalid_grant`.
#[tokio::test]
async fn token_codes_of_another_client_or_past_their_ttl_are_invalid_grant() {
    let app = flow_app().await;
    let (client_id, secret) = app.confidential_client().await;
    let (other_id, other_secret) = app.confidential_client().await;
    let auth = Auth::Basic(&client_id, &secret);
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

/// TK-10: the password and implicit grants do not exist (`unsupported_grant_type`);
/// client_credentials and jwt-bearer are not registered for C1 (`unauthorized_client`); no
/// grant_type is `invalid_request`. No tokens in any answer.
#[tokio::test]
async fn tk_10_unregistered_and_unsupported_grants_give_no_tokens() {
    let app = flow_app().await;
    let (client_id, secret) = app.confidential_client().await;
    let auth = Auth::Basic(&client_id, &secret);
    let attempts: [(&[(&str, &str)], &str); 5] = [
        (
            &[
                ("grant_type", "password"),
                ("username", "alice@example.com"),
                ("password", "correct horse battery staple"),
            ],
            "unsupported_grant_type",
        ),
        (&[("grant_type", "implicit")], "unsupported_grant_type"),
        (
            &[("grant_type", "client_credentials")],
            "unauthorized_client",
        ),
        (
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", "a.b.c"),
            ],
            "unauthorized_client",
        ),
        (&[("scope", "openid")], "invalid_request"),
    ];
    for (params, error) in attempts {
        let res = token(&app, &auth, params).await;
        let body = assert_oauth_error(res, 400, error, &[&secret, "correct horse"]).await;
        assert!(
            body.get("access_token").is_none() && body.get("id_token").is_none(),
            "{body}"
        );
    }
}

/// TK-11: GET is 405 and does not spend the code; a JSON body and a repeated `code` or
/// `grant_type` are `invalid_request`. (Plain http: tests run in dev mode on loopback, where
/// http is allowed; outside dev and loopback the service refuses to start with an http issuer,
/// see `startup.rs`.)
#[tokio::test]
async fn tk_11_get_json_and_repeated_parameters_are_refused() {
    let app = flow_app().await;
    let (client_id, secret) = app.confidential_client().await;
    let auth = Auth::Basic(&client_id, &secret);
    let code = obtain_code(&app, &client_id, &[]).await;
    let url = format!("{}/oauth2/token", app.public);
    let get = app
        .http
        .get(format!(
            "{url}?grant_type=authorization_code&code={code}&redirect_uri={REDIRECT}&code_verifier={VERIFIER}"
        ))
        .header("authorization", super::basic(&client_id, &secret))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 405);
    for repeated in [("code", "B"), ("grant_type", "authorization_code")] {
        let params = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            repeated,
        ];
        let res = token(&app, &auth, &params).await;
        let body = assert_oauth_error(res, 400, "invalid_request", &[&code]).await;
        let says = body["error_description"].as_str().unwrap();
        assert!(says.contains(&format!("'{}'", repeated.0)), "{says}");
    }
    let json_body = json!({"grant_type": "authorization_code", "code": code,
        "redirect_uri": REDIRECT, "code_verifier": VERIFIER});
    let as_json = app
        .http
        .post(&url)
        .header("authorization", super::basic(&client_id, &secret))
        .json(&json_body)
        .send()
        .await
        .unwrap();
    assert_oauth_error(as_json, 400, "invalid_request", &[&code]).await;
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
