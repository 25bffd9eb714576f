//! The settings flow (methods `profile` and `password`): browser (form and JSON) and API
//! variants, the privileged-session rule on the test clock, CSRF and identity binding, expiry,
//! bad input, the janitor, and verification mails for new addresses (also after registration).

use std::time::Duration;

use serde_json::{Value, json};

use crate::browser::{Browser, PASSWORD, form_fields, node};
use crate::courier::{SETTINGS_UI, mail_app};
use crate::helpers::{LOGIN_UI, TestApp, expect_error, fresh_database, settings_for, spawn_on};
use crate::smtp_sink::SmtpSink;

const ADA: &str = "ada@example.com";
const NEW_PASSWORD: &str = "a brand new horse staple";
const MINUTE: Duration = Duration::from_secs(60);

/// A dev-mode app with the settings page at [`SETTINGS_UI`] and a 5-minute privileged window.
async fn settings_app() -> TestApp {
    spawn_on(fresh_database(), |s| {
        s.dev = true;
        s.janitor.interval = Duration::ZERO;
        let settings = &mut s.selfservice.flows.settings;
        settings.ui_url = Some(SETTINGS_UI.into());
        settings.privileged_session_max_age = 5 * MINUTE;
    })
    .await
}

impl Browser {
    /// Starts a browser settings flow as an SPA would (JSON) and returns the flow.
    async fn start_settings(&self, app: &TestApp) -> Value {
        let res = self
            .http
            .get(format!("{}/self-service/settings/browser", app.public))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    async fn fetch_settings(&self, app: &TestApp, id: &str) -> reqwest::Response {
        self.http
            .get(format!(
                "{}/self-service/settings/flows?id={id}",
                app.public
            ))
            .send()
            .await
            .unwrap()
    }
}

/// An API login: the session token.
async fn api_login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    let flow: Value = app
        .http
        .get(format!("{}/self-service/login/api", app.public))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    app.http
        .post(flow["ui"]["action"].as_str().unwrap())
        .json(&json!({"method": "password", "identifier": email, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn api_token(app: &TestApp, email: &str) -> String {
    let res = api_login(app, email, PASSWORD).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["session_token"].as_str().unwrap().to_string()
}

async fn start_api(app: &TestApp, token: &str) -> Value {
    let res = app
        .http
        .get(format!("{}/self-service/settings/api", app.public))
        .header("x-session-token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn submit_api(app: &TestApp, token: &str, flow: &Value, body: Value) -> reqwest::Response {
    app.http
        .post(flow["ui"]["action"].as_str().unwrap())
        .header("x-session-token", token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn message_ids(flow: &Value) -> Vec<i64> {
    flow["ui"]["messages"]
        .as_array()
        .map(|m| m.iter().map(|t| t["id"].as_i64().unwrap()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_browser_form_changes_the_profile() {
    let app = settings_app().await;
    app.create_person_with_password(ADA).await;
    let browser = Browser::new();
    browser.log_in(&app, ADA).await;
    let res = browser
        .http
        .get(format!("{}/self-service/settings/browser", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("{SETTINGS_UI}?flow=")),
        "{location}"
    );
    let id = location.split("flow=").nth(1).unwrap().to_string();
    let res = browser.fetch_settings(&app, &id).await;
    assert_eq!(res.status(), 200);
    let flow: Value = res.json().await.unwrap();
    assert_eq!(flow["type"], "browser");
    assert_eq!(flow["state"], "show_form");
    assert_eq!(flow["identity"]["traits"]["email"], ADA);
    assert_eq!(node(&flow, "traits.email")["group"], "profile");
    assert_eq!(node(&flow, "traits.email")["attributes"]["value"], ADA);
    assert_eq!(node(&flow, "password")["group"], "password");
    assert!(node(&flow, "password")["attributes"].get("value").is_none());
    assert_eq!(node(&flow, "csrf_token")["group"], "default");

    let res = browser
        .submit(
            &flow,
            &[("method", "profile"), ("traits.name.first", "Augusta")],
            false,
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], location.as_str());
    let flow: Value = browser
        .fetch_settings(&app, &id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(flow["state"], "success");
    assert_eq!(flow["active"], "profile");
    assert_eq!(message_ids(&flow), [1050001]);
    assert_eq!(flow["identity"]["traits"]["name"]["first"], "Augusta");
    assert_eq!(flow["identity"]["traits"]["email"], ADA);
    let whoami: Value = browser.whoami(&app).await.json().await.unwrap();
    assert_eq!(whoami["identity"]["traits"]["name"]["first"], "Augusta");
}

#[tokio::test]
async fn settings_need_a_session() {
    let app = settings_app().await;
    let res = app
        .http
        .get(format!("{}/self-service/settings/browser", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], LOGIN_UI);
    let res = app
        .http
        .get(format!("{}/self-service/settings/browser", app.public))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(expect_error(res, 401).await["id"], "session_inactive");
    let res = app
        .http
        .get(format!("{}/self-service/settings/api", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_error(res, 401).await["id"], "session_inactive");
    let res = app
        .http
        .get(format!(
            "{}/self-service/settings/flows?id=0193a1f2-7c44-7d1e-9b2a-5e6f7a8b9c0d",
            app.public
        ))
        .send()
        .await
        .unwrap();
    expect_error(res, 401).await;
}

#[tokio::test]
async fn a_new_password_replaces_the_old_one() {
    let app = settings_app().await;
    app.create_person_with_password(ADA).await;
    let browser = Browser::new();
    let other = api_token(&app, ADA).await;
    browser.log_in(&app, ADA).await;
    let flow = browser.start_settings(&app).await;

    let res = browser
        .submit(
            &flow,
            &[("method", "password"), ("password", "short")],
            true,
        )
        .await;
    assert_eq!(res.status(), 400);
    let rejected: Value = res.json().await.unwrap();
    assert_eq!(rejected["state"], "show_form");
    let messages = &node(&rejected, "password")["messages"];
    assert_eq!(messages[0]["id"], 4000032, "{rejected}");

    let res = browser
        .submit(
            &flow,
            &[("method", "password"), ("password", NEW_PASSWORD)],
            true,
        )
        .await;
    assert_eq!(res.status(), 200);
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["state"], "success");
    assert_eq!(done["active"], "password");
    assert_eq!(message_ids(&done), [1050001]);

    assert_eq!(api_login(&app, ADA, PASSWORD).await.status(), 400);
    assert_eq!(api_login(&app, ADA, NEW_PASSWORD).await.status(), 200);
    // Kratos keeps the other sessions unless `revoke_active_sessions` is configured.
    let res = app
        .http
        .get(format!("{}/sessions/whoami", app.public))
        .header("x-session-token", &other)
        .send()
        .await
        .unwrap();
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
    let flow = start_api(&app, &token).await;
    let res = submit_api(
        &app,
        &token,
        &flow,
        json!({"method": "password", "password": NEW_PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), 200);
    for (who, status) in [(&other, 401), (&token, 200)] {
        let res = app
            .http
            .get(format!("{}/sessions/whoami", app.public))
            .header("x-session-token", who)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status);
    }
}

#[tokio::test]
async fn an_api_flow_changes_the_email_and_unverifies_the_address() {
    let app = settings_app().await;
    let person = app.create_person_with_password(ADA).await;
    let id = person["id"].as_str().unwrap();
    let res = app
        .http
        .patch(format!("{}/admin/identities/{id}", app.admin))
        .json(&json!([
            {"op": "replace", "path": "/verifiable_addresses/0/verified", "value": true},
            {"op": "replace", "path": "/verifiable_addresses/0/status", "value": "completed"}
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let token = api_token(&app, ADA).await;
    let flow = start_api(&app, &token).await;
    assert_eq!(flow["type"], "api");
    assert!(
        !flow["ui"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["attributes"]["name"] == "csrf_token")
    );
    let traits = json!({"email": "lovelace@example.com", "name": {"first": "Ada"}});
    let res = submit_api(
        &app,
        &token,
        &flow,
        json!({"method": "profile", "traits": traits}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["state"], "success");
    let address = &done["identity"]["verifiable_addresses"][0];
    assert_eq!(address["value"], "lovelace@example.com");
    assert_eq!(address["verified"], false);
    assert_eq!(address["status"], "pending");
    assert_eq!(
        done["identity"]["recovery_addresses"][0]["value"],
        "lovelace@example.com"
    );
    assert_eq!(app.identities_with("lovelace@example.com").await.len(), 1);
    assert!(app.identities_with(ADA).await.is_empty());
    assert_eq!(
        api_login(&app, "lovelace@example.com", PASSWORD)
            .await
            .status(),
        200
    );

    // A taken address is refused on the form, and nothing changes.
    app.create_person_with_password("bob@example.com").await;
    let flow = start_api(&app, &token).await;
    let traits = json!({"email": "bob@example.com"});
    let res = submit_api(
        &app,
        &token,
        &flow,
        json!({"method": "profile", "traits": traits}),
    )
    .await;
    assert_eq!(res.status(), 400);
    let rejected: Value = res.json().await.unwrap();
    assert_eq!(message_ids(&rejected), [4000007]);
    assert_eq!(
        node(&rejected, "traits.email")["attributes"]["value"],
        "bob@example.com"
    );
    assert_eq!(
        rejected["identity"]["traits"]["email"],
        "lovelace@example.com"
    );
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

    let res = browser
        .submit(
            &flow,
            &[("method", "password"), ("password", NEW_PASSWORD)],
            false,
        )
        .await;
    assert_eq!(res.status(), 303);
    let location = reqwest::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(location.path(), "/self-service/login/browser");
    let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(query["refresh"], "true");
    assert_eq!(query["return_to"], SETTINGS_UI);

    let res = browser
        .submit(
            &flow,
            &[("method", "password"), ("password", NEW_PASSWORD)],
            true,
        )
        .await;
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
    let res = browser
        .submit(
            &flow,
            &[("method", "password"), ("password", NEW_PASSWORD)],
            true,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(api_login(&app, ADA, NEW_PASSWORD).await.status(), 200);

    // An API session too: 403 naming the browser login.
    let res = api_login(&app, ADA, NEW_PASSWORD).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let token = body["session_token"].as_str().unwrap().to_string();
    let flow = start_api(&app, &token).await;
    app.clock.advance(6 * MINUTE);
    let res = submit_api(
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
    let res = app
        .http
        .get(format!(
            "{}/self-service/settings/flows?id={id}",
            app.public
        ))
        .header("x-session-token", &token)
        .send()
        .await
        .unwrap();
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
    let flow = start_api(&app, &ada).await;
    let id = flow["id"].as_str().unwrap();
    let res = app
        .http
        .get(format!(
            "{}/self-service/settings/flows?id={id}",
            app.public
        ))
        .header("x-session-token", &bob)
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_error(res, 403).await["id"],
        "security_identity_mismatch"
    );
    let res = submit_api(
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
    let res = app
        .http
        .get(format!(
            "{}/self-service/settings/flows?id=0193a1f2-7c44-7d1e-9b2a-5e6f7a8b9c0d",
            app.public
        ))
        .header("x-session-token", &bob)
        .send()
        .await
        .unwrap();
    expect_error(res, 404).await;
    let res = app
        .http
        .get(format!(
            "{}/self-service/settings/flows?id={id}",
            app.public
        ))
        .header("x-session-token", &ada)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn expired_flows_answer_410_and_the_janitor_deletes_them() {
    let app = settings_app().await;
    app.create_person_with_password(ADA).await;
    let token = api_token(&app, ADA).await;
    let flow = start_api(&app, &token).await;
    let id = flow["id"].as_str().unwrap();
    app.clock.advance(61 * MINUTE);
    let res = app
        .http
        .get(format!(
            "{}/self-service/settings/flows?id={id}",
            app.public
        ))
        .header("x-session-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_error(res, 410).await["id"],
        "self_service_flow_expired"
    );
    let traits = json!({"email": ADA, "name": {"first": "Late"}});
    let res = submit_api(
        &app,
        &token,
        &flow,
        json!({"method": "profile", "traits": traits}),
    )
    .await;
    assert_eq!(res.status(), 410);
    let body: Value = res.json().await.unwrap();
    let replacement = body["use_flow_id"].as_str().unwrap();
    assert_ne!(replacement, id);
    let res = app
        .http
        .get(format!(
            "{}/self-service/settings/flows?id={replacement}",
            app.public
        ))
        .header("x-session-token", &token)
        .send()
        .await
        .unwrap();
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
    let flow = start_api(&app, &token).await;
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
    let res = submit_api(&app, &token, &flow, json!({"method": "totp"})).await;
    assert_eq!(res.status(), 400);
    let rejected: Value = res.json().await.unwrap();
    assert_eq!(message_ids(&rejected), [4000001]);
    let res = submit_api(&app, &token, &flow, json!({"method": "password"})).await;
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

#[tokio::test]
async fn new_addresses_get_a_verification_code_by_mail() {
    let sink = SmtpSink::start().await;
    let app = mail_app(&sink).await;
    let browser = Browser::new();
    let flow = browser.start_registration(&app, "").await;
    let res = browser
        .submit(
            &flow,
            &[
                ("traits.email", ADA),
                ("traits.name.first", "Ada"),
                ("password", PASSWORD),
            ],
            false,
        )
        .await;
    assert_eq!(res.status(), 303);
    let code = sink.code_for(ADA, 1).await;
    assert_eq!(code.len(), 6);
    assert!(code.chars().all(|c| c.is_ascii_digit()));
    let messages: Vec<Value> = app
        .get("/admin/courier/messages")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["template_type"], "verification_code_valid");

    // A changed address in settings gets one too, and the flow says where to enter it.
    let token = api_token(&app, ADA).await;
    let flow = start_api(&app, &token).await;
    let traits = json!({"email": "lovelace@example.com"});
    let res = submit_api(
        &app,
        &token,
        &flow,
        json!({"method": "profile", "traits": traits}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["continue_with"][0]["action"], "show_verification_ui");
    assert_eq!(
        done["continue_with"][0]["flow"]["verifiable_address"],
        "lovelace@example.com"
    );
    let code = sink.code_for("lovelace@example.com", 1).await;
    assert_eq!(code.len(), 6);
    // The code verifies the address in the flow named.
    let verification = done["continue_with"][0]["flow"]["id"].as_str().unwrap();
    let res = app
        .http
        .post(format!(
            "{}/self-service/verification?flow={verification}",
            app.public
        ))
        .json(&json!({"method": "code", "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let identity = &app.identities_with("lovelace@example.com").await[0];
    assert_eq!(identity["verifiable_addresses"][0]["verified"], true);
}
