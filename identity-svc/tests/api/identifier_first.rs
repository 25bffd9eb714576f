//! Identifier-first login (`selfservice.flows.login.style: identifier_first`): the identifier
//! first, then the first-factor methods in the same flow, in all three client modes, without
//! telling known from unknown identifiers.

use std::time::Duration;

use serde_json::{Value, json};

use crate::browser::{Browser, PASSWORD, node};
use crate::flows::{get_public, message_ids};
use crate::helpers::{LOGIN_UI, TestApp, expect_error, fresh_database, spawn_on};

const EMAIL: &str = "ada@example.com";
const OTHER: &str = "grace@example.com";

async fn app_with(tune: impl FnOnce(&mut identity_svc::Settings)) -> TestApp {
    spawn_on(fresh_database(), |s| {
        s.dev = true;
        s.selfservice.flows.login.style =
            serde_json::from_value(json!("identifier_first")).expect("a login style");
        tune(s);
    })
    .await
}

async fn app() -> TestApp {
    app_with(|_| {}).await
}

/// `(name, type, group)` of every node, in order.
fn shape(flow: &Value) -> Vec<(String, String, String)> {
    flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let a = &n["attributes"];
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            (text(&a["name"]), text(&a["type"]), text(&n["group"]))
        })
        .collect()
}

fn has(flow: &Value, name: &str) -> bool {
    shape(flow).iter().any(|(n, _, _)| n == name)
}

/// The first screen: the identifier (+ CSRF token for browsers) and a continue button.
fn assert_first_screen(flow: &Value, browser: bool) {
    let mut expected = Vec::new();
    if browser {
        expected.push(("csrf_token", "hidden", "default"));
    }
    expected.push(("identifier", "text", "identifier_first"));
    expected.push(("method", "submit", "identifier_first"));
    let expected: Vec<_> = expected
        .into_iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(shape(flow), expected, "{flow}");
    let submit = node(flow, "method");
    assert_eq!(submit["attributes"]["value"], "identifier_first");
    assert_eq!(submit["meta"]["label"]["id"], 1070009);
    assert_eq!(node(flow, "identifier")["meta"]["label"]["id"], 1070004);
}

/// The second screen: the identifier hidden with its value, and the password method.
fn assert_second_screen(flow: &Value, identifier: &str) {
    let hidden = node(flow, "identifier");
    assert_eq!(hidden["attributes"]["type"], "hidden", "{flow}");
    assert_eq!(hidden["attributes"]["value"], identifier);
    assert_eq!(node(flow, "password")["attributes"]["type"], "password");
    assert!(shape(flow).contains(&("method".into(), "submit".into(), "password".into())));
    assert_eq!(flow["state"], "choose_method");
    assert!(message_ids(flow).is_empty(), "{flow}");
}

