//! What a settings flow refuses: missing CSRF, another identity, expiry (and the janitor), and
//! malformed or oversized bodies.

use serde_json::{Value, json};

use super::{ADA, MINUTE, NEW_PASSWORD, settings_app, submit_traits};
use crate::browser::{Browser, PASSWORD, form_fields, node};
use crate::flows::{
    api_login, api_token, get_with_token, message_ids, start_api_with_token, submit_with_token,
};
use crate::helpers::{expect_error, settings_for};

#[tokio::test]
async fn browser_flows_need_their_csrf_token_and_cookie() {
    let app = settings_app().await;
    app.create_person_with_password(ADA).await;
    let browser = Browser::new();
    browser.log_in(&app, ADA).await;
    let flow = browser.start_settings(&app).await;
    let action = flow["ui"]["action"].as_str().unwrap();
    let mut fields: Vec<(String, String)> = form_fields(&flow)
        .into_iter()
        .filter(|(n, _)| n != "csrf_token" && n != "method")
        .collect();
    fields.push(("method".into(), "profile".into()));
    fields.push(("traits.name.first".into(), "Mallory".into()));
    let res = browser
        .http
        .post(action)
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_error(res, 403).await["id"],
        "security_csrf_violation"
    );
    fields.push(("csrf_token".into(), "bm90IGEgdG9rZW4".into()));
    let res = browser
        .http
        .post(action)
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_error(res, 403).await["id"],
        "security_csrf_violation"
    );

    // The same identity's session token without the browser's cookie cannot read it either.
    let token = api_token(&app, ADA).await;
    let id = flow["id"].as_str().unwrap();
    let res = get_with_token(
        &app,
        &format!("/self-service/settings/flows?id={id}"),
        &token,
    )
    .await;
    assert_eq!(
        expect_error(res, 403).await["id"],
        "security_csrf_violation"
    );
    let whoami: Value = browser.whoami(&app).await.json().await.unwrap();
    assert_eq!(whoami["identity"]["traits"]["name"]["first"], "Ada");
}

