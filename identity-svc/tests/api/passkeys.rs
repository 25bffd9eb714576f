//! Passkeys (the `passkey` method): registered in the settings flow with a software
//! authenticator, then used for usernameless sign-in in browser and API login flows; the
//! refusals a relying party owes its users (wrong origin, replay, removed key, cloned key).

use std::time::Duration;

use serde_json::{Value, json};

use crate::authenticator::{Authenticator, ORIGIN, RP_ID};
use crate::browser::{Browser, PASSWORD, node};
use crate::flows::{api_token, get_public, message_ids, start_api_with_token, submit_with_token};
use crate::helpers::{DEFAULT_RETURN, TestApp, expect_error, fresh_database, spawn_on};

const ADA: &str = "ada@example.com";

pub async fn passkey_app() -> TestApp {
    spawn_on(fresh_database(), |s| {
        s.dev = true;
        let passkey = &mut s.selfservice.methods.passkey;
        passkey.enabled = true;
        passkey.config.rp.id = Some(RP_ID.into());
        passkey.config.rp.display_name = Some("Olympus".into());
        passkey.config.rp.origins = vec![ORIGIN.into()];
        s.selfservice.flows.settings.privileged_session_max_age = Duration::from_secs(300);
    })
    .await
}

/// The JSON a node carries as its string value.
fn node_json(flow: &Value, name: &str) -> Value {
    serde_json::from_str(node(flow, name)["attributes"]["value"].as_str().unwrap()).unwrap()
}

/// Ada (with a password) adds `authenticator` as a passkey through an API settings flow.
async fn register(app: &TestApp, authenticator: &mut Authenticator) -> String {
    let token = api_token(app, ADA).await;
    let flow = start_api_with_token(app, "settings", &token).await;
    let options = node_json(&flow, "passkey_create_data")["credentialOptions"].clone();
    assert_eq!(
        options["publicKey"]["authenticatorSelection"]["residentKey"],
        "required"
    );
    let credential = authenticator.create(&options, ORIGIN);
    let body = json!({"method": "passkey", "passkey_register": credential});
    let res = submit_with_token(app, &token, &flow, body).await;
    assert_eq!(res.status(), 200);
    let flow: Value = res.json().await.unwrap();
    assert_eq!(flow["state"], "success");
    token
}

async fn api_flow(app: &TestApp) -> Value {
    get_public(&app.http, app, "/self-service/login/api", false)
        .await
        .json()
        .await
        .unwrap()
}

async fn submit_assertion(app: &TestApp, flow: &Value, assertion: &str) -> reqwest::Response {
    app.http
        .post(flow["ui"]["action"].as_str().unwrap())
        .json(&json!({"method": "passkey", "passkey_login": assertion}))
        .send()
        .await
        .unwrap()
}

/// A refused sign-in: 400 with the flow (and its new challenge) and Kratos'
/// invalid-credentials message.
async fn assert_refused(res: reqwest::Response) -> Value {
    assert_eq!(res.status(), 400);
    let flow: Value = res.json().await.unwrap();
    assert!(message_ids(&flow).contains(&4000006), "{flow}");
    assert!(flow.get("session_token").is_none());
    flow
}

#[tokio::test]
async fn a_registered_passkey_signs_in_over_the_api_and_in_a_browser() {
    let app = passkey_app().await;
    let ada = app.create_person_with_password(ADA).await;
    let mut authenticator = Authenticator::new();
    register(&app, &mut authenticator).await;

    let id = ada["id"].as_str().unwrap();
    let res = app
        .get(&format!(
            "/admin/identities/{id}?include_credential=passkey"
        ))
        .await;
    let identity: Value = res.json().await.unwrap();
    let passkey = &identity["credentials"]["passkey"];
    assert_eq!(passkey["identifiers"].as_array().unwrap().len(), 1);
    assert!(passkey.get("config").is_none(), "{passkey}");

    let flow = api_flow(&app).await;
    let assertion = authenticator.get(&node_json(&flow, "passkey_challenge"), ORIGIN);
    let res = submit_assertion(&app, &flow, &assertion).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["session"]["identity"]["id"], ada["id"]);
    assert_eq!(body["session"]["authenticator_assurance_level"], "aal1");
    assert_eq!(
        body["session"]["authentication_methods"][0]["method"],
        "passkey"
    );
    assert!(body["session_token"].as_str().is_some());

    let browser = Browser::new();
    let flow = browser.start_login(&app, "").await;
    let trigger = node(&flow, "passkey_login_trigger");
    assert_eq!(trigger["attributes"]["type"], "button");
    assert_eq!(trigger["meta"]["label"]["id"], 1010021);
    let assertion = authenticator.get(&node_json(&flow, "passkey_challenge"), ORIGIN);
    let fields = [("method", "passkey"), ("passkey_login", assertion.as_str())];
    let res = browser.submit(&flow, &fields, false).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], DEFAULT_RETURN);
    let whoami: Value = browser.whoami(&app).await.json().await.unwrap();
    assert_eq!(whoami["identity"]["id"], ada["id"]);
    assert_eq!(whoami["authentication_methods"][0]["method"], "passkey");
}