async fn api_flow(app: &TestApp) -> Value {
    let res = get_public(&app.http, app, "/self-service/login/api", false).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn api_submit(app: &TestApp, flow: &Value, body: Value) -> reqwest::Response {
    app.http
        .post(flow["ui"]["action"].as_str().unwrap())
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_browser_form_flow_asks_for_the_identifier_then_the_password() {
    let app = app().await;
    app.create_person_with_password(EMAIL).await;
    let browser = Browser::new();
    let flow = browser.start_login(&app, "").await;
    assert_first_screen(&flow, true);

    let res = browser
        .submit(
            &flow,
            &[("method", "identifier_first"), ("identifier", EMAIL)],
            false,
        )
        .await;
    assert_eq!(res.status(), 303);
    let id = flow["id"].as_str().unwrap();
    assert_eq!(res.headers()["location"], format!("{LOGIN_UI}?flow={id}"));
    let again: Value = browser.fetch_flow(&app, id).await.json().await.unwrap();
    assert_second_screen(&again, EMAIL);

    // The password alone completes it: the identifier comes from the flow.
    let res = browser
        .submit(
            &again,
            &[("method", "password"), ("password", PASSWORD)],
            false,
        )
        .await;
    assert_eq!(res.status(), 303);
    let whoami: Value = browser.whoami(&app).await.json().await.unwrap();
    assert_eq!(whoami["identity"]["traits"]["email"], EMAIL);
}

#[tokio::test]
async fn a_browser_json_flow_gets_the_same_flow_back_as_a_400() {
    let app = app().await;
    app.create_person_with_password(EMAIL).await;
    let browser = Browser::new();
    let flow = browser.start_login(&app, "").await;
    let res = browser
        .submit(
            &flow,
            &[("method", "identifier_first"), ("identifier", EMAIL)],
            true,
        )
        .await;
    assert_eq!(res.status(), 400);
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["id"], flow["id"]);
    assert_second_screen(&again, EMAIL);
    assert_eq!(node(&again, "csrf_token")["attributes"]["type"], "hidden");

    let res = browser
        .submit(
            &again,
            &[("method", "password"), ("password", PASSWORD)],
            true,
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["session"]["identity"]["traits"]["email"], EMAIL);
}

#[tokio::test]
async fn an_api_flow_takes_the_identifier_then_gives_a_session_token() {
    let app = app().await;
    app.create_person_with_password(EMAIL).await;
    let flow = api_flow(&app).await;
    assert_first_screen(&flow, false);
    let body = json!({"method": "identifier_first", "identifier": EMAIL});
    let res = api_submit(&app, &flow, body).await;
    assert_eq!(res.status(), 400);
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["id"], flow["id"]);
    assert_second_screen(&again, EMAIL);
    assert!(!has(&again, "csrf_token"));
    // A GET shows the second screen too.
    let path = format!(
        "/self-service/login/flows?id={}",
        flow["id"].as_str().unwrap()
    );
    let fetched: Value = get_public(&app.http, &app, &path, false)
        .await
        .json()
        .await
        .unwrap();
    assert_second_screen(&fetched, EMAIL);

    let body = json!({"method": "password", "password": PASSWORD});
    let res = api_submit(&app, &again, body).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["session_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert_eq!(body["session"]["identity"]["traits"]["email"], EMAIL);
}

/// The second screen with every value that differs per flow blanked out.
fn comparable(flow: &Value) -> Value {
    let mut nodes = flow["ui"]["nodes"].clone();
    for n in nodes.as_array_mut().unwrap() {
        let name = n["attributes"]["name"].as_str().unwrap_or_default();
        if matches!(name, "csrf_token" | "identifier" | "passkey_challenge") {
            n["attributes"]["value"] = json!("…");
        }
    }
    json!({"nodes": nodes, "messages": flow["ui"]["messages"], "state": flow["state"]})
}

#[tokio::test]
async fn known_and_unknown_identifiers_see_the_same_second_screen() {
    let app = app_with(|s| {
        let passkey = &mut s.selfservice.methods.passkey;
        passkey.enabled = true;
        passkey.config.rp.id = Some("localhost".into());
        passkey.config.rp.display_name = Some("Olympus".into());
        passkey.config.rp.origins = vec!["http://localhost".into()];
        // A provider is only shown, never contacted, here.
        s.selfservice.methods.oidc = serde_json::from_value(json!({
            "enabled": true,
            "config": {"providers": [{
                "id": "upstream", "client_id": "rp", "client_secret": "s".repeat(32),
                "issuer_url": "https://upstream.example", "scope": ["openid", "email"]
            }]}
        }))
        .expect("valid oidc settings");
    })
    .await;
    app.create_person_with_password(EMAIL).await;
    let mut screens = Vec::new();
    for identifier in [EMAIL, "nobody@example.com"] {
        let browser = Browser::new();
        let flow = browser.start_login(&app, "").await;
        // The first screen hides the methods, passkey and providers included.
        assert_first_screen(&flow, true);
        let typed = [("method", "identifier_first"), ("identifier", identifier)];
        let res = browser.submit(&flow, &typed, true).await;
        assert_eq!(res.status(), 400);
        let again: Value = res.json().await.unwrap();
        assert_second_screen(&again, identifier);
        assert!(has(&again, "passkey_login_trigger"), "{again}");
        assert!(
            shape(&again)
                .iter()
                .any(|(n, _, g)| n == "provider" && g == "oidc")
        );
        screens.push(comparable(&again));
    }
    assert_eq!(screens[0], screens[1]);
    // The API flow too.
    let mut screens = Vec::new();
    for identifier in [EMAIL, "nobody@example.com"] {
        let flow = api_flow(&app).await;
        let body = json!({"method": "identifier_first", "identifier": identifier});
        let again: Value = api_submit(&app, &flow, body).await.json().await.unwrap();
        screens.push(comparable(&again));
    }
    assert_eq!(screens[0], screens[1]);
}

#[tokio::test]
async fn a_different_identifier_than_the_chosen_one_is_refused() {
    let app = app().await;
    app.create_person_with_password(EMAIL).await;
    app.create_person_with_password(OTHER).await;
    let flow = api_flow(&app).await;
    let body = json!({"method": "identifier_first", "identifier": EMAIL});
    assert_eq!(api_submit(&app, &flow, body).await.status(), 400);
    // Right password, but for another identifier: the one failed-login answer.
    let body = json!({"method": "password", "identifier": OTHER, "password": PASSWORD});
    let res = api_submit(&app, &flow, body).await;
    assert_eq!(res.status(), 400);
    let refused: Value = res.json().await.unwrap();
    assert_eq!(message_ids(&refused), vec![4000006]);
    assert_eq!(node(&refused, "identifier")["attributes"]["value"], EMAIL);
    // The chosen identifier, spelt differently in case, is the same one.
    let body = json!({"method": "password", "identifier": "ADA@example.com", "password": PASSWORD});
    let res = api_submit(&app, &flow, body).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["session"]["identity"]["traits"]["email"], EMAIL);
}

