//! The registration form: where browsers are sent, the nodes the identity schema gives, and the
//! messages a refused submission shows.

use serde_json::{Value, json};

use crate::browser::{Browser, PASSWORD, browser_app, node};
use crate::flows::{REGISTRATION_UI, assert_sent_to_ui_with_csrf_cookie, get_public, sign_up};
use crate::helpers::spawn;

#[tokio::test]
async fn browsers_are_sent_to_the_registration_ui_with_a_csrf_cookie() {
    let app = spawn().await;
    let flags = ["HttpOnly", "SameSite=Lax", "Secure"];
    assert_sent_to_ui_with_csrf_cookie(&app, "registration", REGISTRATION_UI, &flags).await;
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

    let api: Value = get_public(&app.http, &app, "/self-service/registration/api", false)
        .await
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
