//! The registration flow, browser (form and JSON) and API (security.md IF-03, IF-11, IF-13,
//! IF-14, IF-19, IF-21, BI-01, BI-03, BI-06).

use serde_json::{Value, json};

use crate::browser::{Browser, PASSWORD, browser_app, form_fields, node};
use crate::helpers::{DEFAULT_RETURN, TestApp, expect_error, fresh_database, spawn, spawn_on};

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

impl Browser {
    /// Starts a browser registration flow as an SPA would (JSON) and returns the flow.
    pub async fn start_registration(&self, app: &TestApp, query: &str) -> Value {
        let res = self
            .http
            .get(format!(
                "{}/self-service/registration/browser{query}",
                app.public
            ))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    pub async fn fetch_registration(&self, app: &TestApp, id: &str) -> reqwest::Response {
        self.http
            .get(format!(
                "{}/self-service/registration/flows?id={id}",
                app.public
            ))
            .send()
            .await
            .unwrap()
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

fn sign_up(email: &str) -> Vec<(&str, &str)> {
    vec![
        ("traits.email", email),
        ("traits.name.first", "Ada"),
        ("password", PASSWORD),
    ]
}

#[tokio::test]
async fn browsers_are_sent_to_the_registration_ui_with_a_csrf_cookie() {
    let app = spawn().await;
    let res = app
        .http
        .get(format!("{}/self-service/registration/browser", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with(&format!("{REGISTRATION_UI}?flow=")),
        "{location}"
    );
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("olympus_csrf="), "{cookie}");
    for flag in ["HttpOnly", "SameSite=Lax", "Secure"] {
        assert!(cookie.contains(flag), "{cookie} lacks {flag}");
    }
}

/// The form comes from the identity schema: names, types, `required` and titles.
#[tokio::test]
async fn the_form_is_built_from_the_identity_schema() {
    let app = browser_app().await;
    let browser = Browser::new();
    let flow = browser
        .start_registration(&app, "?return_to=https://app.test/welcome")
        .await;
    assert_eq!(flow["type"], "browser");
    assert_eq!(flow["state"], "choose_method");
    assert_eq!(flow["return_to"], "https://app.test/welcome");
    let id = flow["id"].as_str().unwrap();
    assert_eq!(
        flow["ui"]["action"],
        format!("{}/self-service/registration?flow={id}", app.public)
    );
    let names: Vec<_> = flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["attributes"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "csrf_token",
            "traits.email",
            "traits.name.first",
            "traits.name.last",
            "password",
            "method"
        ]
    );
    let email = node(&flow, "traits.email");
    assert_eq!(email["group"], "default");
    assert_eq!(email["attributes"]["type"], "email");
    assert_eq!(email["attributes"]["required"], true);
    assert_eq!(email["attributes"]["autocomplete"], "email");
    assert_eq!(email["meta"]["label"]["id"], 1070002);
    assert_eq!(email["meta"]["label"]["text"], "E-mail");
    let first = node(&flow, "traits.name.first");
    assert_eq!(first["attributes"]["type"], "text");
    assert!(first["attributes"].get("required").is_none());
    assert_eq!(first["meta"]["label"]["text"], "First name");
    let password = node(&flow, "password");
    assert_eq!(password["attributes"]["autocomplete"], "new-password");
    assert_eq!(password["group"], "password");
    let method = node(&flow, "method");
    assert_eq!(method["attributes"]["value"], "password");
    assert_eq!(method["meta"]["label"]["id"], 1040001);
    assert_eq!(browser.fetch_registration(&app, id).await.status(), 200);
}

/// Without the session hook (Kratos' default) a registration creates the identity and nothing
/// more; the identifier is stored normalised, so another spelling signs in (IF-21).
#[tokio::test]
async fn if_21_registration_normalises_identifiers_and_issues_no_session_by_default() {
    let app = browser_app().await;
    let browser = Browser::new();
    let flow = browser
        .start_registration(&app, "?return_to=https://app.test/welcome")
        .await;
    let res = browser
        .submit(&flow, &sign_up(" Ada@Example.COM "), false)
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "https://app.test/welcome");
    assert!(
        !res.headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("olympus_session=")),
        "no session without the hook"
    );
    assert_eq!(browser.whoami(&app).await.status(), 401);

