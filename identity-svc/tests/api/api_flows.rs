//! API (native) flows: registration and login for apps, without cookies or CSRF, ending in a
//! session token; native logout; and the janitor for registration flows.

use std::time::Duration;

use serde_json::{Value, json};

use crate::browser::{Browser, PASSWORD, browser_app, node};
use crate::flows::session_hook_app;
use crate::helpers::{TestApp, expect_error, fresh_database, settings_for};

async fn start(app: &TestApp, flow: &str) -> Value {
    let res = app
        .http
        .get(format!("{}/self-service/{flow}/api", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers().get("set-cookie").is_none(),
        "no cookies for apps"
    );
    assert_eq!(res.headers()["cache-control"], "no-store");
    res.json().await.unwrap()
}

async fn post(app: &TestApp, flow: &Value, body: Value) -> reqwest::Response {
    app.http
        .post(flow["ui"]["action"].as_str().unwrap())
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn registration(email: &str) -> Value {
    json!({"method": "password", "password": PASSWORD,
        "traits": {"email": email, "name": {"first": "Ada", "last": "Lovelace"}}})
}

async fn whoami_with_token(app: &TestApp, token: &str) -> reqwest::Response {
    app.http
        .get(format!("{}/sessions/whoami", app.public))
        .header("x-session-token", token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn api_registration_creates_the_identity_without_a_session_by_default() {
    let app = browser_app().await;
    let flow = start(&app, "registration").await;
    assert_eq!(flow["type"], "api");
    assert!(
        !flow["ui"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["attributes"]["name"] == "csrf_token"),
        "API flows have no CSRF token"
    );
    // The flow can be read without any cookie.
    let id = flow["id"].as_str().unwrap();
    let res = app
        .http
        .get(format!(
            "{}/self-service/registration/flows?id={id}",
            app.public
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let res = post(&app, &flow, registration("Ada@Example.COM")).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("set-cookie").is_none());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["identity"]["traits"]["email"], "Ada@Example.COM");
    assert!(body.get("session").is_none(), "{body}");
    assert!(body.get("session_token").is_none(), "{body}");
    assert_eq!(body["continue_with"], json!([]));
}

#[tokio::test]
async fn api_registration_with_the_session_hook_returns_a_session_token() {
    let app = session_hook_app().await;
    let flow = start(&app, "registration").await;
    // Dotted keys, as Kratos' JSON "follows the form format", work too.
    let res = post(
        &app,
        &flow,
        json!({"method": "password", "password": PASSWORD, "traits.email": "ada@example.com"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("set-cookie").is_none());
    let body: Value = res.json().await.unwrap();
    let token = body["session_token"].as_str().unwrap();
    assert!(token.starts_with("oly_st_"), "{token}");
    assert_eq!(body["session"]["identity"]["id"], body["identity"]["id"]);
    assert_eq!(
        body["continue_with"],
        json!([{"action": "set_ory_session_token", "ory_session_token": token}])
    );
    let res = whoami_with_token(&app, token).await;
    assert_eq!(res.status(), 200);
    let session: Value = res.json().await.unwrap();
    assert_eq!(session["id"], body["session"]["id"]);

    // An app that holds a session is not offered another registration or login.
    for flow in ["registration", "login"] {
        let res = app
            .http
            .get(format!("{}/self-service/{flow}/api", app.public))
            .header("x-session-token", token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            expect_error(res, 400).await["id"],
            "session_already_available",
            "{flow}"
        );
    }
}

/// API flows are for apps: a request that carries an Origin header or cookies is a browser's.
#[tokio::test]
async fn api_flows_refuse_browsers() {
    let app = browser_app().await;
    for flow in ["registration", "login"] {
        for (header, value) in [("origin", "https://evil.test"), ("cookie", "a=b")] {
            let res = app
                .http
                .get(format!("{}/self-service/{flow}/api", app.public))
                .header(header, value)
                .send()
                .await
                .unwrap();
            expect_error(res, 400).await;
        }
    }
}

#[tokio::test]
async fn api_login_returns_a_session_token_and_no_cookie() {
    let app = browser_app().await;
    let person = app.create_person_with_password("ada@example.com").await;
    let flow = start(&app, "login").await;
    assert_eq!(flow["type"], "api");
    assert!(
        !flow["ui"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["attributes"]["name"] == "csrf_token")
    );
    let res = post(
        &app,
        &flow,
        json!({"method": "password", "identifier": "ADA@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("set-cookie").is_none());
    let body: Value = res.json().await.unwrap();
    let token = body["session_token"].as_str().unwrap().to_string();
    assert_eq!(body["session"]["identity"]["id"], person["id"]);
    assert_eq!(body["continue_with"][0]["action"], "set_ory_session_token");
    assert_eq!(body["continue_with"][0]["ory_session_token"], token);

    for (header, value) in [
        ("x-session-token", token.clone()),
        ("authorization", format!("Bearer {token}")),
    ] {
        let res = app
            .http
            .get(format!("{}/sessions/whoami", app.public))
            .header(header, value)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{header}");
    }

    // The flow is spent: a replay gets 410 and a fresh API flow to use, never a second session.
    let res = post(
        &app,
        &flow,
        json!({"method": "password", "identifier": "ada@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), 410);
    let body: Value = res.json().await.unwrap();
    let replacement = body["use_flow_id"].as_str().unwrap();
    let res = app
        .http
        .get(format!(
            "{}/self-service/login/flows?id={replacement}",
            app.public
        ))
        .send()
        .await
        .unwrap();
    let fresh: Value = res.json().await.unwrap();
    assert_eq!(fresh["type"], "api");
    assert_eq!(fresh["ui"]["messages"][0]["id"], 4010001);
}

/// Browser flows keep their cookie and never see the token, even when answered as JSON.
#[tokio::test]
async fn browser_logins_never_get_the_session_token() {
    let app = browser_app().await;
    app.create_person_with_password("ada@example.com").await;
    let body = Browser::new().log_in(&app, "ada@example.com").await;
    assert!(body.get("session_token").is_none(), "{body}");
    assert_eq!(body["continue_with"][0]["action"], "redirect_browser_to");
}

#[tokio::test]
async fn api_login_errors_are_the_flow_as_400() {
    let app = browser_app().await;
    app.create_person_with_password("ada@example.com").await;
    let flow = start(&app, "login").await;
    // Even a form post gets JSON: apps follow no redirects.
    let res = app
        .http
        .post(flow["ui"]["action"].as_str().unwrap())
        .form(&[
            ("method", "password"),
            ("identifier", "ada@example.com"),
            ("password", "wrong password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["id"], flow["id"]);
    assert_eq!(body["ui"]["messages"][0]["id"], 4000006);
    assert_eq!(
        node(&body, "identifier")["attributes"]["value"],
        "ada@example.com"
    );
}

/// IF-14 for apps: an expired API flow is a 410 naming a fresh API flow, with no browser URL.
#[tokio::test]
async fn if_14_expired_api_flows_get_410_and_a_replacement() {
    let app = browser_app().await;
    for kind in ["login", "registration"] {
        let flow = start(&app, kind).await;
        let id = flow["id"].as_str().unwrap().to_string();
        app.clock.advance(Duration::from_secs(3601));
        let res = app
            .http
            .get(format!("{}/self-service/{kind}/flows?id={id}", app.public))
            .send()
            .await
            .unwrap();
        let error = expect_error(res, 410).await;
        assert_eq!(error["id"], "self_service_flow_expired");
        assert!(error.get("details").is_none(), "{error}");
        let res = post(&app, &flow, registration("ada@example.com")).await;
        assert_eq!(res.status(), 410, "{kind}");
        let body: Value = res.json().await.unwrap();
        let replacement = body["use_flow_id"].as_str().unwrap();
        let fresh: Value = app
            .http
            .get(format!(
                "{}/self-service/{kind}/flows?id={replacement}",
                app.public
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(fresh["type"], "api", "{kind}");
    }
    assert_eq!(app.identity_count().await, 0);
}

#[tokio::test]
async fn native_logout_ends_the_session() {
    let app = browser_app().await;
    app.create_person_with_password("ada@example.com").await;
    let flow = start(&app, "login").await;
    let body: Value = post(
        &app,
        &flow,
        json!({"method": "password", "identifier": "ada@example.com", "password": PASSWORD}),
    )
    .await
    .json()
    .await
    .unwrap();
    let token = body["session_token"].as_str().unwrap();
    let logout = |body: Value| {
        app.http
            .delete(format!("{}/self-service/logout/api", app.public))
            .json(&body)
            .send()
    };
    assert_eq!(
        logout(json!({"session_token": token}))
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(whoami_with_token(&app, token).await.status(), 401);
    // Already revoked: still 204, as in Kratos.
    assert_eq!(
        logout(json!({"session_token": token}))
            .await
            .unwrap()
            .status(),
        204
    );
    // A token that never was one: 403.
    let res = logout(json!({"session_token": "oly_st_0123456789abcdefghijklmnopqrstuv"}))
        .await
        .unwrap();
    expect_error(res, 403).await;
    let res = logout(json!({"session_token": "nonsense"})).await.unwrap();
    expect_error(res, 403).await;
    for bad in [json!({}), json!({"session_token": 7}), json!([])] {
        let res = logout(bad.clone()).await.unwrap();
        assert_eq!(res.status(), 400, "{bad}");
    }
}

/// The janitor deletes expired registration flows and keeps live ones.
#[tokio::test]
async fn the_janitor_deletes_expired_registration_flows() {
    let app = crate::helpers::spawn_on(fresh_database(), |s| {
        s.dev = true;
        s.janitor.interval = Duration::ZERO;
    })
    .await;
    for _ in 0..3 {
        start(&app, "registration").await;
    }
    app.clock.advance(Duration::from_secs(2 * 3600 + 60));
    let live = start(&app, "registration").await;
    let mut settings = settings_for(&app.public);
    settings.dsn = app.db.dsn.clone();
    settings.clock = app.clock.clone();
    settings.janitor.batch_size = 2;
    let report = identity_svc::janitor::run_once(settings).await.unwrap();
    assert_eq!(report.get("selfservice_registration_flows"), 3, "{report}");
    let id = live["id"].as_str().unwrap();
    let res = app
        .http
        .get(format!(
            "{}/self-service/registration/flows?id={id}",
            app.public
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the live flow stays");
}