#[tokio::test]
async fn another_identity_cannot_see_or_submit_the_flow() {
    let app = settings_app().await;
    app.create_person_with_password(ADA).await;
    app.create_person_with_password("bob@example.com").await;
    let ada = api_token(&app, ADA).await;
    let bob = api_token(&app, "bob@example.com").await;
    let flow = start_api_with_token(&app, "settings", &ada).await;
    let id = flow["id"].as_str().unwrap();
    let res = get_with_token(&app, &format!("/self-service/settings/flows?id={id}"), &bob).await;
    assert_eq!(
        expect_error(res, 403).await["id"],
        "security_identity_mismatch"
    );
    let res = submit_with_token(
        &app,
        &bob,
        &flow,
        json!({"method": "password", "password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(
        expect_error(res, 403).await["id"],
        "security_identity_mismatch"
    );
    assert_eq!(api_login(&app, ADA, PASSWORD).await.status(), 200);
    let res = get_with_token(
        &app,
        "/self-service/settings/flows?id=0193a1f2-7c44-7d1e-9b2a-5e6f7a8b9c0d",
        &bob,
    )
    .await;
    expect_error(res, 404).await;
    let res = get_with_token(&app, &format!("/self-service/settings/flows?id={id}"), &ada).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn expired_flows_answer_410_and_the_janitor_deletes_them() {
    let app = settings_app().await;
    app.create_person_with_password(ADA).await;
    let token = api_token(&app, ADA).await;
    let flow = start_api_with_token(&app, "settings", &token).await;
    let id = flow["id"].as_str().unwrap();
    app.clock.advance(61 * MINUTE);
    let res = get_with_token(
        &app,
        &format!("/self-service/settings/flows?id={id}"),
        &token,
    )
    .await;
    assert_eq!(
        expect_error(res, 410).await["id"],
        "self_service_flow_expired"
    );
    let traits = json!({"email": ADA, "name": {"first": "Late"}});
    let res = submit_traits(&app, &token, &flow, traits).await;
    assert_eq!(res.status(), 410);
    let body: Value = res.json().await.unwrap();
    let replacement = body["use_flow_id"].as_str().unwrap();
    assert_ne!(replacement, id);
    let res = get_with_token(
        &app,
        &format!("/self-service/settings/flows?id={replacement}"),
        &token,
    )
    .await;
    let fresh: Value = res.json().await.unwrap();
    assert_eq!(message_ids(&fresh), [4050001]);

    app.clock.advance(3 * 60 * MINUTE);
    let mut settings = settings_for(&app.public);
    settings.dsn = app.db.dsn.clone();
    settings.clock = app.clock.clone();
    let report = identity_svc::janitor::run_once(settings).await.unwrap();
    assert_eq!(report.get("selfservice_settings_flows"), 2, "{report}");
}

#[tokio::test]
async fn bad_input_is_refused() {
    let app = settings_app().await;
    app.create_person_with_password(ADA).await;
    let token = api_token(&app, ADA).await;
    let flow = start_api_with_token(&app, "settings", &token).await;
    let action = flow["ui"]["action"].as_str().unwrap();
    let post = |body: &'static str, content_type: &'static str| {
        app.http
            .post(action)
            .header("x-session-token", &token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    expect_error(
        post("{\"method\": \"profile\",", "application/json")
            .await
            .unwrap(),
        400,
    )
    .await;
    expect_error(post("[]", "application/json").await.unwrap(), 400).await;
    expect_error(
        post(
            r#"{"method": "profile", "traits": "x"}"#,
            "application/json",
        )
        .await
        .unwrap(),
        400,
    )
    .await;
    expect_error(
        post(r#"{"method": {"$ne": 1}}"#, "application/json")
            .await
            .unwrap(),
        400,
    )
    .await;
    expect_error(post("method=profile", "text/plain").await.unwrap(), 415).await;

    let res = post(
        r#"{"method": "profile", "traits": {"email": 42}}"#,
        "application/json",
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 400);
    let rejected: Value = res.json().await.unwrap();
    assert_eq!(rejected["state"], "show_form");
    assert!(
        !node(&rejected, "traits.email")["messages"]
            .as_array()
            .unwrap()
            .is_empty()
            || !message_ids(&rejected).is_empty(),
        "{rejected}"
    );
    let res = submit_with_token(&app, &token, &flow, json!({"method": "totp"})).await;
    assert_eq!(res.status(), 400);
    let rejected: Value = res.json().await.unwrap();
    assert_eq!(message_ids(&rejected), [4000001]);
    let res = submit_with_token(&app, &token, &flow, json!({"method": "password"})).await;
    assert_eq!(res.status(), 400);
    let rejected: Value = res.json().await.unwrap();
    assert_eq!(node(&rejected, "password")["messages"][0]["id"], 4000002);

    let huge = format!(
        r#"{{"method": "profile", "traits": {{"email": "{}"}}}}"#,
        "a".repeat(2 << 20)
    );
    let res = app
        .http
        .post(action)
        .header("x-session-token", &token)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert_eq!(api_login(&app, ADA, PASSWORD).await.status(), 200);
}

/// A browser whose session ended meanwhile is sent to sign in again (back to the settings page
/// afterwards); a JSON submission gets 401.
#[tokio::test]
async fn a_form_post_without_a_live_session_goes_to_a_login_flow() {
    let app = settings_app().await;
    app.create_person_with_password(ADA).await;
    let browser = Browser::new();
    browser.log_in(&app, ADA).await;
    let flow = browser.start_settings(&app).await;
    let mut fields = form_fields(&flow);
    fields.retain(|(n, _)| n != "method");
    fields.push(("method".into(), "profile".into()));
    // Past the session lifespan (24h).
    app.clock.advance(25 * 60 * MINUTE);
    assert_eq!(browser.whoami(&app).await.status(), 401);
    let action = flow["ui"]["action"].as_str().unwrap();
    let res = browser
        .http
        .post(action)
        .form(&fields)
        .send()
        .await
        .unwrap();
    super::assert_sent_to_login(&app, &res);
    let body: serde_json::Map<String, Value> = fields
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let res = browser.http.post(action).json(&body).send().await.unwrap();
    assert_eq!(expect_error(res, 401).await["id"], "session_inactive");
}