#[tokio::test]
async fn an_assertion_for_another_origin_is_refused() {
    let app = passkey_app().await;
    app.create_person_with_password(ADA).await;
    let mut authenticator = Authenticator::new();
    register(&app, &mut authenticator).await;
    let flow = api_flow(&app).await;
    let phished = authenticator.get(
        &node_json(&flow, "passkey_challenge"),
        "https://login.olympus.test.evil.example",
    );
    assert_refused(submit_assertion(&app, &flow, &phished).await).await;
}

#[tokio::test]
async fn a_challenge_answers_once() {
    let app = passkey_app().await;
    app.create_person_with_password(ADA).await;
    let mut authenticator = Authenticator::new();
    register(&app, &mut authenticator).await;

    // A captured assertion does not sign in on another flow (another challenge).
    let first = api_flow(&app).await;
    let captured = authenticator.get(&node_json(&first, "passkey_challenge"), ORIGIN);
    let other = api_flow(&app).await;
    assert_refused(submit_assertion(&app, &other, &captured).await).await;

    // Any submission consumes the flow's challenge: the captured assertion comes too late.
    let res = submit_assertion(&app, &first, "{\"not\": \"an assertion\"}").await;
    assert_eq!(res.status(), 400);
    let renewed: Value = res.json().await.unwrap();
    assert_ne!(
        node_json(&renewed, "passkey_challenge"),
        node_json(&first, "passkey_challenge")
    );
    let latest = assert_refused(submit_assertion(&app, &first, &captured).await).await;

    // The flow's current challenge works.
    let assertion = authenticator.get(&node_json(&latest, "passkey_challenge"), ORIGIN);
    assert_eq!(
        submit_assertion(&app, &first, &assertion).await.status(),
        200
    );
}

#[tokio::test]
async fn a_removed_passkey_no_longer_signs_in() {
    let app = passkey_app().await;
    app.create_person_with_password(ADA).await;
    let mut authenticator = Authenticator::new();
    let token = register(&app, &mut authenticator).await;
    let login = api_flow(&app).await;
    let assertion = authenticator.get(&node_json(&login, "passkey_challenge"), ORIGIN);

    let flow = start_api_with_token(&app, "settings", &token).await;
    let remove = node(&flow, "passkey_remove");
    assert_eq!(remove["attributes"]["value"], authenticator.id());
    let body = json!({"method": "passkey", "passkey_remove": authenticator.id()});
    let res = submit_with_token(&app, &token, &flow, body).await;
    assert_eq!(res.status(), 200);
    let flow: Value = res.json().await.unwrap();
    let nodes = flow["ui"]["nodes"].as_array().unwrap();
    assert!(
        !nodes
            .iter()
            .any(|n| n["attributes"]["name"] == "passkey_remove")
    );

    assert_refused(submit_assertion(&app, &login, &assertion).await).await;
}

#[tokio::test]
async fn a_counter_that_goes_backwards_is_refused() {
    let app = passkey_app().await;
    app.create_person_with_password(ADA).await;
    let mut authenticator = Authenticator::new();
    register(&app, &mut authenticator).await;
    authenticator.counter = 10;
    let flow = api_flow(&app).await;
    let assertion = authenticator.get(&node_json(&flow, "passkey_challenge"), ORIGIN);
    assert_eq!(
        submit_assertion(&app, &flow, &assertion).await.status(),
        200
    );

    // A clone of the key still at counter 5 signs next.
    authenticator.counter = 5;
    let flow = api_flow(&app).await;
    let assertion = authenticator.get(&node_json(&flow, "passkey_challenge"), ORIGIN);
    assert_refused(submit_assertion(&app, &flow, &assertion).await).await;
}

#[tokio::test]
async fn adding_a_passkey_needs_a_recent_sign_in() {
    let app = passkey_app().await;
    app.create_person_with_password(ADA).await;
    let token = api_token(&app, ADA).await;
    let flow = start_api_with_token(&app, "settings", &token).await;
    app.clock.advance(Duration::from_secs(301));
    let options = node_json(&flow, "passkey_create_data")["credentialOptions"].clone();
    let credential = Authenticator::new().create(&options, ORIGIN);
    let body = json!({"method": "passkey", "passkey_register": credential});
    let res = submit_with_token(&app, &token, &flow, body).await;
    let error = expect_error(res, 403).await;
    assert_eq!(error["id"], "session_refresh_required");
}

#[tokio::test]
async fn without_the_method_there_are_no_nodes_and_no_passkey_sign_in() {
    let app = spawn_on(fresh_database(), |s| s.dev = true).await;
    app.create_person_with_password(ADA).await;
    let flow = api_flow(&app).await;
    let nodes = flow["ui"]["nodes"].as_array().unwrap();
    assert!(nodes.iter().all(|n| n["group"] != "passkey"));
    let res = submit_assertion(&app, &flow, "{}").await;
    assert_eq!(res.status(), 400);
    let flow: Value = res.json().await.unwrap();
    assert!(message_ids(&flow).contains(&4010002), "{flow}");
    let _ = PASSWORD;
}

