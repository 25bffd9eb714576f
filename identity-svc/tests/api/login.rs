//! The browser login flow (security.md IF-01, IF-11, IF-13, IF-14, IF-15, IF-19).

use serde_json::Value;

use crate::browser::{Browser, PASSWORD, browser_app, form_fields, node};
use crate::flows::{
    assert_return_to_refused, assert_sent_to_ui_with_csrf_cookie, csrf_token, get_public,
};
use crate::helpers::{DEFAULT_RETURN, LOGIN_UI, expect_error, spawn};

#[tokio::test]
async fn browsers_are_sent_to_the_login_ui_with_a_csrf_cookie() {
    let app = spawn().await;
    let flags = ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"];
    assert_sent_to_ui_with_csrf_cookie(&app, "login", LOGIN_UI, &flags).await;
}

/// The form can be filled by reading the flow's nodes alone.
#[tokio::test]
async fn a_flow_describes_its_form_in_nodes() {
    let app = browser_app().await;
    let browser = Browser::new();
    let flow = browser.start_login(&app, "").await;
    assert_eq!(flow["type"], "browser");
    assert_eq!(flow["state"], "choose_method");
    assert_eq!(flow["ui"]["method"], "POST");
    let action = flow["ui"]["action"].as_str().unwrap();
    assert_eq!(
        action,
        format!(
            "{}/self-service/login?flow={}",
            app.public,
            flow["id"].as_str().unwrap()
        )
    );
    assert_eq!(node(&flow, "csrf_token")["attributes"]["type"], "hidden");
    assert_eq!(node(&flow, "identifier")["meta"]["label"]["id"], 1070004);
    assert_eq!(
        node(&flow, "password")["attributes"]["autocomplete"],
        "current-password"
    );
    assert_eq!(node(&flow, "method")["attributes"]["value"], "password");
    let names: Vec<_> = form_fields(&flow).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["csrf_token", "method"]);

    // The same flow fetched again shows a freshly masked token for the same cookie.
    let id = flow["id"].as_str().unwrap();
    let fetched: Value = browser.fetch_flow(&app, id).await.json().await.unwrap();
    assert_ne!(
        node(&fetched, "csrf_token")["attributes"]["value"],
        node(&flow, "csrf_token")["attributes"]["value"]
    );
}

#[tokio::test]
async fn a_correct_password_starts_a_session() {
    let app = browser_app().await;
    let person = app.create_person_with_password("ada@example.com").await;
    let browser = Browser::new();
    let flow = browser
        .start_login(&app, "?return_to=https://app.test/after")
        .await;
    let res = browser
        .submit(
            &flow,
            &[("identifier", " ADA@example.com "), ("password", PASSWORD)],
            false,
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "https://app.test/after");
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
    assert!(
        session_cookie.contains("HttpOnly") && session_cookie.contains("SameSite=Lax"),
        "{session_cookie}"
    );
    assert!(
        cookies.iter().any(|c| c.starts_with("olympus_csrf=")),
        "the CSRF token is renewed at login"
    );

    let res = browser.whoami(&app).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["x-kratos-authenticated-identity-id"],
        person["id"].as_str().unwrap()
    );
    let session: Value = res.json().await.unwrap();
    assert_eq!(session["active"], true);
    assert_eq!(session["authenticator_assurance_level"], "aal1");
    assert_eq!(session["authentication_methods"][0]["method"], "password");
    assert_eq!(session["identity"]["id"], person["id"]);
    assert_eq!(session["identity"]["traits"]["email"], "ada@example.com");
    assert!(session["identity"].get("metadata_admin").is_none());

    // The flow is spent: its form token belonged to the pre-login CSRF cookie, which login
    // replaced, so a resubmission is refused before it could log in twice.
    let again = browser
        .submit(
            &flow,
            &[("identifier", "ada@example.com"), ("password", PASSWORD)],
            true,
        )
        .await;
    assert_eq!(
        expect_error(again, 403).await["id"],
        "security_csrf_violation"
    );
}

