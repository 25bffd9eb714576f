//! Changing the password, what it does to other sessions, and the privileged-session rule for
//! sensitive changes.

use serde_json::{Value, json};

use super::{ADA, MINUTE, NEW_PASSWORD, settings_app, submit_password};
use crate::browser::{Browser, PASSWORD, node};
use crate::courier::SETTINGS_UI;
use crate::flows::{
    api_login, api_token, get_with_token, message_ids, start_api_with_token, submit_with_token,
};
use crate::helpers::{expect_error, fresh_database, spawn_on};

#[tokio::test]
async fn a_new_password_replaces_the_old_one() {
    let app = settings_app().await;
    app.create_person_with_password(ADA).await;
    let browser = Browser::new();
    let other = api_token(&app, ADA).await;
    browser.log_in(&app, ADA).await;
    let flow = browser.start_settings(&app).await;

    let res = submit_password(&browser, &flow, "short", true).await;
    assert_eq!(res.status(), 400);
    let rejected: Value = res.json().await.unwrap();
    assert_eq!(rejected["state"], "show_form");
    let messages = &node(&rejected, "password")["messages"];
    assert_eq!(messages[0]["id"], 4000032, "{rejected}");

    let res = submit_password(&browser, &flow, NEW_PASSWORD, true).await;
    assert_eq!(res.status(), 200);
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["state"], "success");
    assert_eq!(done["active"], "password");
    assert_eq!(message_ids(&done), [1050001]);

    assert_eq!(api_login(&app, ADA, PASSWORD).await.status(), 400);
    assert_eq!(api_login(&app, ADA, NEW_PASSWORD).await.status(), 200);
    // Kratos keeps the other sessions unless `revoke_active_sessions` is configured.
    let res = get_with_token(&app, "/sessions/whoami", &other).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn revoke_active_sessions_ends_the_other_sessions_after_a_password_change() {
    let app = spawn_on(fresh_database(), |s| {
        s.dev = true;
        s.selfservice.flows.settings.after.password.hooks =
            vec![serde_json::from_value(json!({"hook": "revoke_active_sessions"})).unwrap()];
    })
    .await;
    app.create_person_with_password(ADA).await;
    let other = api_token(&app, ADA).await;
    let token = api_token(&app, ADA).await;
    let flow = start_api_with_token(&app, "settings", &token).await;
    let res = submit_with_token(
        &app,
        &token,
        &flow,
        json!({"method": "password", "password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), 200);
    for (who, status) in [(&other, 401), (&token, 200)] {
        let res = get_with_token(&app, "/sessions/whoami", who).await;
        assert_eq!(res.status(), status);
    }
}

#[tokio::test]
async fn sensitive_changes_need_a_recent_sign_in() {
    let app = settings_app().await;
    app.create_person_with_password(ADA).await;
    let browser = Browser::new();
    browser.log_in(&app, ADA).await;
    let flow = browser.start_settings(&app).await;
    let id = flow["id"].as_str().unwrap().to_string();
    app.clock.advance(6 * MINUTE);

    let res = submit_password(&browser, &flow, NEW_PASSWORD, false).await;
    assert_eq!(res.status(), 303);
    let location = reqwest::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(location.path(), "/self-service/login/browser");
    let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(query["refresh"], "true");
    assert_eq!(query["return_to"], SETTINGS_UI);

    let res = submit_password(&browser, &flow, NEW_PASSWORD, true).await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["id"], "session_refresh_required");
    assert_eq!(body["redirect_browser_to"], location.as_str());
    let res = browser
        .submit(
            &flow,
            &[("method", "profile"), ("traits.email", "new@example.com")],
            true,
        )
        .await;
    assert_eq!(
        expect_error(res, 403).await["id"],
        "session_refresh_required"
    );
    // Other traits need no recent sign-in.
    let res = browser
        .submit(
            &flow,
            &[("method", "profile"), ("traits.name.first", "Augusta")],
            true,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        api_login(&app, ADA, PASSWORD).await.status(),
        200,
        "unchanged"
    );

    // Signing in again (the return_to is allowed: it is the configured settings page).
    let login = browser
        .start_login(
            &app,
            &format!("?refresh=true&return_to={}", query["return_to"]),
        )
        .await;
    let res = browser
        .submit(
            &login,
            &[("identifier", ADA), ("password", PASSWORD)],
            false,
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], query["return_to"].as_str());
    // The old flow was bound to the CSRF cookie that signing in renewed; the page starts anew.
    let stale = browser.fetch_settings(&app, &id).await;
    assert_eq!(
        expect_error(stale, 403).await["id"],
        "security_csrf_violation"
    );
    let flow = browser.start_settings(&app).await;
    let res = submit_password(&browser, &flow, NEW_PASSWORD, true).await;
    assert_eq!(res.status(), 200);
    assert_eq!(api_login(&app, ADA, NEW_PASSWORD).await.status(), 200);

    // An API session too: 403 naming the browser login.
    let res = api_login(&app, ADA, NEW_PASSWORD).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let token = body["session_token"].as_str().unwrap().to_string();
    let flow = start_api_with_token(&app, "settings", &token).await;
    app.clock.advance(6 * MINUTE);
    let res = submit_with_token(
        &app,
        &token,
        &flow,
        json!({"method": "password", "password": PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["id"], "session_refresh_required");
    assert!(
        body["redirect_browser_to"]
            .as_str()
            .unwrap()
            .contains("refresh=true")
    );
}
