//! Steps the self-service flow tests share: starting and fetching a flow of any kind in a
//! browser, the same as an app with a session token, and the admin look-ups their assertions use.

use serde_json::{Value, json};

use crate::browser::{Browser, PASSWORD, node};
use crate::helpers::{TestApp, expect_error, fresh_database, spawn_on};

pub const REGISTRATION_UI: &str = "https://ui.test/registration";

/// A dev-mode app whose registrations sign the new identity in (the `session` hook).
pub async fn session_hook_app() -> TestApp {
    spawn_on(fresh_database(), |s| {
        s.dev = true;
        s.selfservice.flows.registration.after.hooks =
            vec![serde_json::from_value(json!({"hook": "session"})).unwrap()];
    })
    .await
}

/// GETs `path` on the public API with `http`: as a page load, or (`json`) as an SPA would.
pub async fn get_public(
    http: &reqwest::Client,
    app: &TestApp,
    path: &str,
    json: bool,
) -> reqwest::Response {
    let request = http.get(format!("{}{path}", app.public));
    let request = if json {
        request.header("accept", "application/json")
    } else {
        request
    };
    request.send().await.unwrap()
}

/// GETs `path` on the public API as an app holding the session `token`.
pub async fn get_with_token(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.http
        .get(format!("{}{path}", app.public))
        .header("x-session-token", token)
        .send()
        .await
        .unwrap()
}

/// A browser without a session asking for a `kind` flow is sent to `ui` with the flow's id and
/// gets a CSRF cookie carrying every one of `flags`.
pub async fn assert_sent_to_ui_with_csrf_cookie(
    app: &TestApp,
    kind: &str,
    ui: &str,
    flags: &[&str],
) {
    let path = format!("/self-service/{kind}/browser");
    let res = get_public(&app.http, app, &path, false).await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(&format!("{ui}?flow=")), "{location}");
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("olympus_csrf="), "{cookie}");
    for flag in flags {
        assert!(cookie.contains(flag), "{cookie} lacks {flag}");
    }
}

/// Starting a flow at `path` with `return_to` = `bad` is refused with Kratos' 400
/// `self_service_flow_return_to_forbidden`.
pub async fn assert_return_to_refused(app: &TestApp, path: &str, bad: &str) {
    let url =
        reqwest::Url::parse_with_params(&format!("{}{path}", app.public), &[("return_to", bad)])
            .unwrap();
    let res = app.http.get(url).send().await.unwrap();
    assert_eq!(
        expect_error(res, 400).await["id"],
        "self_service_flow_return_to_forbidden",
        "{path} {bad}"
    );
}

impl Browser {
    /// Starts a browser `kind` flow as an SPA would (JSON) and returns the flow.
    pub async fn start_flow(&self, app: &TestApp, kind: &str, query: &str) -> Value {
        let path = format!("/self-service/{kind}/browser{query}");
        let res = get_public(&self.http, app, &path, true).await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    /// Fetches the `kind` flow `id` with this browser's cookies.
    pub async fn fetch_flow_of(&self, app: &TestApp, kind: &str, id: &str) -> reqwest::Response {
        let path = format!("/self-service/{kind}/flows?id={id}");
        get_public(&self.http, app, &path, false).await
    }

    pub async fn start_registration(&self, app: &TestApp, query: &str) -> Value {
        self.start_flow(app, "registration", query).await
    }

    pub async fn fetch_registration(&self, app: &TestApp, id: &str) -> reqwest::Response {
        self.fetch_flow_of(app, "registration", id).await
    }

    pub async fn start_settings(&self, app: &TestApp) -> Value {
        self.start_flow(app, "settings", "").await
    }

    pub async fn fetch_settings(&self, app: &TestApp, id: &str) -> reqwest::Response {
        self.fetch_flow_of(app, "settings", id).await
    }
}

impl TestApp {
    /// The identities whose password identifier is `email` (the admin list filter).
    pub async fn identities_with(&self, email: &str) -> Vec<Value> {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/admin/identities", self.admin),
            &[("credentials_identifier", email)],
        )
        .unwrap();
        let res = self.http.get(url).send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    pub async fn identity_count(&self) -> usize {
        let res = self.get("/admin/identities").await;
        res.json::<Vec<Value>>().await.unwrap().len()
    }
}

/// The fields a person types into the registration form.
pub fn sign_up(email: &str) -> Vec<(&str, &str)> {
    vec![
        ("traits.email", email),
        ("traits.name.first", "Ada"),
        ("password", PASSWORD),
    ]
}

/// The masked CSRF token the flow's form carries.
pub fn csrf_token(flow: &Value) -> String {
    node(flow, "csrf_token")["attributes"]["value"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The ids of the flow's form-wide messages.
pub fn message_ids(flow: &Value) -> Vec<i64> {
    flow["ui"]["messages"]
        .as_array()
        .map(|m| m.iter().map(|t| t["id"].as_i64().unwrap()).collect())
        .unwrap_or_default()
}

/// An API login through a fresh flow; the response (with the session token on success).
pub async fn api_login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    let flow: Value = get_public(&app.http, app, "/self-service/login/api", false)
        .await
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

/// The session token of a successful API login with [`PASSWORD`].
pub async fn api_token(app: &TestApp, email: &str) -> String {
    let res = api_login(app, email, PASSWORD).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["session_token"].as_str().unwrap().to_string()
}

/// Starts an API `kind` flow as the holder of the session `token`.
pub async fn start_api_with_token(app: &TestApp, kind: &str, token: &str) -> Value {
    let res = get_with_token(app, &format!("/self-service/{kind}/api"), token).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Submits `body` as JSON to `flow`'s action as the holder of the session `token`.
pub async fn submit_with_token(
    app: &TestApp,
    token: &str,
    flow: &Value,
    body: Value,
) -> reqwest::Response {
    app.http
        .post(flow["ui"]["action"].as_str().unwrap())
        .header("x-session-token", token)
        .json(&body)
        .send()
        .await
        .unwrap()
}