/// IF-01: unknown identifier, wrong password and inactive identity look the same.
#[tokio::test]
async fn failed_logins_are_indistinguishable() {
    let app = browser_app().await;
    app.create_person_with_password("ada@example.com").await;
    let inactive = app.create_person_with_password("gone@example.com").await;
    assert_eq!(inactive["state"], "active");
    let res = app
        .create_identity(serde_json::json!({"schema_id": "default", "traits": {"email": "off@example.com"}, "state": "inactive",
            "credentials": {"password": {"config": {"password": PASSWORD}}}}))
        .await;
    assert_eq!(res.status(), 201);
    let browser = Browser::new();
    let mut bodies = Vec::new();
    for (identifier, password) in [
        ("ada@example.com", "wrong password"),
        ("nobody@example.com", PASSWORD),
        // A wrong password; the right one is answered with identity_disabled (lifecycle.rs).
        ("off@example.com", "wrong password"),
    ] {
        let flow = browser.start_login(&app, "").await;
        let res = browser
            .submit(
                &flow,
                &[("identifier", identifier), ("password", password)],
                true,
            )
            .await;
        assert_eq!(res.status(), 400, "{identifier}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            body["ui"]["messages"][0]["id"], 4000006,
            "{identifier}: {body}"
        );
        let mut text = body["ui"]["messages"].clone();
        text[0].as_object_mut().unwrap().remove("context");
        bodies.push(text);
        assert_eq!(
            node(&body, "identifier")["attributes"]["value"],
            identifier,
            "the identifier is kept"
        );
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
    assert_eq!(browser.whoami(&app).await.status(), 401);
}

#[tokio::test]
async fn browser_form_errors_return_to_the_same_flow() {
    let app = browser_app().await;
    let browser = Browser::new();
    let flow = browser.start_login(&app, "").await;
    let id = flow["id"].as_str().unwrap();
    let res = browser
        .submit(&flow, &[("identifier", "ada@example.com")], false)
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"].to_str().unwrap(),
        format!("{LOGIN_UI}?flow={id}")
    );
    let shown: Value = browser.fetch_flow(&app, id).await.json().await.unwrap();
    assert_eq!(node(&shown, "password")["messages"][0]["id"], 4000002);
    assert_eq!(
        node(&shown, "identifier")["attributes"]["value"],
        "ada@example.com"
    );
}

/// IF-11: missing, foreign or cookie-less CSRF tokens are refused before anything else.
#[tokio::test]
async fn csrf_violations_are_refused() {
    let app = browser_app().await;
    app.create_person_with_password("ada@example.com").await;
    let victim = Browser::new();
    let attacker = Browser::new();
    let flow = victim.start_login(&app, "").await;
    let attacker_flow = attacker.start_login(&app, "").await;
    let good = [("identifier", "ada@example.com"), ("password", PASSWORD)];

    let mut without_token = good.to_vec();
    without_token.push(("csrf_token", ""));
    let foreign = csrf_token(&attacker_flow);
    let mut with_foreign = good.to_vec();
    with_foreign.push(("csrf_token", &foreign));
    for typed in [without_token, with_foreign] {
        let res = victim.submit(&flow, &typed, true).await;
        let error = expect_error(res, 403).await;
        assert_eq!(error["id"], "security_csrf_violation");
    }
    // The attacker posts the victim's flow with the victim's form token but the attacker's cookie.
    let res = attacker.submit(&flow, &good, true).await;
    assert_eq!(
        expect_error(res, 403).await["id"],
        "security_csrf_violation"
    );
    // No cookie at all.
    let bare = reqwest::Client::new();
    let mut fields = form_fields(&flow);
    fields.extend(good.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let res = bare
        .post(flow["ui"]["action"].as_str().unwrap())
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_error(res, 403).await["id"],
        "security_csrf_violation"
    );
    // A JSON body disguised as text/plain changes nothing either.
    let res = victim
        .http
        .post(flow["ui"]["action"].as_str().unwrap())
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    assert_eq!(victim.whoami(&app).await.status(), 401);
    assert_eq!(attacker.whoami(&app).await.status(), 401);
}

