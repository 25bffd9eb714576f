//! Code-sending limits of the recovery and verification flows: per address over all flows and
//! per flow, in a window, with the same answer for known and unknown addresses.

use std::time::Duration;

use serde_json::{Value, json};

use crate::courier::{mail_settings, start_api_flow, submit_api};
use crate::flows::message_ids;
use crate::helpers::{TestApp, fresh_database, spawn_on};
use crate::smtp_sink::SmtpSink;

const LIMITED: i64 = 4000920;
const SENT_RECOVERY: i64 = 1060003;

async fn limited_app(sink: &SmtpSink, per_address: u32, per_flow: u32) -> TestApp {
    let settings = mail_settings(&sink.uri());
    spawn_on(fresh_database(), move |s| {
        settings(s);
        for flow in [
            &mut s.selfservice.flows.recovery,
            &mut s.selfservice.flows.verification,
        ] {
            flow.send_limits.max_per_address = per_address;
            flow.send_limits.max_per_flow = per_flow;
            flow.send_limits.window = Duration::from_secs(3600);
        }
    })
    .await
}

/// Asks for a code in a new API flow of `kind`; answers the status and the flow.
async fn ask(app: &TestApp, kind: &str, email: &str) -> (u16, Value) {
    let flow = start_api_flow(app, kind).await;
    submit_api(app, &flow, json!({"method": "code", "email": email})).await
}

#[tokio::test]
async fn an_address_gets_at_most_the_limit_in_a_window_known_or_not() {
    let sink = SmtpSink::start().await;
    let app = limited_app(&sink, 2, 0).await;
    app.create_person("ada@example.com").await;
    let mut answers = Vec::new();
    for email in ["ada@example.com", "nobody@example.com"] {
        for _ in 0..2 {
            let (status, flow) = ask(&app, "recovery", email).await;
            assert_eq!(status, 200, "{email}: {flow}");
            assert_eq!(message_ids(&flow), [SENT_RECOVERY]);
        }
        // The third is refused; the case and spacing of the address do not matter.
        let (status, flow) = ask(&app, "recovery", &format!(" {} ", email.to_uppercase())).await;
        assert_eq!(status, 400, "{email}");
        assert_eq!(message_ids(&flow), [LIMITED], "{email}");
        assert_eq!(
            flow["ui"]["messages"][0]["context"]["retry_after_minutes"],
            60
        );
        assert_eq!(flow["state"], "choose_method");
        answers.push((status, flow["ui"]["messages"].clone()));
    }
    assert_eq!(
        answers[0], answers[1],
        "a known and an unknown address look the same"
    );
    // Only the two allowed codes went out to the known address.
    let mails = sink.wait_for("ada@example.com", 2).await;
    assert_eq!(mails.len(), 2);
    let list: Vec<Value> = app
        .get("/admin/courier/messages")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 2, "{list:?}");

    // Verification counts apart from recovery.
    let (status, _) = ask(&app, "verification", "ada@example.com").await;
    assert_eq!(status, 200);
    // After the window, codes go out again.
    app.clock.advance(Duration::from_secs(3601));
    let (status, flow) = ask(&app, "recovery", "ada@example.com").await;
    assert_eq!(status, 200, "{flow}");
}

#[tokio::test]
async fn a_flow_may_resend_only_so_often_and_its_code_stays_valid() {
    let sink = SmtpSink::start().await;
    let app = limited_app(&sink, 0, 2).await;
    app.create_person("ada@example.com").await;
    let flow = start_api_flow(&app, "verification").await;
    let send = || {
        submit_api(
            &app,
            &flow,
            json!({"method": "code", "email": "ada@example.com"}),
        )
    };
    assert_eq!(send().await.0, 200);
    assert_eq!(send().await.0, 200);
    let (status, refused) = send().await;
    assert_eq!(status, 400);
    assert_eq!(message_ids(&refused), [LIMITED]);
    // The last code sent still verifies the address.
    let code = sink.code_for("ada@example.com", 2).await;
    let (status, done) = submit_api(&app, &flow, json!({"method": "code", "code": code})).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["state"], "passed_challenge");
    // Another flow for the same address is not limited by this one.
    let (status, _) = ask(&app, "verification", "ada@example.com").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_browser_form_is_sent_back_to_the_page_with_the_message() {
    let sink = SmtpSink::start().await;
    let app = limited_app(&sink, 1, 0).await;
    let browser = crate::browser::Browser::new();
    for attempt in 0..2 {
        let res = browser
            .http
            .get(format!("{}/self-service/recovery/browser", app.public))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        let flow: Value = res.json().await.unwrap();
        let res = browser
            .submit(&flow, &[("email", "nobody@example.com")], false)
            .await;
        assert_eq!(res.status(), 303);
        let id = flow["id"].as_str().unwrap();
        let shown: Value = browser
            .http
            .get(format!(
                "{}/self-service/recovery/flows?id={id}",
                app.public
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let expected = if attempt == 0 { SENT_RECOVERY } else { LIMITED };
        assert_eq!(message_ids(&shown), [expected]);
    }
}