#[tokio::test]
async fn the_identifier_step_needs_the_flow_csrf_token_and_an_identifier() {
    let app = app().await;
    let browser = Browser::new();
    let flow = browser.start_login(&app, "").await;
    let typed = [("method", "identifier_first"), ("identifier", EMAIL)];
    // Without the form token, or from another browser: refused.
    let res = browser
        .submit(&flow, &[typed[0], typed[1], ("csrf_token", "")], true)
        .await;
    expect_error(res, 403).await;
    let other = Browser::new();
    let res = other.submit(&flow, &typed, true).await;
    assert_eq!(
        expect_error(res, 403).await["id"],
        "security_csrf_violation"
    );
    // No identifier: 4000002 on the field; the flow stays on the first screen.
    let res = browser
        .submit(&flow, &[("method", "identifier_first")], true)
        .await;
    assert_eq!(res.status(), 400);
    let again: Value = res.json().await.unwrap();
    let messages = &node(&again, "identifier")["messages"];
    assert_eq!(messages[0]["id"], 4000002, "{again}");
    assert!(!has(&again, "password"));
}

#[tokio::test]
async fn an_expired_flow_is_refused_at_the_identifier_step() {
    let app = app().await;
    let flow = api_flow(&app).await;
    app.clock.advance(Duration::from_secs(3601));
    let body = json!({"method": "identifier_first", "identifier": EMAIL});
    let res = api_submit(&app, &flow, body).await;
    assert_eq!(
        expect_error(res, 410).await["id"],
        "self_service_flow_expired"
    );
}

#[tokio::test]
async fn failed_passwords_after_the_identifier_step_count_towards_the_lockout() {
    let app = app_with(|s| {
        let brute_force = &mut s.selfservice.flows.login.brute_force;
        brute_force.max_failures_per_identifier = 2;
        brute_force.lockout = Duration::from_secs(300);
    })
    .await;
    app.create_person_with_password(EMAIL).await;
    let attempt = |password: &'static str| {
        let app = &app;
        async move {
            let flow = api_flow(app).await;
            let body = json!({"method": "identifier_first", "identifier": EMAIL});
            assert_eq!(api_submit(app, &flow, body).await.status(), 400);
            let body = json!({"method": "password", "password": password});
            api_submit(app, &flow, body).await
        }
    };
    for _ in 0..2 {
        let refused: Value = attempt("wrong password").await.json().await.unwrap();
        assert_eq!(message_ids(&refused), vec![4000006]);
    }
    // Locked now, even with the right password.
    let res = attempt(PASSWORD).await;
    assert_eq!(res.status(), 400);
    let refused: Value = res.json().await.unwrap();
    assert_eq!(message_ids(&refused), vec![4000900], "{refused}");
}

#[tokio::test]
async fn the_unified_style_and_refresh_flows_are_unchanged() {
    let unified = spawn_on(fresh_database(), |s| s.dev = true).await;
    unified.create_person_with_password(EMAIL).await;
    let flow = api_flow(&unified).await;
    assert!(has(&flow, "password") && has(&flow, "identifier"));
    assert!(!shape(&flow).iter().any(|(_, _, g)| g == "identifier_first"));
    let body = json!({"method": "identifier_first", "identifier": EMAIL});
    let res = api_submit(&unified, &flow, body).await;
    assert_eq!(res.status(), 400);
    let refused: Value = res.json().await.unwrap();
    assert_eq!(message_ids(&refused), vec![4010002]);

    // With the style on, a refresh flow (the identity is known) keeps the one-screen form.
    let app = app().await;
    app.create_person_with_password(EMAIL).await;
    let browser = Browser::new();
    let flow = browser.start_login(&app, "").await;
    let typed = [("method", "identifier_first"), ("identifier", EMAIL)];
    browser.submit(&flow, &typed, true).await;
    let again = browser.fetch_flow(&app, flow["id"].as_str().unwrap()).await;
    let again: Value = again.json().await.unwrap();
    let typed = [("method", "password"), ("password", PASSWORD)];
    assert_eq!(browser.submit(&again, &typed, true).await.status(), 200);
    let refresh = browser.start_login(&app, "?refresh=true").await;
    assert!(has(&refresh, "password"), "{refresh}");
    assert_eq!(node(&refresh, "identifier")["attributes"]["type"], "text");
}
