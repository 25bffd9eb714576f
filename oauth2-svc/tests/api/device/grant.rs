//! The device grant at the token endpoint: tokens once after the user's decision, polling
//! speed, expiry, denial and the grant's restrictions.

use std::time::Duration;

use serde_json::{Value, json};

use super::{
    DONE_UI, accept_user_code, decide, device_auth, device_client, open_challenge, poll, post_form,
};
use crate::browser::{browser, flow_app};

/// TK-01 (single use): pending while the user decides, then tokens exactly once.
#[tokio::test]
async fn device_flow_issues_tokens_once_after_login_and_consent() {
    let app = flow_app().await;
    let client = device_client(&app).await;
    let auth = device_auth(&app, &client, "openid offline_access email").await;
    let user_code = auth["user_code"].as_str().unwrap();
    assert!(auth["device_code"].as_str().unwrap().starts_with("oly_dc_"));
    assert_eq!(user_code.len(), 9);
    assert!(
        user_code
            .chars()
            .all(|c| c == '-' || "BCDFGHJKLMNPQRSTVWXZ".contains(c))
    );
    assert_eq!(
        auth["verification_uri"],
        format!("{}/oauth2/device/verify", app.public)
    );
    assert_eq!(auth["expires_in"], 600);
    assert_eq!(auth["interval"], 5);
    let device_code = auth["device_code"].as_str().unwrap();

    let (status, body) = poll(&app, &client, device_code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("authorization_pending"))
    );

    let done = decide(&app, &auth, true).await;
    assert_eq!(done, DONE_UI);
    app.clock.advance(Duration::from_secs(6));
    let (status, tokens) = poll(&app, &client, device_code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "bearer");
    assert_eq!(tokens["scope"], "openid offline_access email");
    assert!(tokens["id_token"].is_string());
    assert!(
        tokens["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("oly_rt_")
    );
    let userinfo: Value = app
        .http
        .get(format!("{}/userinfo", app.public))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        userinfo,
        json!({"sub": "user-1", "email": "ada@example.com"})
    );

    app.clock.advance(Duration::from_secs(6));
    let (status, again) = poll(&app, &client, device_code).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

/// RFC 8628 §3.5: polling faster than the interval is slow_down, and the interval grows by 5s.
#[tokio::test]
async fn device_polling_too_fast_is_slow_down_and_lengthens_the_interval() {
    let app = flow_app().await;
    let client = device_client(&app).await;
    let auth = device_auth(&app, &client, "openid").await;
    let code = auth["device_code"].as_str().unwrap();
    assert_eq!(
        poll(&app, &client, code).await.1["error"],
        "authorization_pending"
    );
    assert_eq!(poll(&app, &client, code).await.1["error"], "slow_down");
    // The interval is 10s now: 6s later is still too soon (and it grows to 15s).
    app.clock.advance(Duration::from_secs(6));
    assert_eq!(poll(&app, &client, code).await.1["error"], "slow_down");
    app.clock.advance(Duration::from_secs(16));
    assert_eq!(
        poll(&app, &client, code).await.1["error"],
        "authorization_pending"
    );
}

#[tokio::test]
async fn device_code_after_its_lifetime_is_expired_token() {
    let app = flow_app().await;
    let client = device_client(&app).await;
    let auth = device_auth(&app, &client, "openid").await;
    app.clock.advance(Duration::from_secs(601));
    let (status, body) = poll(&app, &client, auth["device_code"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("expired_token"))
    );
    // Its user code cannot be entered any more either.
    let challenge = open_challenge(&browser(), &auth).await;
    let res = accept_user_code(&app, &challenge, auth["user_code"].as_str().unwrap()).await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn device_denied_by_the_user_is_access_denied() {
    let app = flow_app().await;
    let client = device_client(&app).await;
    let auth = device_auth(&app, &client, "openid").await;
    let done = decide(&app, &auth, false).await;
    assert!(
        done.starts_with(&format!("{DONE_UI}?error=access_denied")),
        "{done}"
    );
    app.clock.advance(Duration::from_secs(6));
    let (status, body) = poll(&app, &client, auth["device_code"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("access_denied"))
    );
}

/// TK-10: a client without the device grant, an unknown scope, a wrong secret, another
/// client's device code.
#[tokio::test]
async fn device_grant_restrictions() {
    let app = flow_app().await;
    let (web, web_secret) = app.confidential_client().await;
    let res = app
        .http
        .post(format!("{}/oauth2/device/auth", app.public))
        .basic_auth(&web, Some(&web_secret))
        .form(&[("scope", "openid")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );
    let client = device_client(&app).await;
    let (status, body) = post_form(
        &app,
        "/oauth2/device/auth",
        &[
            ("client_id", &client.0),
            ("client_secret", &client.1),
            ("scope", "openid admin"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    let (status, body) = post_form(
        &app,
        "/oauth2/device/auth",
        &[
            ("client_id", &client.0),
            ("client_secret", "wrong-secret-wrong-secret-wrong-secret"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let auth = device_auth(&app, &client, "openid").await;
    let other = device_client(&app).await;
    let (status, body) = poll(&app, &other, auth["device_code"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}