#[tokio::test]
async fn an_enabled_method_without_a_relying_party_refuses_to_start() {
    let mut settings = crate::helpers::settings_for("http://127.0.0.1:1");
    settings.selfservice.methods.passkey.enabled = true;
    let refused = |settings: identity_svc::Settings| match settings.validate() {
        Ok(_) => panic!("started without a relying party"),
        Err(err) => err.to_string(),
    };
    let err = refused(settings.clone());
    assert!(err.contains("passkey.config.rp"), "{err}");
    settings.selfservice.methods.passkey.config.rp.id = Some(RP_ID.into());
    let err = refused(settings);
    assert!(err.contains("origins"), "{err}");
}

#[tokio::test]
async fn the_webauthn_script_is_served_as_javascript() {
    let app = passkey_app().await;
    let res = get_public(&app.http, &app, "/.well-known/ory/webauthn.js", false).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let script = res.text().await.unwrap();
    assert!(script.contains("navigator.credentials.get"));
    assert!(script.contains("passkey_login_trigger"));
}

#[tokio::test]
async fn a_browser_adds_a_passkey_by_form_post_and_an_spa_signs_in_with_it() {
    let app = passkey_app().await;
    let ada = app.create_person_with_password(ADA).await;
    let browser = Browser::new();
    browser.log_in(&app, ADA).await;
    let flow = browser.start_settings(&app).await;
    let options = node_json(&flow, "passkey_create_data")["credentialOptions"].clone();
    let mut authenticator = Authenticator::new();
    let credential = authenticator.create(&options, ORIGIN);
    let fields = [
        ("method", "passkey"),
        ("passkey_register", credential.as_str()),
    ];
    let res = browser.submit(&flow, &fields, false).await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("https://ui.test/settings"),
        "{location}"
    );
    let id = flow["id"].as_str().unwrap();
    let saved: Value = browser.fetch_settings(&app, id).await.json().await.unwrap();
    assert_eq!(saved["state"], "success");
    assert_eq!(saved["active"], "passkey");
    assert_eq!(
        node(&saved, "passkey_remove")["attributes"]["value"],
        authenticator.id()
    );

    let spa = Browser::new();
    let flow = spa.start_login(&app, "").await;
    let assertion = authenticator.get(&node_json(&flow, "passkey_challenge"), ORIGIN);
    let fields = [("method", "passkey"), ("passkey_login", assertion.as_str())];
    let res = spa.submit(&flow, &fields, true).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["session"]["identity"]["id"], ada["id"]);
    assert!(
        body.get("session_token").is_none_or(Value::is_null),
        "{body}"
    );
    assert_eq!(body["continue_with"][0]["action"], "redirect_browser_to");
    assert_eq!(spa.whoami(&app).await.status(), 200);
}

#[tokio::test]
async fn a_replay_on_a_used_flow_gets_a_new_flow_with_its_own_challenge() {
    let app = passkey_app().await;
    app.create_person_with_password(ADA).await;
    let mut authenticator = Authenticator::new();
    register(&app, &mut authenticator).await;
    let flow = api_flow(&app).await;
    let assertion = authenticator.get(&node_json(&flow, "passkey_challenge"), ORIGIN);
    assert_eq!(
        submit_assertion(&app, &flow, &assertion).await.status(),
        200
    );

    let res = submit_assertion(&app, &flow, &assertion).await;
    assert_eq!(res.status(), 410);
    let body: Value = res.json().await.unwrap();
    let replacement = body["use_flow_id"].as_str().unwrap();
    let path = format!("/self-service/login/flows?id={replacement}");
    let replacement: Value = get_public(&app.http, &app, &path, false)
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(
        node_json(&replacement, "passkey_challenge"),
        node_json(&flow, "passkey_challenge")
    );
    assert_refused(submit_assertion(&app, &replacement, &assertion).await).await;
}

#[tokio::test]
async fn an_identity_holds_at_most_twenty_passkeys() {
    let app = passkey_app().await;
    app.create_person_with_password(ADA).await;
    for _ in 0..20 {
        register(&app, &mut Authenticator::new()).await;
    }
    let token = api_token(&app, ADA).await;
    let flow = start_api_with_token(&app, "settings", &token).await;
    let options = node_json(&flow, "passkey_create_data")["credentialOptions"].clone();
    let credential = Authenticator::new().create(&options, ORIGIN);
    let body = json!({"method": "passkey", "passkey_register": credential});
    let res = submit_with_token(&app, &token, &flow, body).await;
    assert_eq!(res.status(), 400);
    let refused: Value = res.json().await.unwrap();
    assert!(
        refused.to_string().contains("You already have 20 keys"),
        "{refused}"
    );
}
