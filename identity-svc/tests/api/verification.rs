//! Verification by code: an address gets a 6-digit code by mail, the code marks the address
//! verified. Browser (form and JSON) and API flows, wrong, replayed, foreign and expired codes,
//! the attempt limit, and the same answer for unknown addresses.

use std::time::Duration;

use serde_json::{Value, json};

use crate::browser::Browser;
use crate::courier::{HOUR, VERIFICATION_UI, mail_app, mail_settings, start_api_flow, submit_api};
use crate::helpers::{TestApp, expect_error, fresh_database, spawn, spawn_on};
use crate::smtp_sink::SmtpSink;

const EMAIL: &str = "ada@example.com";

/// The identity's only verifiable address, from the admin API.
async fn address(app: &TestApp, identity: &Value) -> Value {
    let id = identity["id"].as_str().unwrap();
    let identity: Value = app
        .get(&format!("/admin/identities/{id}"))
        .await
        .json()
        .await
        .unwrap();
    identity["verifiable_addresses"][0].clone()
}

fn message_ids(flow: &Value) -> Vec<i64> {
    flow["ui"]["messages"]
        .as_array()
        .map(|m| m.iter().map(|t| t["id"].as_i64().unwrap()).collect())
        .unwrap_or_default()
}

async fn start_browser_json(browser: &Browser, app: &TestApp) -> Value {
    let res = browser
        .http
        .get(format!("{}/self-service/verification/browser", app.public))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn fetch(browser: &Browser, app: &TestApp, id: &str) -> reqwest::Response {
    browser
        .http
        .get(format!(
            "{}/self-service/verification/flows?id={id}",
            app.public
        ))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_browser_form_verifies_an_address_with_the_mailed_code() {
    let sink = SmtpSink::start().await;
    let app = mail_app(&sink).await;
    let identity = app.create_person(EMAIL).await;
    assert_eq!(address(&app, &identity).await["verified"], false);
    let browser = Browser::new();
    let res = browser
        .http
        .get(format!(
            "{}/self-service/verification/browser?return_to=https://app.test/x",
            app.public
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("{VERIFICATION_UI}?flow=")),
        "{location}"
    );
    let id = location.split("flow=").nth(1).unwrap().to_string();
    let flow: Value = fetch(&browser, &app, &id).await.json().await.unwrap();
    assert_eq!(flow["state"], "choose_method");
    assert_eq!(flow["return_to"], "https://app.test/x");

    let res = browser.submit(&flow, &[("email", EMAIL)], false).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], location.as_str());
    let flow: Value = fetch(&browser, &app, &id).await.json().await.unwrap();
    assert_eq!(flow["state"], "sent_email");
    assert_eq!(flow["active"], "code");
    assert_eq!(message_ids(&flow), [1080003]);
    let code = sink.code_for(EMAIL, 1).await;

    let res = browser.submit(&flow, &[("code", &code)], false).await;
    assert_eq!(res.status(), 303);
    let flow: Value = fetch(&browser, &app, &id).await.json().await.unwrap();
    assert_eq!(flow["state"], "passed_challenge");
    assert_eq!(message_ids(&flow), [1080002]);
    let verified = address(&app, &identity).await;
    assert_eq!(verified["verified"], true, "{verified}");
    assert_eq!(verified["status"], "completed");
    assert!(verified["verified_at"].is_string());
}

