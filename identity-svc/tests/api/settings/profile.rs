//! Changing traits: the browser form, the API flow, the session it needs, and verification
//! mails for new addresses.

use serde_json::{Value, json};

use super::{ADA, settings_app, submit_traits};
use crate::browser::{Browser, PASSWORD, node};
use crate::courier::{SETTINGS_UI, mail_app};
use crate::flows::{api_login, api_token, get_public, message_ids, sign_up, start_api_with_token};
use crate::helpers::expect_error;
use crate::smtp_sink::SmtpSink;

#[tokio::test]
async fn a_browser_form_changes_the_profile() {
    let app = settings_app().await;
    app.create_person_with_password(ADA).await;
    let browser = Browser::new();
    browser.log_in(&app, ADA).await;
    let res = get_public(&browser.http, &app, "/self-service/settings/browser", false).await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("{SETTINGS_UI}?flow=")),
        "{location}"
    );
    let id = location.split("flow=").nth(1).unwrap().to_string();
    let res = browser.fetch_settings(&app, &id).await;
    assert_eq!(res.status(), 200);
    let flow: Value = res.json().await.unwrap();
    assert_eq!(flow["type"], "browser");
    assert_eq!(flow["state"], "show_form");
    assert_eq!(flow["identity"]["traits"]["email"], ADA);
    assert_eq!(node(&flow, "traits.email")["group"], "profile");
    assert_eq!(node(&flow, "traits.email")["attributes"]["value"], ADA);
    assert_eq!(node(&flow, "password")["group"], "password");
    assert!(node(&flow, "password")["attributes"].get("value").is_none());
    assert_eq!(node(&flow, "csrf_token")["group"], "default");

    let res = browser
        .submit(
            &flow,
            &[("method", "profile"), ("traits.name.first", "Augusta")],
            false,
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], location.as_str());
    let flow: Value = browser
        .fetch_settings(&app, &id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(flow["state"], "success");
    assert_eq!(flow["active"], "profile");
    assert_eq!(message_ids(&flow), [1050001]);
    assert_eq!(flow["identity"]["traits"]["name"]["first"], "Augusta");
    assert_eq!(flow["identity"]["traits"]["email"], ADA);
    let whoami: Value = browser.whoami(&app).await.json().await.unwrap();
    assert_eq!(whoami["identity"]["traits"]["name"]["first"], "Augusta");
}

#[tokio::test]
async fn settings_need_a_session() {
    let app = settings_app().await;
    let res = get_public(&app.http, &app, "/self-service/settings/browser", false).await;
    assert_eq!(res.status(), 303);
    super::assert_sent_to_login(&app, &res);
    let res = get_public(&app.http, &app, "/self-service/settings/browser", true).await;
    assert_eq!(expect_error(res, 401).await["id"], "session_inactive");
    let res = get_public(&app.http, &app, "/self-service/settings/api", false).await;
    assert_eq!(expect_error(res, 401).await["id"], "session_inactive");
    let res = get_public(
        &app.http,
        &app,
        "/self-service/settings/flows?id=0193a1f2-7c44-7d1e-9b2a-5e6f7a8b9c0d",
        false,
    )
    .await;
    expect_error(res, 401).await;
}

#[tokio::test]
async fn an_api_flow_changes_the_email_and_unverifies_the_address() {
    let app = settings_app().await;
    let person = app.create_person_with_password(ADA).await;
    let id = person["id"].as_str().unwrap();
    let res = app
        .http
        .patch(format!("{}/admin/identities/{id}", app.admin))
        .json(&json!([
            {"op": "replace", "path": "/verifiable_addresses/0/verified", "value": true},
            {"op": "replace", "path": "/verifiable_addresses/0/status", "value": "completed"}
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let token = api_token(&app, ADA).await;
    let flow = start_api_with_token(&app, "settings", &token).await;
    assert_eq!(flow["type"], "api");
    assert!(
        !flow["ui"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["attributes"]["name"] == "csrf_token")
    );
    let traits = json!({"email": "lovelace@example.com", "name": {"first": "Ada"}});
    let res = submit_traits(&app, &token, &flow, traits).await;
    assert_eq!(res.status(), 200);
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["state"], "success");
    let address = &done["identity"]["verifiable_addresses"][0];
    assert_eq!(address["value"], "lovelace@example.com");
    assert_eq!(address["verified"], false);
    assert_eq!(address["status"], "pending");
    assert_eq!(
        done["identity"]["recovery_addresses"][0]["value"],
        "lovelace@example.com"
    );
    assert_eq!(app.identities_with("lovelace@example.com").await.len(), 1);
    assert!(app.identities_with(ADA).await.is_empty());
    assert_eq!(
        api_login(&app, "lovelace@example.com", PASSWORD)
            .await
            .status(),
        200
    );

    // A taken address is refused on the form, and nothing changes.
    app.create_person_with_password("bob@example.com").await;
    let flow = start_api_with_token(&app, "settings", &token).await;
    let traits = json!({"email": "bob@example.com"});
    let res = submit_traits(&app, &token, &flow, traits).await;
    assert_eq!(res.status(), 400);
    let rejected: Value = res.json().await.unwrap();
    assert_eq!(message_ids(&rejected), [4000007]);
    assert_eq!(
        node(&rejected, "traits.email")["attributes"]["value"],
        "bob@example.com"
    );
    assert_eq!(
        rejected["identity"]["traits"]["email"],
        "lovelace@example.com"
    );
}

#[tokio::test]
async fn new_addresses_get_a_verification_code_by_mail() {
    let sink = SmtpSink::start().await;
    let app = mail_app(&sink).await;
    let browser = Browser::new();
    let flow = browser.start_registration(&app, "").await;
    let res = browser.submit(&flow, &sign_up(ADA), false).await;
    assert_eq!(res.status(), 303);
    let code = sink.code_for(ADA, 1).await;
    assert_eq!(code.len(), 6);
    assert!(code.chars().all(|c| c.is_ascii_digit()));
    let messages: Vec<Value> = app
        .get("/admin/courier/messages")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["template_type"], "verification_code_valid");

    // A changed address in settings gets one too, and the flow says where to enter it.
    let token = api_token(&app, ADA).await;
    let flow = start_api_with_token(&app, "settings", &token).await;
    let traits = json!({"email": "lovelace@example.com"});
    let res = submit_traits(&app, &token, &flow, traits).await;
    assert_eq!(res.status(), 200);
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["continue_with"][0]["action"], "show_verification_ui");
    assert_eq!(
        done["continue_with"][0]["flow"]["verifiable_address"],
        "lovelace@example.com"
    );
    let code = sink.code_for("lovelace@example.com", 1).await;
    assert_eq!(code.len(), 6);
    // The code verifies the address in the flow named.
    let verification = done["continue_with"][0]["flow"]["id"].as_str().unwrap();
    let res = app
        .http
        .post(format!(
            "{}/self-service/verification?flow={verification}",
            app.public
        ))
        .json(&json!({"method": "code", "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let identity = &app.identities_with("lovelace@example.com").await[0];
    assert_eq!(identity["verifiable_addresses"][0]["verified"], true);
}
