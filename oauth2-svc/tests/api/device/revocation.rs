//! Revoking a subject's consents ends the device flow's tokens and codes (RT-09 b).

use std::time::Duration;

use serde_json::Value;

use super::{decide, device_auth, device_client, poll, post_form};
use crate::browser::flow_app;
use crate::helpers::TestApp;

async fn revoke_subject(app: &TestApp) {
    let res = app
        .http
        .delete(format!(
            "{}/admin/oauth2/auth/sessions/consent?subject=user-1&all=true",
            app.admin
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
}

/// RT-09 b: revoking every consent of a subject (what a deleted identity causes) also ends the
/// device flow's refresh tokens, and a device code approved but not yet collected.
#[tokio::test]
async fn rt_09_b_revoking_a_subject_ends_device_flow_tokens_and_uncollected_codes() {
    let app = flow_app().await;
    let client = device_client(&app).await;
    let auth = device_auth(&app, &client, "openid offline_access").await;
    decide(&app, &auth, true).await;
    app.clock.advance(Duration::from_secs(6));
    let (status, tokens) = poll(&app, &client, auth["device_code"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{tokens}");
    let waiting = device_auth(&app, &client, "openid offline_access").await;
    decide(&app, &waiting, true).await;

    revoke_subject(&app).await;
    let (status, body) = post_form(
        &app,
        "/oauth2/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", &client.0),
            ("client_secret", &client.1),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    app.clock.advance(Duration::from_secs(6));
    let (status, body) = poll(&app, &client, waiting["device_code"].as_str().unwrap()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "access_denied");
}

/// RT-09 b: a code issued before the subject's consents were revoked cannot start a new chain.
#[tokio::test]
async fn rt_09_b_revoking_a_subject_spends_codes_not_yet_exchanged() {
    let app = flow_app().await;
    let (id, secret) = app.confidential_client().await;
    let scope = [("scope", Some("openid offline_access"))];
    let code = crate::helpers::obtain_code(&app, &id, &scope).await;
    revoke_subject(&app).await;
    let res = crate::token::redeem(
        &app,
        &crate::token::Auth::Basic(&id, &secret),
        &code,
        crate::browser::REDIRECT,
    )
    .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
}
