//! Security keys as a second factor (the `webauthn` method): registered in the settings flow,
//! then proven in an `aal=aal2` login flow after the password, which lifts the session to aal2.

use serde_json::{Value, json};

use crate::authenticator::{Authenticator, ORIGIN, RP_ID};
use crate::browser::node;
use crate::flows::{
    api_token, get_with_token, message_ids, start_api_with_token, submit_with_token,
};
use crate::helpers::{TestApp, fresh_database, spawn_on};

const ADA: &str = "ada@example.com";

async fn webauthn_app() -> TestApp {
    spawn_on(fresh_database(), |s| {
        s.dev = true;
        let webauthn = &mut s.selfservice.methods.webauthn;
        webauthn.enabled = true;
        webauthn.config.rp.id = Some(RP_ID.into());
        webauthn.config.rp.origins = vec![ORIGIN.into()];
    })
    .await
}

fn value_json(flow: &Value, name: &str) -> Value {
    serde_json::from_str(node(flow, name)["attributes"]["value"].as_str().unwrap()).unwrap()
}

/// Ada adds `key` as a security key named "YubiKey"; returns the settings flow after it.
async fn add_key(app: &TestApp, token: &str, key: &mut Authenticator) -> Value {
    let flow = start_api_with_token(app, "settings", token).await;
    assert!(
        flow["ui"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["group"] != "passkey")
    );
    let credential = key.create(&value_json(&flow, "webauthn_register_trigger"), ORIGIN);
    let body = json!({
        "method": "webauthn",
        "webauthn_register": credential,
        "webauthn_register_displayname": "YubiKey",
    });
    let res = submit_with_token(app, token, &flow, body).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn aal2_flow(app: &TestApp, token: &str) -> reqwest::Response {
    get_with_token(app, "/self-service/login/api?aal=aal2", token).await
}

async fn prove(app: &TestApp, token: &str, flow: &Value, assertion: &str) -> reqwest::Response {
    let body = json!({"method": "webauthn", "webauthn_login": assertion});
    submit_with_token(app, token, flow, body).await
}

#[tokio::test]
async fn a_security_key_after_the_password_gives_aal2() {
    let app = webauthn_app().await;
    let ada = app.create_person_with_password(ADA).await;
    let mut key = Authenticator::new();
    let token = api_token(&app, ADA).await;
    let saved = add_key(&app, &token, &mut key).await;
    let remove = node(&saved, "webauthn_remove");
    assert_eq!(remove["attributes"]["value"], key.id());
    assert_eq!(remove["meta"]["label"]["id"], 1050018);
    assert_eq!(
        remove["meta"]["label"]["context"]["display_name"],
        "YubiKey"
    );

    let id = ada["id"].as_str().unwrap();
    let res = app
        .get(&format!(
            "/admin/identities/{id}?include_credential=webauthn"
        ))
        .await;
    let identity: Value = res.json().await.unwrap();
    assert_eq!(
        identity["credentials"]["webauthn"]["identifiers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let token = api_token(&app, ADA).await;
    let flow: Value = aal2_flow(&app, &token).await.json().await.unwrap();
    assert_eq!(flow["requested_aal"], "aal2");
    let trigger = node(&flow, "webauthn_login_trigger");
    assert_eq!(trigger["meta"]["label"]["id"], 1010008);
    let options = value_json(&flow, "webauthn_login_trigger");
    let allowed = options["publicKey"]["allowCredentials"].as_array().unwrap();
    assert_eq!(allowed[0]["id"], key.id());

    let assertion = key.get(&options, ORIGIN);
    let res = prove(&app, &token, &flow, &assertion).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let session = &body["session"];
    assert_eq!(session["authenticator_assurance_level"], "aal2");
    let methods: Vec<&str> = session["authentication_methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["password", "webauthn"]);
    assert_eq!(session["authentication_methods"][1]["aal"], "aal2");

    // The upgraded token is the one that works now.
    let upgraded = body["session_token"].as_str().unwrap();
    let whoami = get_with_token(&app, "/sessions/whoami", upgraded).await;
    let whoami: Value = whoami.json().await.unwrap();
    assert_eq!(whoami["authenticator_assurance_level"], "aal2");
}

#[tokio::test]
async fn a_replayed_or_foreign_assertion_does_not_step_up() {
    let app = webauthn_app().await;
    app.create_person_with_password(ADA).await;
    let mut key = Authenticator::new();
    let token = api_token(&app, ADA).await;
    add_key(&app, &token, &mut key).await;

    let token = api_token(&app, ADA).await;
    let first: Value = aal2_flow(&app, &token).await.json().await.unwrap();
    let captured = key.get(&value_json(&first, "webauthn_login_trigger"), ORIGIN);
    let second: Value = aal2_flow(&app, &token).await.json().await.unwrap();
    let res = prove(&app, &token, &second, &captured).await;
    assert_eq!(res.status(), 400);
    let flow: Value = res.json().await.unwrap();
    assert!(message_ids(&flow).contains(&4000006), "{flow}");

    let phished = key.get(
        &value_json(&flow, "webauthn_login_trigger"),
        "https://evil.example",
    );
    let res = prove(&app, &token, &second, &phished).await;
    assert_eq!(res.status(), 400);

    // A used challenge is gone: the first flow's own assertion, sent twice, counts once.
    assert_eq!(prove(&app, &token, &first, &captured).await.status(), 200);
    let whoami = get_with_token(&app, "/sessions/whoami", &token).await;
    assert_eq!(whoami.status(), 401, "the aal1 token was replaced");
}

#[tokio::test]
async fn a_removed_key_is_no_second_factor() {
    let app = webauthn_app().await;
    app.create_person_with_password(ADA).await;
    let mut key = Authenticator::new();
    let token = api_token(&app, ADA).await;
    add_key(&app, &token, &mut key).await;

    // With a second factor set up, settings need aal2 (`highest_available`) first.
    let res = get_with_token(&app, "/self-service/settings/api", &token).await;
    assert_eq!(res.status(), 403);
    let body = json!({"method": "webauthn", "webauthn_remove": key.id()});
    let flow: Value = aal2_flow(&app, &token).await.json().await.unwrap();
    let assertion = key.get(&value_json(&flow, "webauthn_login_trigger"), ORIGIN);
    let res = prove(&app, &token, &flow, &assertion).await;
    let stepped: Value = res.json().await.unwrap();
    let token = stepped["session_token"].as_str().unwrap().to_string();
    let saved = start_api_with_token(&app, "settings", &token).await;
    let res = submit_with_token(&app, &token, &saved, body).await;
    assert_eq!(res.status(), 200);
    let flow: Value = res.json().await.unwrap();
    let nodes = flow["ui"]["nodes"].as_array().unwrap();
    assert!(
        !nodes
            .iter()
            .any(|n| n["attributes"]["name"] == "webauthn_remove")
    );

    let token = api_token(&app, ADA).await;
    assert_eq!(aal2_flow(&app, &token).await.status(), 400);
}