    let found = app.identities_with("ada@example.com").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["traits"]["email"], "Ada@Example.COM");
    assert_eq!(found[0]["traits"]["name"], json!({"first": "Ada"}));
    assert_eq!(
        found[0]["verifiable_addresses"][0]["value"],
        "ada@example.com"
    );
    // The lower-case spelling signs in with the password given at registration.
    let session = browser.log_in(&app, "ada@example.com").await;
    assert_eq!(session["session"]["identity"]["id"], found[0]["id"]);

    // Another Unicode form of the same address (full-width letters, NFKC) collides.
    let other = Browser::new();
    let flow = other.start_registration(&app, "").await;
    let res = other
        .submit(&flow, &sign_up("Ａｄａ@example.com"), true)
        .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["ui"]["messages"][0]["id"], 4000007, "{body}");
    assert_eq!(app.identity_count().await, 1);
    // So does the admin API, which derives identifiers the same way.
    let res = app
        .create_identity(json!({"schema_id": "default", "traits": {"email": "ADA@EXAMPLE.COM"}}))
        .await;
    assert_eq!(res.status(), 409);
}

#[tokio::test]
async fn the_session_hook_signs_the_new_identity_in() {
    let app = session_hook_app().await;
    let browser = Browser::new();
    let flow = browser.start_registration(&app, "").await;
    let res = browser
        .submit(&flow, &sign_up("ada@example.com"), false)
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], DEFAULT_RETURN);
    let cookies: Vec<_> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_string())
        .collect();
    let session_cookie = cookies
        .iter()
        .find(|c| c.starts_with("olympus_session="))
        .expect("session cookie");
    assert!(session_cookie.contains("HttpOnly"), "{session_cookie}");
    assert!(
        cookies.iter().any(|c| c.starts_with("olympus_csrf=")),
        "the CSRF token is renewed"
    );
    let whoami: Value = browser.whoami(&app).await.json().await.unwrap();
    assert_eq!(whoami["identity"]["traits"]["email"], "ada@example.com");
    assert_eq!(whoami["authentication_methods"][0]["method"], "password");

    // A signed-in browser is not offered another registration.
    let res = browser
        .http
        .get(format!("{}/self-service/registration/browser", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], DEFAULT_RETURN);
    let res = browser
        .http
        .get(format!("{}/self-service/registration/browser", app.public))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_error(res, 400).await["id"],
        "session_already_available"
    );

    // An SPA gets the identity and the session as JSON, and the cookie, but never the token.
    let spa = Browser::new();
    let flow = spa.start_registration(&app, "").await;
    let res = spa.submit(&flow, &sign_up("grace@example.com"), true).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("olympus_session="))
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["identity"]["traits"]["email"], "grace@example.com");
    assert_eq!(body["session"]["identity"]["id"], body["identity"]["id"]);
    assert!(body.get("session_token").is_none(), "{body}");
    assert!(body["identity"].get("metadata_admin").is_none());
    assert_eq!(body["continue_with"][0]["action"], "redirect_browser_to");
    assert_eq!(spa.whoami(&app).await.status(), 200);
}

