//! The settings flow (methods `profile` and `password`): browser (form and JSON) and API
//! variants, the privileged-session rule on the test clock, CSRF and identity binding, expiry,
//! bad input, the janitor, and verification mails for new addresses (also after registration).

mod password;
mod profile;
mod security;

use std::time::Duration;

use serde_json::{Value, json};

use crate::browser::Browser;
use crate::courier::SETTINGS_UI;
use crate::flows::submit_with_token;
use crate::helpers::{TestApp, fresh_database, spawn_on};

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

/// Submits a new password on the browser settings `flow`, as JSON or as a form post.
async fn submit_password(
    browser: &Browser,
    flow: &Value,
    password: &str,
    json: bool,
) -> reqwest::Response {
    let typed = [("method", "password"), ("password", password)];
    browser.submit(flow, &typed, json).await
}

/// Submits new `traits` on the API settings `flow` as the holder of the session `token`.
async fn submit_traits(
    app: &TestApp,
    token: &str,
    flow: &Value,
    traits: Value,
) -> reqwest::Response {
    submit_with_token(
        app,
        token,
        flow,
        json!({"method": "profile", "traits": traits}),
    )
    .await
}

/// A browser without a session is sent to a new login flow that returns to the settings page
/// (Kratos initializes a login flow), not to the error page.
fn assert_sent_to_login(app: &TestApp, res: &reqwest::Response) {
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap();
    let to = reqwest::Url::parse(location).unwrap();
    assert_eq!(
        to.as_str().split('?').next().unwrap(),
        format!("{}/self-service/login/browser", app.public)
    );
    let return_to = to.query_pairs().find(|(k, _)| k == "return_to").unwrap().1;
    assert_eq!(return_to, SETTINGS_UI);
}
