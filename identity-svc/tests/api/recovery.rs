//! Account recovery by code: a recovery address gets a code by mail; the code signs the identity
//! in (a new session) and sends the browser to the settings UI, or gives an API client the
//! session token. Unknown addresses get the identical answer.

use std::time::Duration;

use serde_json::{Value, json};

use crate::browser::Browser;
use crate::courier::{
    HOUR, RECOVERY_UI, SETTINGS_UI, mail_app, mail_settings, start_api_flow, submit_api,
};
use crate::helpers::{TestApp, expect_error, fresh_database, spawn_on};
use crate::smtp_sink::SmtpSink;
use crate::verification::normalised;

const EMAIL: &str = "ada@example.com";

fn message_ids(flow: &Value) -> Vec<i64> {
    flow["ui"]["messages"]
        .as_array()
        .map(|m| m.iter().map(|t| t["id"].as_i64().unwrap()).collect())
        .unwrap_or_default()
}

async fn start_browser(browser: &Browser, app: &TestApp, json: bool) -> reqwest::Response {
    let request = browser
        .http
        .get(format!("{}/self-service/recovery/browser", app.public));
    let request = if json {
        request.header("accept", "application/json")
    } else {
        request
    };
    request.send().await.unwrap()
}

async fn fetch(browser: &Browser, app: &TestApp, id: &str) -> Value {
    let res = browser
        .http
        .get(format!(
            "{}/self-service/recovery/flows?id={id}",
            app.public
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn a_browser_form_recovers_the_account_and_goes_to_settings() {
    let sink = SmtpSink::start().await;
    let app = mail_app(&sink).await;
    let identity = app.create_person_with_password(EMAIL).await;
    let browser = Browser::new();
    let res = start_browser(&browser, &app, false).await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with(&format!("{RECOVERY_UI}?flow=")),
        "{location}"
    );
    let id = location.split("flow=").nth(1).unwrap().to_string();
    let flow = fetch(&browser, &app, &id).await;
    let res = browser.submit(&flow, &[("email", EMAIL)], false).await;
    assert_eq!(res.status(), 303);
    let flow = fetch(&browser, &app, &id).await;
    assert_eq!(flow["state"], "sent_email");
    assert_eq!(message_ids(&flow), [1060003]);
    let mail = sink.wait_for(EMAIL, 1).await.remove(0);
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Recover access to your account")
    );
    let code = mail.code();

    let res = browser.submit(&flow, &[("code", &code)], false).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], SETTINGS_UI);
    let whoami = browser.whoami(&app).await;
    assert_eq!(whoami.status(), 200);
    let session: Value = whoami.json().await.unwrap();
    assert_eq!(session["identity"]["id"], identity["id"]);
    assert_eq!(
        session["authentication_methods"][0]["method"],
        "code_recovery"
    );
    // Signing in renewed the CSRF cookie (no fixation), so the old flow is this browser's no more.
    let res = browser
        .http
        .get(format!(
            "{}/self-service/recovery/flows?id={id}",
            app.public
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // Signed in now, a new recovery flow is refused.
    let res = start_browser(&browser, &app, true).await;
    let error = expect_error(res, 400).await;
    assert_eq!(error["id"], "session_already_available");
    // The password still works: recovery does not change credentials.
    assert_eq!(
        Browser::new().log_in(&app, EMAIL).await["session"]["active"],
        true
    );
}

#[tokio::test]
async fn an_spa_gets_422_with_the_settings_url_and_the_session_cookie() {
    let sink = SmtpSink::start().await;
    let app = mail_app(&sink).await;
    app.create_person(EMAIL).await;
    let browser = Browser::new();
    let flow: Value = start_browser(&browser, &app, true)
        .await
        .json()
        .await
        .unwrap();
    let res = browser.submit(&flow, &[("email", EMAIL)], true).await;
    assert_eq!(res.status(), 200);
    let flow: Value = res.json().await.unwrap();
    let code = sink.code_for(EMAIL, 1).await;
    let res = browser.submit(&flow, &[("code", &code)], true).await;
    assert_eq!(res.status(), 422);
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("olympus_session="))
        .expect("a session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["id"], "browser_location_change_required");
    assert_eq!(body["error"]["code"], 422);
    assert_eq!(body["redirect_browser_to"], SETTINGS_UI);
    assert_eq!(browser.whoami(&app).await.status(), 200);
}

#[tokio::test]
async fn an_api_flow_gets_the_session_token() {
    let sink = SmtpSink::start().await;
    let app = mail_app(&sink).await;
    let identity = app.create_person(EMAIL).await;
    let flow = start_api_flow(&app, "recovery").await;
    let (status, sent) = submit_api(&app, &flow, json!({"method": "code", "email": EMAIL})).await;
    assert_eq!(status, 200);
    assert_eq!(sent["state"], "sent_email");
    let code = sink.code_for(EMAIL, 1).await;
    let (status, done) = submit_api(&app, &sent, json!({"method": "code", "code": code})).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["state"], "passed_challenge");
    assert_eq!(message_ids(&done), [1060001]);
    assert_eq!(done["continue_with"][0]["action"], "set_ory_session_token");
    let token = done["continue_with"][0]["ory_session_token"]
        .as_str()
        .unwrap();
    assert!(token.starts_with("oly_st_"));
    let res = app
        .http
        .get(format!("{}/sessions/whoami", app.public))
        .header("x-session-token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let session: Value = res.json().await.unwrap();
    assert_eq!(session["identity"]["id"], identity["id"]);
}

/// IF-07: a recovery code works once, only in its own flow and only while the flow lives; a
/// refused code gives no session.
#[tokio::test]
async fn if_07_recovery_codes_work_once_in_their_own_flow() {
    let sink = SmtpSink::start().await;
    let app = mail_app(&sink).await;
    app.create_person(EMAIL).await;
    app.create_person("bob@example.com").await;
    let a = start_api_flow(&app, "recovery").await;
    let b = start_api_flow(&app, "recovery").await;
    submit_api(&app, &a, json!({"method": "code", "email": EMAIL})).await;
    let code_a = sink.code_for(EMAIL, 1).await;
    submit_api(
        &app,
        &b,
        json!({"method": "code", "email": "bob@example.com"}),
    )
    .await;
    let code_b = sink.code_for("bob@example.com", 1).await;
    if code_a != code_b {
        // U1's code in U2's flow.
        let (status, body) = submit_api(&app, &b, json!({"method": "code", "code": code_a})).await;
        assert_eq!((status, message_ids(&body)), (400, vec![4060006]), "{body}");
        assert!(body["continue_with"].is_null(), "no session: {body}");
    }
    let (status, _) = submit_api(&app, &a, json!({"method": "code", "code": code_a})).await;
    assert_eq!(status, 200);
    let (status, body) = submit_api(&app, &a, json!({"method": "code", "code": code_a})).await;
    assert_eq!(
        (status, message_ids(&body)),
        (400, vec![4060006]),
        "replayed: {body}"
    );
    assert!(body["continue_with"].is_null());

    app.clock.advance(HOUR + Duration::from_secs(1));
    let (status, body) = submit_api(&app, &b, json!({"method": "code", "code": code_b})).await;
    assert_eq!(status, 410, "{body}");
    assert_eq!(body["error"]["id"], "self_service_flow_expired");
    assert!(body["use_flow_id"].is_string());
}

/// IF-06 on recovery: after five wrong codes the right one no longer signs in.
#[tokio::test]
async fn if_06_recovery_codes_allow_five_submissions() {
    let sink = SmtpSink::start().await;
    let app = mail_app(&sink).await;
    app.create_person(EMAIL).await;
    let flow = start_api_flow(&app, "recovery").await;
    submit_api(&app, &flow, json!({"method": "code", "email": EMAIL})).await;
    let code = sink.code_for(EMAIL, 1).await;
    let wrong = if code == "999999" { "999998" } else { "999999" };
    for _ in 0..5 {
        let (status, _) = submit_api(&app, &flow, json!({"method": "code", "code": wrong})).await;
        assert_eq!(status, 400);
    }
    let (status, body) = submit_api(&app, &flow, json!({"method": "code", "code": code})).await;
    assert_eq!((status, message_ids(&body)), (400, vec![4000001]), "{body}");
    assert!(body["continue_with"].is_null());
}

/// An unknown address gets the identical status and body and no mail by default; with
/// `notify_unknown_recipients` Kratos' "recovery_code_invalid" mail goes to it.
#[tokio::test]
async fn unknown_addresses_get_the_identical_answer() {
    for notify in [false, true] {
        let sink = SmtpSink::start().await;
        let settings = mail_settings(&sink.uri());
        let app = spawn_on(fresh_database(), |s| {
            settings(s);
            s.selfservice.flows.recovery.notify_unknown_recipients = notify;
        })
        .await;
        app.create_person(EMAIL).await;
        // An inactive identity's address is answered like an unknown one too.
        let res = app
            .create_identity(json!({"schema_id": "default", "traits": {"email": "off@example.com"}, "state": "inactive"}))
            .await;
        assert_eq!(res.status(), 201);
        let mut answers = Vec::new();
        for email in [EMAIL, "nobody@example.com", "off@example.com"] {
            let browser = Browser::new();
            let flow: Value = start_browser(&browser, &app, true)
                .await
                .json()
                .await
                .unwrap();
            let res = browser.submit(&flow, &[("email", email)], true).await;
            let status = res.status().as_u16();
            let mut body: Value = res.json().await.unwrap();
            body["ui"]["nodes"][0]["attributes"]["value"] = Value::Null; // the CSRF token
            answers.push((status, normalised(body, email)));
        }
        assert_eq!(answers[0], answers[1]);
        assert_eq!(answers[0], answers[2]);
        sink.wait_for(EMAIL, 1).await;
        if notify {
            let mail = sink.wait_for("nobody@example.com", 1).await.remove(0);
            assert_eq!(
                mail.header("Subject").as_deref(),
                Some("Account access attempted")
            );
            assert!(mail.decoded().contains("not on our database"));
            let messages: Vec<Value> = app
                .get("/admin/courier/messages?recipient=nobody%40example.com")
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(messages[0]["template_type"], "recovery_code_invalid");
        } else {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let to_unknown = sink.mails().iter().filter(|m| m.to[0] != EMAIL).count();
            assert_eq!(to_unknown, 0);
        }
    }
}

#[tokio::test]
async fn recovery_refuses_a_signed_in_api_client_and_browser_flows_from_another_browser() {
    let sink = SmtpSink::start().await;
    let app = mail_app(&sink).await;
    app.create_person(EMAIL).await;
    let flow = start_api_flow(&app, "recovery").await;
    submit_api(&app, &flow, json!({"method": "code", "email": EMAIL})).await;
    let code = sink.code_for(EMAIL, 1).await;
    let (_, done) = submit_api(&app, &flow, json!({"method": "code", "code": code})).await;
    let token = done["continue_with"][0]["ory_session_token"]
        .as_str()
        .unwrap();
    let res = app
        .http
        .get(format!("{}/self-service/recovery/api", app.public))
        .header("x-session-token", token)
        .send()
        .await
        .unwrap();
    let error = expect_error(res, 400).await;
    assert_eq!(error["id"], "session_already_available");
    // IF-13: a browser flow is not shown to another browser.
    let browser = Browser::new();
    let flow: Value = start_browser(&browser, &app, true)
        .await
        .json()
        .await
        .unwrap();
    let res = Browser::new()
        .http
        .get(format!(
            "{}/self-service/recovery/flows?id={}",
            app.public,
            flow["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    expect_error(res, 403).await;
}
