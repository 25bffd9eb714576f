//! The device authorization grant (RFC 8628) end to end through the admin API, and its device
//! challenges against the challenge table (security.md TK-01 single use, TK-10 grant
//! restrictions, LC challenge rows, AZ-style binding to the browser).

mod challenges;
mod grant;
mod revocation;

use serde_json::{Value, json};

use crate::browser::{accept_login, browser, follow, query_param};
use crate::helpers::{LOGIN_UI, TestApp};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const DEVICE_UI: &str = "https://ui.test/device";
const DONE_UI: &str = "https://ui.test/device/done";

/// A confidential `client_secret_post` client allowed the device grant (and refresh tokens).
async fn device_client(app: &TestApp) -> (String, String) {
    let res = app
        .create_client(json!({"grant_types": [DEVICE_GRANT, "refresh_token"],
            "scope": "openid offline_access email", "token_endpoint_auth_method": "client_secret_post"}))
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    (
        body["client_id"].as_str().unwrap().into(),
        body["client_secret"].as_str().unwrap().into(),
    )
}

async fn post_form(app: &TestApp, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let res = app
        .http
        .post(format!("{}{path}", app.public))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    assert_eq!(res.headers()["cache-control"], "no-store");
    (status, res.json().await.unwrap())
}

async fn device_auth(app: &TestApp, client: &(String, String), scope: &str) -> Value {
    let (status, body) = post_form(
        app,
        "/oauth2/device/auth",
        &[
            ("client_id", &client.0),
            ("client_secret", &client.1),
            ("scope", scope),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn poll(app: &TestApp, client: &(String, String), device_code: &str) -> (u16, Value) {
    post_form(
        app,
        "/oauth2/token",
        &[
            ("grant_type", DEVICE_GRANT),
            ("device_code", device_code),
            ("client_id", &client.0),
            ("client_secret", &client.1),
        ],
    )
    .await
}

/// Opens a device challenge in `browser` from `verification_uri_complete`.
async fn open_challenge(browser: &reqwest::Client, auth: &Value) -> String {
    let to_ui = follow(browser, auth["verification_uri_complete"].as_str().unwrap()).await;
    assert!(
        to_ui.starts_with(&format!("{DEVICE_UI}?device_challenge=oly_dch_")),
        "{to_ui}"
    );
    assert_eq!(
        query_param(&to_ui, "user_code").as_deref(),
        auth["user_code"].as_str()
    );
    query_param(&to_ui, "device_challenge").unwrap()
}

async fn accept_user_code(app: &TestApp, challenge: &str, user_code: &str) -> reqwest::Response {
    app.http
        .put(format!(
            "{}/admin/oauth2/auth/requests/device/accept?device_challenge={challenge}",
            app.admin
        ))
        .json(&json!({"user_code": user_code}))
        .send()
        .await
        .unwrap()
}

/// Plays the user: enters the user code, signs in as `user-1` and grants (or denies) the
/// consent; returns where the browser ends.
async fn decide(app: &TestApp, auth: &Value, grant: bool) -> String {
    let browser = browser();
    let challenge = open_challenge(&browser, auth).await;
    // The user types the code in lower case without the dash: it is normalised.
    let typed = auth["user_code"]
        .as_str()
        .unwrap()
        .replace('-', "")
        .to_lowercase();
    let res = accept_user_code(app, &challenge, &typed).await;
    assert_eq!(res.status(), 200);
    let redirect: Value = res.json().await.unwrap();
    let to_login = follow(&browser, redirect["redirect_to"].as_str().unwrap()).await;
    assert!(
        to_login.starts_with(&format!("{LOGIN_UI}?login_challenge=")),
        "{to_login}"
    );
    let login = query_param(&to_login, "login_challenge").unwrap();
    let (consent, request) =
        accept_login(app, &browser, &login, json!({"subject": "user-1"})).await;
    let answer = match grant {
        true => app.admin_put("consent", "accept", &consent,
            json!({"grant_scope": request["requested_scope"], "session": {"id_token": {"email": "ada@example.com"}}})).await,
        false => app.admin_put("consent", "reject", &consent, json!({"error": "access_denied"})).await,
    };
    let answer: Value = answer.json().await.unwrap();
    follow(&browser, answer["redirect_to"].as_str().unwrap()).await
}