/// IF-13: a flow is shown only to the browser that started it.
#[tokio::test]
async fn flows_are_bound_to_their_browser() {
    let app = browser_app().await;
    let owner = Browser::new();
    let flow = owner.start_login(&app, "").await;
    let id = flow["id"].as_str().unwrap();
    assert_eq!(owner.fetch_flow(&app, id).await.status(), 200);
    let res = Browser::new().fetch_flow(&app, id).await;
    assert_eq!(
        expect_error(res, 403).await["id"],
        "security_csrf_violation"
    );
    for unknown in [uuid::Uuid::now_v7().to_string(), "not-a-uuid".to_string()] {
        assert_eq!(owner.fetch_flow(&app, &unknown).await.status(), 404);
    }
}

/// IF-14: an expired flow is replaced, with a message, never silently accepted.
#[tokio::test]
async fn expired_flows_restart_with_a_message() {
    let app = browser_app().await;
    app.create_person_with_password("ada@example.com").await;
    let browser = Browser::new();
    let flow = browser
        .start_login(&app, "?return_to=https://app.test/x")
        .await;
    let id = flow["id"].as_str().unwrap().to_string();
    app.clock.advance(std::time::Duration::from_secs(3601));

    let res = browser.fetch_flow(&app, &id).await;
    let error = expect_error(res, 410).await;
    assert_eq!(error["id"], "self_service_flow_expired");
    assert!(
        error["details"]["redirect_to"]
            .as_str()
            .unwrap()
            .contains("return_to=https%3A%2F%2Fapp.test%2Fx")
    );

    let good = [("identifier", "ada@example.com"), ("password", PASSWORD)];
    let res = browser.submit(&flow, &good, true).await;
    assert_eq!(res.status(), 410);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["id"], "self_service_flow_expired");
    let replacement = body["use_flow_id"].as_str().unwrap().to_string();
    assert_ne!(replacement, id);

    let res = browser.submit(&flow, &good, false).await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let fresh_id = location.split("flow=").nth(1).unwrap();
    let fresh: Value = browser
        .fetch_flow(&app, fresh_id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fresh["ui"]["messages"][0]["id"], 4010001);
    assert_eq!(fresh["return_to"], "https://app.test/x");
    // The replacement works.
    let res = browser.submit(&fresh, &good, true).await;
    assert_eq!(res.status(), 200);
}

/// IF-19: `return_to` outside the allow-list never becomes a redirect.
#[tokio::test]
async fn return_to_outside_the_allow_list_is_refused() {
    let app = spawn().await;
    for bad in [
        "https://evil.test",
        "//evil.test",
        "/\\evil.test",
        "https://app.test@evil.test/",
        "javascript:alert(1)",
    ] {
        assert_return_to_refused(&app, "/self-service/login/browser", bad).await;
    }
    let res = get_public(
        &app.http,
        &app,
        "/self-service/login/browser?return_to=https://app.test/ok",
        false,
    )
    .await;
    assert_eq!(res.status(), 303);
}

/// IF-15: logging in again replaces the browser's session; the old token stops working.
#[tokio::test]
async fn logging_in_again_replaces_the_session() {
    let app = browser_app().await;
    app.create_person_with_password("ada@example.com").await;
    let browser = Browser::new();
    let first = browser.log_in(&app, "ada@example.com").await;
    let res = get_public(&browser.http, &app, "/self-service/login/browser", false).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        DEFAULT_RETURN,
        "signed-in browsers skip the form"
    );
    let flow = browser.start_login(&app, "?refresh=true").await;
    let res = browser
        .submit(
            &flow,
            &[("identifier", "ada@example.com"), ("password", PASSWORD)],
            true,
        )
        .await;
    let second: Value = res.json().await.unwrap();
    assert_ne!(first["session"]["id"], second["session"]["id"]);
    let whoami: Value = browser.whoami(&app).await.json().await.unwrap();
    assert_eq!(whoami["id"], second["session"]["id"]);
}
