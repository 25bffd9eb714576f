//! Steps the second-factor tests share: an app with TOTP and recovery codes on, enrolment
//! through the settings flow (as an app with a session token, or in a browser), codes computed
//! from the secret the flow shows, and the aal2 (step-up) login flow.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::courier::SETTINGS_UI;
use crate::flows::{get_public, get_with_token, start_api_with_token, submit_with_token};
use crate::helpers::{TestApp, fresh_database, spawn_on};

pub const ADA: &str = "ada@example.com";
pub const MINUTE: Duration = Duration::from_secs(60);
/// One TOTP time step: moving the clock by it makes a fresh code.
pub const STEP: Duration = Duration::from_secs(30);

/// A dev-mode app with TOTP and recovery codes on, a 5-minute privileged window, and `tune`.
pub async fn mfa_app_with(tune: impl FnOnce(&mut identity_svc::Settings)) -> TestApp {
    mfa_app_on(fresh_database(), tune).await
}

/// [`mfa_app_with`] on an existing database (a restart with other settings).
pub async fn mfa_app_on(
    db: service_kit::db::testdb::TestDatabase,
    tune: impl FnOnce(&mut identity_svc::Settings),
) -> TestApp {
    spawn_on(db, |s| {
        s.dev = true;
        s.selfservice.methods.totp.enabled = true;
        s.selfservice.methods.lookup_secret.enabled = true;
        let settings = &mut s.selfservice.flows.settings;
        settings.ui_url = Some(SETTINGS_UI.into());
        settings.privileged_session_max_age = 5 * MINUTE;
        tune(s);
    })
    .await
}

pub async fn mfa_app() -> TestApp {
    mfa_app_with(|_| {}).await
}

/// The node whose attributes carry `key` = `value` (`name` for inputs, `id` for text nodes).
pub fn find_node<'a>(flow: &'a Value, key: &str, value: &str) -> Option<&'a Value> {
    flow["ui"]["nodes"]
        .as_array()?
        .iter()
        .find(|n| n["attributes"][key] == value)
}

/// The TOTP secret a settings flow shows for enrolment.
pub fn totp_secret(flow: &Value) -> String {
    let node = find_node(flow, "id", "totp_secret_key").expect("a totp_secret_key node");
    node["attributes"]["text"]["context"]["secret"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The code an authenticator app shows for `secret` at `at`.
pub fn code_at(secret: &str, at: DateTime<Utc>) -> String {
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap();
    totp.generate(u64::try_from(at.timestamp()).unwrap())
        .to_string()
}

/// The code for `secret` on the app's clock.
pub fn code_now(app: &TestApp, secret: &str) -> String {
    code_at(secret, app.clock.now())
}

/// The ids of the messages on the node named `name`.
pub fn node_message_ids(flow: &Value, name: &str) -> Vec<i64> {
    find_node(flow, "name", name)
        .and_then(|n| n["messages"].as_array())
        .map(|m| m.iter().map(|t| t["id"].as_i64().unwrap()).collect())
        .unwrap_or_default()
}

/// Enrols TOTP for the holder of `token` through an API settings flow; returns the secret.
pub async fn enrol_totp_api(app: &TestApp, token: &str) -> String {
    let flow = start_api_with_token(app, "settings", token).await;
    let secret = totp_secret(&flow);
    let body = json!({"method": "totp", "totp_code": code_now(app, &secret)});
    let res = submit_with_token(app, token, &flow, body).await;
    assert_eq!(res.status(), 200);
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["state"], "success");
    assert!(find_node(&done, "name", "totp_unlink").is_some(), "{done}");
    // The enrolling code's step is spent; the next sign-in uses the next step's code.
    app.clock.advance(STEP);
    secret
}

/// Stores recovery codes for the holder of `token` (regenerate, then confirm); returns them.
pub async fn enrol_lookup_api(app: &TestApp, token: &str) -> Vec<String> {
    let flow = start_api_with_token(app, "settings", token).await;
    let body = json!({"method": "lookup_secret", "lookup_secret_regenerate": true});
    let res = submit_with_token(app, token, &flow, body).await;
    assert_eq!(res.status(), 200);
    let shown: Value = res.json().await.unwrap();
    let codes = shown_codes(&shown);
    let body = json!({"method": "lookup_secret", "lookup_secret_confirm": true});
    let res = submit_with_token(app, token, &flow, body).await;
    assert_eq!(res.status(), 200);
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["state"], "success");
    codes
}