#[tokio::test]
async fn spa_and_api_flows_answer_with_the_flow() {
    let sink = SmtpSink::start().await;
    let app = mail_app(&sink).await;
    let ada = app.create_person(EMAIL).await;
    let bob = app.create_person("bob@example.com").await;

    let browser = Browser::new();
    let flow = start_browser_json(&browser, &app).await;
    assert_eq!(flow["type"], "browser");
    let res = browser.submit(&flow, &[("email", EMAIL)], true).await;
    assert_eq!(res.status(), 200);
    let flow: Value = res.json().await.unwrap();
    assert_eq!(flow["state"], "sent_email");
    let code = sink.code_for(EMAIL, 1).await;
    let res = browser.submit(&flow, &[("code", &code)], true).await;
    assert_eq!(res.status(), 200);
    let flow: Value = res.json().await.unwrap();
    assert_eq!(flow["state"], "passed_challenge");
    assert_eq!(address(&app, &ada).await["verified"], true);

    let flow = start_api_flow(&app, "verification").await;
    assert_eq!(flow["type"], "api");
    assert!(
        flow["ui"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["attributes"]["name"] != "csrf_token")
    );
    let (status, sent) = submit_api(
        &app,
        &flow,
        json!({"method": "code", "email": "Bob@Example.com "}),
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    let code = sink.code_for("bob@example.com", 1).await;
    let (status, done) = submit_api(&app, &sent, json!({"method": "code", "code": code})).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["state"], "passed_challenge");
    assert_eq!(address(&app, &bob).await["verified"], true);
    // An API flow is fetched without cookies.
    let res = app
        .http
        .get(format!(
            "{}/self-service/verification/flows?id={}",
            app.public,
            done["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// IF-06: five wrong codes use the code up; the right one is refused after them.
#[tokio::test]
async fn if_06_five_wrong_codes_invalidate_the_code() {
    let sink = SmtpSink::start().await;
    let app = mail_app(&sink).await;
    let identity = app.create_person(EMAIL).await;
    let flow = start_api_flow(&app, "verification").await;
    let (_, flow) = submit_api(&app, &flow, json!({"method": "code", "email": EMAIL})).await;
    let code = sink.code_for(EMAIL, 1).await;
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for _ in 0..5 {
        let (status, body) =
            submit_api(&app, &flow, json!({"method": "code", "code": wrong})).await;
        assert_eq!(status, 400);
        assert_eq!(message_ids(&body), [4070006], "{body}");
    }
    let (status, body) = submit_api(&app, &flow, json!({"method": "code", "code": code})).await;
    assert_eq!(status, 400);
    assert_eq!(message_ids(&body), [4000001], "{body}");
    assert_eq!(
        body["state"], "choose_method",
        "a new code must be requested"
    );
    assert_eq!(address(&app, &identity).await["verified"], false);
    let (status, _) = submit_api(&app, &flow, json!({"method": "code", "code": code})).await;
    assert_eq!(status, 400, "the old code stays dead");

    // A new code works.
    submit_api(&app, &flow, json!({"method": "code", "email": EMAIL})).await;
    let fresh = sink.code_for(EMAIL, 2).await;
    let (status, body) = submit_api(&app, &flow, json!({"method": "code", "code": fresh})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(address(&app, &identity).await["verified"], true);
}

/// IF-07: a used code, another flow's code, a code resent over, and an expired flow's code are
/// all refused.
#[tokio::test]
async fn if_07_used_foreign_replaced_and_expired_codes_are_refused() {
    let sink = SmtpSink::start().await;
    let app = mail_app(&sink).await;
    app.create_person(EMAIL).await;
    let a = start_api_flow(&app, "verification").await;
    let b = start_api_flow(&app, "verification").await;
    submit_api(&app, &a, json!({"method": "code", "email": EMAIL})).await;
    let code_a = sink.code_for(EMAIL, 1).await;
    submit_api(&app, &b, json!({"method": "code", "email": EMAIL})).await;
    let code_b = sink.code_for(EMAIL, 2).await;
    if code_a != code_b {
        let (status, body) = submit_api(&app, &b, json!({"method": "code", "code": code_a})).await;
        assert_eq!(
            (status, message_ids(&body)),
            (400, vec![4070006]),
            "flow A's code in flow B"
        );
    }
    // Resending replaces the code.
    submit_api(&app, &a, json!({"method": "code", "email": EMAIL})).await;
    let code_a2 = sink.code_for(EMAIL, 3).await;
    if code_a2 != code_a {
        let (status, _) = submit_api(&app, &a, json!({"method": "code", "code": code_a})).await;
        assert_eq!(status, 400, "the replaced code");
    }
    let (status, _) = submit_api(&app, &a, json!({"method": "code", "code": code_a2})).await;
    assert_eq!(status, 200);
    let (status, body) = submit_api(&app, &a, json!({"method": "code", "code": code_a2})).await;
    assert_eq!(
        (status, message_ids(&body)),
        (400, vec![4070006]),
        "replayed: {body}"
    );

    // Flow B expires with its code.
    app.clock.advance(HOUR + Duration::from_secs(1));
    let (status, body) = submit_api(&app, &b, json!({"method": "code", "code": code_b})).await;
    assert_eq!(status, 410, "{body}");
    assert_eq!(body["error"]["id"], "self_service_flow_expired");
    let replacement = body["use_flow_id"].as_str().unwrap();
    let res = app
        .http
        .get(format!(
            "{}/self-service/verification/flows?id={replacement}",
            app.public
        ))
        .send()
        .await
        .unwrap();
    let fresh: Value = res.json().await.unwrap();
    assert_eq!(fresh["state"], "choose_method");
    assert_eq!(message_ids(&fresh), [4070005]);
}

/// An expired browser flow sends the browser to a new one that says so.
#[tokio::test]
async fn an_expired_browser_flow_is_replaced() {
    let sink = SmtpSink::start().await;
    let app = mail_app(&sink).await;
    let browser = Browser::new();
    let flow = start_browser_json(&browser, &app).await;
    app.clock.advance(HOUR + Duration::from_secs(1));
    let res = browser.submit(&flow, &[("email", EMAIL)], false).await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap();
    let id = location.split("flow=").nth(1).unwrap();
    assert_ne!(id, flow["id"].as_str().unwrap());
    let fresh: Value = fetch(&browser, &app, id).await.json().await.unwrap();
    assert_eq!(message_ids(&fresh), [4070005]);
    let old = fetch(&browser, &app, flow["id"].as_str().unwrap()).await;
    expect_error(old, 410).await;
}

/// Known and unknown addresses get the same status and body; only the known one gets mail,
/// unless `notify_unknown_recipients` is on.
#[tokio::test]
async fn unknown_addresses_get_the_same_answer() {
    let sink = SmtpSink::start().await;
    let settings = mail_settings(&sink.uri());
    let app = spawn_on(fresh_database(), |s| {
        settings(s);
        s.selfservice.flows.verification.notify_unknown_recipients = true;
    })
    .await;
    app.create_person(EMAIL).await;
    let mut answers = Vec::new();
    for email in [EMAIL, "nobody@example.com"] {
        let flow = start_api_flow(&app, "verification").await;
        let (status, body) =
            submit_api(&app, &flow, json!({"method": "code", "email": email})).await;
        answers.push((status, normalised(body, email)));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(sink.code_for(EMAIL, 1).await.len(), 6);
    let mail = sink.wait_for("nobody@example.com", 1).await.remove(0);
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Someone tried to verify this email address")
    );
    assert!(mail.decoded().contains("unable to find an account"));
}

/// A flow body without what differs per flow (ids, times, the address typed).
pub fn normalised(mut body: Value, email: &str) -> Value {
    for key in ["id", "expires_at", "issued_at", "request_url"] {
        body[key] = Value::Null;
    }
    let text = body.to_string().replace(email, "ADDRESS");
    let id = body["ui"]["action"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    serde_json::from_str(&text.replace(&id, "ACTION")).unwrap()
}

/// IF-11 and IF-13: a browser flow is refused without its CSRF token, and is not shown to
/// another browser.
#[tokio::test]
async fn if_11_browser_flows_need_their_csrf_token_and_browser() {
    let sink = SmtpSink::start().await;
    let app = mail_app(&sink).await;
    app.create_person(EMAIL).await;
    let browser = Browser::new();
    let flow = start_browser_json(&browser, &app).await;
    let id = flow["id"].as_str().unwrap();
    let res = browser
        .http
        .post(flow["ui"]["action"].as_str().unwrap())
        .form(&[("method", "code"), ("email", EMAIL)])
        .send()
        .await
        .unwrap();
    let error = expect_error(res, 403).await;
    assert_eq!(error["id"], "security_csrf_violation");
    let other = Browser::new();
    let error = expect_error(fetch(&other, &app, id).await, 403).await;
    assert_eq!(error["id"], "security_csrf_violation");
    let res = other.submit(&flow, &[("email", EMAIL)], true).await;
    expect_error(res, 403).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sink.mails().is_empty(), "no state change, no mail");
    expect_error(
        fetch(&browser, &app, &uuid::Uuid::now_v7().to_string()).await,
        404,
    )
    .await;
}

#[tokio::test]
async fn verification_and_recovery_are_off_by_default() {
    let app = spawn().await;
    for kind in ["verification", "recovery"] {
        let res = app
            .http
            .get(format!("{}/self-service/{kind}/api", app.public))
            .send()
            .await
            .unwrap();
        let error = expect_error(res, 400).await;
        assert!(
            error["reason"].as_str().unwrap().contains("disabled"),
            "{error}"
        );
    }
}