#[tokio::test]
async fn validation_errors_rerender_the_flow_with_field_messages() {
    let app = browser_app().await;
    let browser = Browser::new();
    let flow = browser.start_registration(&app, "").await;
    let id = flow["id"].as_str().unwrap();

    // JSON: 400 with the flow; every problem on its node; typed values kept, password never.
    let res = browser
        .submit(
            &flow,
            &[("traits.name.first", "Ada"), ("password", "")],
            true,
        )
        .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["id"], id, "the same flow");
    assert_eq!(node(&body, "traits.email")["messages"][0]["id"], 4000002);
    assert_eq!(node(&body, "password")["messages"][0]["id"], 4000002);
    assert_eq!(
        node(&body, "traits.name.first")["attributes"]["value"],
        "Ada"
    );

    let res = browser
        .submit(&flow, &sign_up("not-an-address"), true)
        .await;
    let body: Value = res.json().await.unwrap();
    let message = &node(&body, "traits.email")["messages"][0];
    assert_eq!(message["id"], 4000004, "{body}");
    assert_eq!(message["type"], "error");
    assert!(
        node(&body, "password")["messages"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(node(&body, "password")["attributes"].get("value").is_none());

    // The password policy speaks on the password node.
    let res = browser
        .submit(
            &flow,
            &[("traits.email", "ada@example.com"), ("password", "short")],
            true,
        )
        .await;
    let body: Value = res.json().await.unwrap();
    let message = &node(&body, "password")["messages"][0];
    assert_eq!(message["type"], "error", "{body}");
    assert!(message["id"].as_i64().unwrap() / 1000 == 4000, "{message}");

    // A form post goes back to the UI with the same flow, which shows the messages.
    let res = browser
        .submit(&flow, &[("traits.email", "ada@example.com")], false)
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"].to_str().unwrap(),
        format!("{REGISTRATION_UI}?flow={id}")
    );
    let shown: Value = browser
        .fetch_registration(&app, id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(node(&shown, "password")["messages"][0]["id"], 4000002);
    assert_eq!(
        node(&shown, "traits.email")["attributes"]["value"],
        "ada@example.com"
    );
    assert_eq!(app.identity_count().await, 0);
}

/// IF-03: a taken identifier gets Kratos' one generic message (4000007), in the browser and in
/// the API flow alike; it does not say which identifier or whose.
#[tokio::test]
async fn if_03_a_taken_identifier_gets_the_generic_message() {
    let app = browser_app().await;
    app.create_person_with_password("ada@example.com").await;
    let browser = Browser::new();
    let flow = browser.start_registration(&app, "").await;
    let res = browser
        .submit(&flow, &sign_up("ADA@example.com"), true)
        .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    let messages = body["ui"]["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{body}");
    assert_eq!(messages[0]["id"], 4000007);
    assert_eq!(
        messages[0]["text"],
        "An account with the same identifier (email, phone, username, ...) exists already."
    );
    assert!(!body.to_string().contains("ada@example.com\"}"));

    let api: Value = app
        .http
        .get(format!("{}/self-service/registration/api", app.public))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = app
        .http
        .post(api["ui"]["action"].as_str().unwrap())
        .json(&json!({"method": "password", "password": PASSWORD, "traits": {"email": "ada@example.com"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let api_body: Value = res.json().await.unwrap();
    assert_eq!(api_body["ui"]["messages"], body["ui"]["messages"]);
    assert_eq!(app.identity_count().await, 1);
    // The flow stays usable for another identifier.
    let res = browser
        .submit(&flow, &sign_up("grace@example.com"), true)
        .await;
    assert_eq!(res.status(), 200);
}

/// IF-11: missing, foreign or cookie-less CSRF tokens are refused, and nothing is created.
#[tokio::test]
async fn if_11_csrf_violations_are_refused() {
    let app = browser_app().await;
    let victim = Browser::new();
    let attacker = Browser::new();
    let flow = victim.start_registration(&app, "").await;
    let attacker_flow = attacker.start_registration(&app, "").await;
    let foreign = node(&attacker_flow, "csrf_token")["attributes"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    for token in ["", "garbage", foreign.as_str()] {
        let mut typed = sign_up("ada@example.com");
        typed.push(("csrf_token", token));
        let res = victim.submit(&flow, &typed, true).await;
        assert_eq!(
            expect_error(res, 403).await["id"],
            "security_csrf_violation",
            "{token}"
        );
    }
    // The victim's form token with the attacker's cookie.
    let res = attacker
        .submit(&flow, &sign_up("ada@example.com"), false)
        .await;
    assert_eq!(
        expect_error(res, 403).await["id"],
        "security_csrf_violation"
    );
    // No cookie at all.
    let mut fields = form_fields(&flow);
    fields.extend(
        sign_up("ada@example.com")
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let res = reqwest::Client::new()
        .post(flow["ui"]["action"].as_str().unwrap())
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_error(res, 403).await["id"],
        "security_csrf_violation"
    );
    assert_eq!(app.identity_count().await, 0);
}

/// IF-13: a browser flow is shown only to its browser; unknown ids are 404.
#[tokio::test]
async fn if_13_flows_are_bound_to_their_browser() {
    let app = browser_app().await;
    let owner = Browser::new();
    let flow = owner.start_registration(&app, "").await;
    let id = flow["id"].as_str().unwrap();
    let res = Browser::new().fetch_registration(&app, id).await;
    assert_eq!(
        expect_error(res, 403).await["id"],
        "security_csrf_violation"
    );
    for unknown in [uuid::Uuid::now_v7().to_string(), "not-a-uuid".to_string()] {
        let res = owner.fetch_registration(&app, &unknown).await;
        expect_error(res, 404).await;
        let res = owner
            .http
            .post(format!(
                "{}/self-service/registration?flow={unknown}",
                app.public
            ))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        expect_error(res, 404).await;
    }
}

/// IF-14: an expired flow is replaced with a message (browsers) or answered 410 (JSON).
#[tokio::test]
async fn if_14_expired_flows_restart_with_a_message() {
    let app = browser_app().await;
    let browser = Browser::new();
    let flow = browser
        .start_registration(&app, "?return_to=https://app.test/x")
        .await;
    let id = flow["id"].as_str().unwrap().to_string();
    app.clock.advance(std::time::Duration::from_secs(3601));

    let error = expect_error(browser.fetch_registration(&app, &id).await, 410).await;
    assert_eq!(error["id"], "self_service_flow_expired");
    let restart = error["details"]["redirect_to"].as_str().unwrap();
    assert!(
        restart.starts_with(&format!("{}/self-service/registration/browser", app.public))
            && restart.contains("return_to=https%3A%2F%2Fapp.test%2Fx"),
        "{restart}"
    );

    let res = browser
        .submit(&flow, &sign_up("ada@example.com"), true)
        .await;
    assert_eq!(res.status(), 410);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["id"], "self_service_flow_expired");
    assert_ne!(body["use_flow_id"], id);

    let res = browser
        .submit(&flow, &sign_up("ada@example.com"), false)
        .await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(REGISTRATION_UI), "{location}");
    let fresh_id = location.split("flow=").nth(1).unwrap();
    let fresh: Value = browser
        .fetch_registration(&app, fresh_id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fresh["ui"]["messages"][0]["id"], 4040001);
    assert_eq!(fresh["return_to"], "https://app.test/x");
    assert_eq!(app.identity_count().await, 0);
    let res = browser
        .submit(&fresh, &sign_up("ada@example.com"), false)
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "https://app.test/x");
    assert_eq!(app.identity_count().await, 1);
}

/// IF-19: `return_to` outside the allow-list never becomes a redirect.
#[tokio::test]
async fn if_19_return_to_outside_the_allow_list_is_refused() {
    let app = spawn().await;
    for path in ["browser", "api"] {
        for bad in [
            "https://evil.test",
            "//evil.test",
            "/\\evil.test",
            "javascript:alert(1)",
        ] {
            let url = reqwest::Url::parse_with_params(
                &format!("{}/self-service/registration/{path}", app.public),
                &[("return_to", bad)],
            )
            .unwrap();
            let res = app.http.get(url).send().await.unwrap();
            assert_eq!(
                expect_error(res, 400).await["id"],
                "self_service_flow_return_to_forbidden",
                "{path} {bad}"
            );
        }
    }
}

/// A completed flow cannot register a second time, whatever is replayed.
#[tokio::test]
async fn replayed_submissions_of_a_completed_flow_register_nothing() {
    let app = browser_app().await;
    let browser = Browser::new();
    let flow = browser.start_registration(&app, "").await;
    let res = browser
        .submit(&flow, &sign_up("ada@example.com"), true)
        .await;
    assert_eq!(res.status(), 200);
    let again = browser
        .submit(&flow, &sign_up("grace@example.com"), true)
        .await;
    assert_eq!(
        expect_error(again, 410).await["id"],
        "self_service_flow_expired"
    );
    assert_eq!(app.identity_count().await, 1);
    assert!(app.identities_with("grace@example.com").await.is_empty());
}

/// BI-03: malformed JSON and wrong types get structured 400s; nothing is stored.
#[tokio::test]
async fn bi_03_malformed_bodies_get_structured_errors() {
    let app = browser_app().await;
    let browser = Browser::new();
    let flow = browser.start_registration(&app, "").await;
    let action = flow["ui"]["action"].as_str().unwrap();
    let csrf = node(&flow, "csrf_token")["attributes"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    for raw in [
        "{\"traits\":".to_string(),
        "[]".to_string(),
        format!("{{\"csrf_token\":\"{csrf}\",\"traits\":\"str\",\"password\":\"{PASSWORD}\"}}"),
        format!("{{\"csrf_token\":\"{csrf}\",\"method\":\"password\"}} trailing"),
        format!("{{\"csrf_token\":\"{csrf}\",\"password\":7}}"),
    ] {
        let res = browser
            .http
            .post(action)
            .header("content-type", "application/json")
            .body(raw.clone())
            .send()
            .await
            .unwrap();
        let error = expect_error(res, 400).await;
        let text = error.to_string();
        assert!(
            !text.contains("diesel") && !text.contains("panicked"),
            "{raw}: {text}"
        );
    }
    // A trait of the wrong type is a validation message on its node.
    let res = browser
        .http
        .post(action)
        .json(
            &json!({"csrf_token": csrf, "method": "password", "password": PASSWORD,
            "traits": {"email": 7, "name": {"first": ["x"]}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(node(&body, "traits.email")["messages"][0]["type"], "error");
    assert_eq!(
        node(&body, "traits.name.first")["messages"][0]["type"],
        "error"
    );
    // Dotted trait keys deeper than any schema are refused before they are built.
    let deep = format!("traits.{}", vec!["a"; 10_000].join("."));
    let res = browser
        .submit(&flow, &[(deep.as_str(), "x"), ("password", PASSWORD)], true)
        .await;
    expect_error(res, 400).await;
    assert_eq!(app.identity_count().await, 0);
}

/// BI-01: a 10 MiB body is refused with 413, and the service stays healthy.
#[tokio::test]
async fn bi_01_oversized_bodies_are_refused() {
    let app = browser_app().await;
    let api: Value = app
        .http
        .get(format!("{}/self-service/registration/api", app.public))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let huge = json!({"method": "password", "password": PASSWORD,
        "traits": {"email": "ada@example.com", "name": {"first": "x".repeat(10 << 20)}}});
    let res = app
        .http
        .post(api["ui"]["action"].as_str().unwrap())
        .json(&huge)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let res = app
        .http
        .get(format!("{}/health/alive", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(app.identity_count().await, 0);
}

/// BI-06: invalid UTF-8 in a form or a JSON body is a 400, never stored.
#[tokio::test]
async fn bi_06_invalid_utf8_is_refused() {
    let app = browser_app().await;
    let browser = Browser::new();
    let flow = browser.start_registration(&app, "").await;
    let action = flow["ui"]["action"].as_str().unwrap();
    let csrf = node(&flow, "csrf_token")["attributes"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    let form = format!(
        "csrf_token={csrf}&method=password&password=correct+horse+battery&traits.email=%FF%FE%40example.com"
    );
    let res = browser
        .http
        .post(action)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    expect_error(res, 400).await;
    let mut raw = format!(
        "{{\"csrf_token\":\"{csrf}\",\"password\":\"{PASSWORD}\",\"traits\":{{\"email\":\""
    )
    .into_bytes();
    raw.extend_from_slice(b"\xff\xfe@example.com\"}}");
    let res = browser
        .http
        .post(action)
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();
    expect_error(res, 400).await;
    assert_eq!(app.identity_count().await, 0);
}