/// The codes (unused ones) of a flow's `lookup_secret_codes` text node.
pub fn shown_codes(flow: &Value) -> Vec<String> {
    let node = find_node(flow, "id", "lookup_secret_codes").expect("a lookup_secret_codes node");
    node["attributes"]["text"]["context"]["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["id"] == 1050009)
        .map(|t| t["context"]["secret"].as_str().unwrap().to_string())
        .collect()
}

/// Starts an API aal2 flow as the holder of `token`.
pub async fn start_api_step_up(app: &TestApp, token: &str) -> Value {
    let res = get_with_token(app, "/self-service/login/api?aal=aal2", token).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Steps up the holder of `token` with `fields`; the response.
pub async fn api_step_up(app: &TestApp, token: &str, fields: Value) -> reqwest::Response {
    let flow = start_api_step_up(app, token).await;
    submit_with_token(app, token, &flow, fields).await
}

/// Steps up the holder of `token` with the current TOTP code for `secret`; the response.
pub async fn totp_step_up(app: &TestApp, token: &str, secret: &str) -> reqwest::Response {
    let body = json!({"method": "totp", "totp_code": code_now(app, secret)});
    api_step_up(app, token, body).await
}

/// Presses the TOTP button of a browser aal2 `flow` with the current code for `secret`.
pub async fn press_totp(
    app: &TestApp,
    browser: &Browser,
    flow: &Value,
    secret: &str,
    json: bool,
) -> reqwest::Response {
    let code = code_now(app, secret);
    press(
        browser,
        flow,
        &[("method", "totp"), ("totp_code", &code)],
        json,
    )
    .await
}

/// Posts only `typed` (and the CSRF token) to a browser flow, as a form or as JSON: a browser
/// sends the one button pressed, not every button of the form.
pub async fn press(
    browser: &Browser,
    flow: &Value,
    typed: &[(&str, &str)],
    json: bool,
) -> reqwest::Response {
    let mut fields: Vec<(String, String)> = typed
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if let Some(csrf) = find_node(flow, "name", "csrf_token") {
        let value = csrf["attributes"]["value"].as_str().unwrap().to_string();
        fields.push(("csrf_token".into(), value));
    }
    let request = browser.http.post(flow["ui"]["action"].as_str().unwrap());
    let request = if json {
        let body: serde_json::Map<String, Value> = fields
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        request.header("accept", "application/json").json(&body)
    } else {
        request.form(&fields)
    };
    request.send().await.unwrap()
}

/// Starts a browser aal2 flow as an SPA would.
pub async fn start_browser_step_up(app: &TestApp, browser: &Browser) -> Value {
    let res = get_public(
        &browser.http,
        app,
        "/self-service/login/browser?aal=aal2",
        true,
    )
    .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The value of the `name` cookie a response sets.
pub fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default().to_string())
}

/// whoami with `cookie` as the session cookie, from a client without a cookie jar.
pub async fn whoami_with_cookie(app: &TestApp, cookie: &str) -> reqwest::Response {
    app.http
        .get(format!("{}/sessions/whoami", app.public))
        .header("cookie", format!("olympus_session={cookie}"))
        .send()
        .await
        .unwrap()
}

/// The identity's credentials of `kind` as the admin API shows them.
pub async fn admin_credentials(app: &TestApp, identity_id: &str, kind: &str) -> Value {
    let res = app
        .get(&format!(
            "/admin/identities/{identity_id}?include_credential={kind}"
        ))
        .await;
    assert_eq!(res.status(), 200);
    let identity: Value = res.json().await.unwrap();
    identity["credentials"].clone()
}
