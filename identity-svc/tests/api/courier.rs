//! The courier: mail written with the flow change that causes it, delivered over SMTP to a
//! local sink, retried with backoff while the server is down, abandoned after
//! `courier.message_retries`, listed on the admin API, and deleted by the janitor once sent.

use std::time::{Duration, Instant};

use identity_svc::Settings;
use serde_json::{Value, json};
use service_kit::settings::Secret;

use crate::helpers::{TestApp, expect_error, fresh_database, settings_for, spawn_on};
use crate::receiver::unused_port;
use crate::smtp_sink::SmtpSink;

pub const HOUR: Duration = Duration::from_secs(3600);
pub const VERIFICATION_UI: &str = "https://ui.test/verification";
pub const RECOVERY_UI: &str = "https://ui.test/recovery";
pub const SETTINGS_UI: &str = "https://ui.test/settings";

/// Both code flows on, mail to `smtp_uri`, a quick worker and retries an hour apart (tests move
/// the clock rather than wait).
pub fn mail_settings(smtp_uri: &str) -> impl FnOnce(&mut Settings) + use<> {
    let uri = smtp_uri.to_string();
    move |s: &mut Settings| {
        s.dev = true;
        s.courier.smtp.connection_uri = Some(Secret::new(uri));
        s.courier.smtp.from_address = Some("no-reply@olympus.test".into());
        s.courier.smtp.from_name = Some("Olympus".into());
        s.courier.worker.pull_wait = Duration::from_millis(100);
        s.courier.worker.backoff = HOUR;
        s.courier.worker.max_backoff = HOUR;
        let flows = &mut s.selfservice.flows;
        flows.verification.enabled = true;
        flows.verification.ui_url = Some(VERIFICATION_UI.into());
        flows.recovery.enabled = true;
        flows.recovery.ui_url = Some(RECOVERY_UI.into());
        flows.settings.ui_url = Some(SETTINGS_UI.into());
    }
}

pub async fn mail_app(sink: &SmtpSink) -> TestApp {
    spawn_on(fresh_database(), mail_settings(&sink.uri())).await
}

/// Starts an API flow of `kind` (`verification` or `recovery`).
pub async fn start_api_flow(app: &TestApp, kind: &str) -> Value {
    let res = app
        .http
        .get(format!("{}/self-service/{kind}/api", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// Submits `body` as JSON to an API flow; answers the status and body.
pub async fn submit_api(app: &TestApp, flow: &Value, body: Value) -> (u16, Value) {
    let res = app
        .http
        .post(flow["ui"]["action"].as_str().unwrap())
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

async fn messages(app: &TestApp, query: &str) -> reqwest::Response {
    app.get(&format!("/admin/courier/messages{query}")).await
}

/// Polls the admin API until the only message satisfies `done` (at most 10 s).
async fn wait_for_message(app: &TestApp, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list: Vec<Value> = messages(app, "").await.json().await.unwrap();
        assert!(list.len() <= 1, "{list:?}");
        if let Some(message) = list.into_iter().next().filter(|m| done(m)) {
            return message;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn mail_is_delivered_over_smtp_and_shown_on_the_admin_api() {
    let sink = SmtpSink::start().await;
    let app = mail_app(&sink).await;
    app.create_person("ada@example.com").await;
    let flow = start_api_flow(&app, "verification").await;
    let (status, _) = submit_api(
        &app,
        &flow,
        json!({"method": "code", "email": "ada@example.com"}),
    )
    .await;
    assert_eq!(status, 200);

    let mail = sink.wait_for("ada@example.com", 1).await.remove(0);
    assert_eq!(mail.from, "no-reply@olympus.test");
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Please verify your email address")
    );
    assert!(
        mail.header("From").unwrap().contains("Olympus"),
        "{:?}",
        mail.header("From")
    );
    let content_type = mail.header("Content-Type").unwrap();
    assert!(
        content_type.starts_with("multipart/alternative"),
        "{content_type}"
    );
    let decoded = mail.decoded();
    assert!(
        decoded.contains("text/plain") && decoded.contains("text/html"),
        "{decoded}"
    );
    let code = mail.code();

    let message = wait_for_message(&app, "the message to be sent", |m| m["status"] == "sent").await;
    assert_eq!(message["type"], "email");
    assert_eq!(message["recipient"], "ada@example.com");
    assert_eq!(message["template_type"], "verification_code_valid");
    assert_eq!(message["send_count"], 1);
    assert!(
        message["body"].as_str().unwrap().contains(&code),
        "Kratos shows the body"
    );
    assert!(
        message.get("dispatches").is_none(),
        "the list leaves dispatches out"
    );
    let res = app
        .get(&format!(
            "/admin/courier/messages/{}",
            message["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let one: Value = res.json().await.unwrap();
    assert_eq!(one["dispatches"].as_array().unwrap().len(), 1, "{one}");
    assert_eq!(one["dispatches"][0]["status"], "success");
    assert_eq!(one["dispatches"][0]["message_id"], message["id"]);
}

#[tokio::test]
async fn mail_stays_queued_while_smtp_is_down_and_is_retried_with_backoff() {
    let port = unused_port();
    let uri = format!("smtp://127.0.0.1:{port}/?disable_starttls=true");
    let app = spawn_on(fresh_database(), mail_settings(&uri)).await;
    app.create_person("ada@example.com").await;
    let flow = start_api_flow(&app, "recovery").await;
    let (status, _) = submit_api(
        &app,
        &flow,
        json!({"method": "code", "email": "ada@example.com"}),
    )
    .await;
    assert_eq!(status, 200, "the flow does not wait for the mail");

    let failed = wait_for_message(&app, "a failed attempt", |m| m["send_count"] == 1).await;
    assert_eq!(failed["status"], "queued", "{failed}");
    let id = failed["id"].as_str().unwrap().to_string();
    let one: Value = app
        .get(&format!("/admin/courier/messages/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["dispatches"][0]["status"], "failed", "{one}");
    assert!(
        one["dispatches"][0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SMTP"),
        "{one}"
    );

    // The server comes back; nothing is sent before the backoff (1h) has passed.
    let sink = SmtpSink::start_on(port).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(sink.mails().is_empty(), "retried before its time");
    app.clock.advance(HOUR + Duration::from_secs(1));
    let code = sink.code_for("ada@example.com", 1).await;
    let sent = wait_for_message(&app, "the retry to be recorded", |m| m["status"] == "sent").await;
    assert_eq!(sent["send_count"], 2);
    assert_eq!(sent["id"], id.as_str());
    assert_eq!(code.len(), 6);
}

#[tokio::test]
async fn mail_is_abandoned_after_message_retries() {
    let uri = format!("smtp://127.0.0.1:{}/?disable_starttls=true", unused_port());
    let settings = mail_settings(&uri);
    let app = spawn_on(fresh_database(), |s| {
        settings(s);
        s.courier.message_retries = 2;
    })
    .await;
    app.create_person("ada@example.com").await;
    let flow = start_api_flow(&app, "verification").await;
    submit_api(
        &app,
        &flow,
        json!({"method": "code", "email": "ada@example.com"}),
    )
    .await;
    wait_for_message(&app, "the first failure", |m| m["send_count"] == 1).await;
    app.clock.advance(HOUR + Duration::from_secs(1));
    let abandoned = wait_for_message(&app, "abandonment", |m| m["status"] == "abandoned").await;
    assert_eq!(abandoned["send_count"], 2);
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("olympus_outbox_abandoned_total{")
                && l.contains("courier.email")
                && l.ends_with(" 1")),
        "{text}"
    );
}

#[tokio::test]
async fn admin_lists_messages_in_keyset_pages_with_filters() {
    let sink = SmtpSink::start().await;
    let app = mail_app(&sink).await;
    for who in ["a", "b", "c"] {
        let email = format!("{who}@example.com");
        app.create_person(&email).await;
        let flow = start_api_flow(&app, "verification").await;
        submit_api(&app, &flow, json!({"method": "code", "email": email})).await;
    }
    sink.wait_for("c@example.com", 1).await;

    let first = messages(&app, "?page_size=2").await;
    assert_eq!(first.status(), 200);
    let link = first.headers()["link"].to_str().unwrap().to_string();
    let page: Vec<Value> = first.json().await.unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0]["recipient"], "a@example.com", "oldest first");
    let next = link.split(['<', '>']).nth(1).unwrap().to_string();
    assert!(
        next.starts_with("/admin/courier/messages?page_size=2&page_token="),
        "{link}"
    );
    let rest = app.get(&next).await;
    assert!(rest.headers().get("link").is_none(), "the last page");
    let rest: Vec<Value> = rest.json().await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["recipient"], "c@example.com");

    let only_b: Vec<Value> = messages(&app, "?recipient=b%40example.com")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(only_b.len(), 1);
    assert_eq!(only_b[0]["recipient"], "b@example.com");
    let none: Vec<Value> = messages(&app, "?status=abandoned")
        .await
        .json()
        .await
        .unwrap();
    assert!(none.is_empty());

    for bad in [
        "?page_size=0",
        "?page_size=1001",
        "?page_size=abc",
        "?page_token=%%%",
        "?page_token=AAAA",
        "?status=delivered",
        "?ids=x",
    ] {
        expect_error(messages(&app, bad).await, 400).await;
    }
    let unknown = uuid::Uuid::now_v7();
    expect_error(
        app.get(&format!("/admin/courier/messages/{unknown}")).await,
        404,
    )
    .await;
    expect_error(app.get("/admin/courier/messages/not-a-uuid").await, 404).await;
}

#[tokio::test]
async fn override_templates_are_used_and_values_are_escaped_in_html() {
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let invalid = dir.path().join("recovery_code/invalid");
    std::fs::create_dir_all(&invalid).unwrap();
    std::fs::write(
        invalid.join("email.subject.gotmpl"),
        "No account for {{ .To }}",
    )
    .unwrap();
    std::fs::write(invalid.join("email.body.gotmpl"), "<p>Hello {{ .To }}</p>").unwrap();
    let path = dir.path().to_str().unwrap().to_string();
    let settings = mail_settings(&sink.uri());
    let app = spawn_on(fresh_database(), |s| {
        settings(s);
        s.courier.template_override_path = Some(path);
        s.selfservice.flows.recovery.notify_unknown_recipients = true;
    })
    .await;
    let hostile = "o'brien&co@example.com";
    let flow = start_api_flow(&app, "recovery").await;
    let (status, _) = submit_api(&app, &flow, json!({"method": "code", "email": hostile})).await;
    assert_eq!(status, 200);
    let mail = sink.wait_for(hostile, 1).await.remove(0);
    let decoded = mail.decoded();
    assert!(
        decoded.contains("<p>Hello o&#39;brien&amp;co@example.com</p>"),
        "{decoded}"
    );
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("No account for o'brien&co@example.com")
    );
    assert!(
        decoded.contains("not on our database"),
        "the plain text stays built in: {decoded}"
    );
}

#[tokio::test]
async fn courier_and_flow_settings_are_validated_by_key() {
    let base = || {
        let mut s = settings_for("http://127.0.0.1:1");
        mail_settings("smtp://127.0.0.1:25/?disable_starttls=true")(&mut s);
        s
    };
    assert!(base().validate().is_ok());
    type Change = fn(&mut Settings);
    let cases: Vec<(Change, &str)> = vec![
        (
            |s| s.courier.smtp.connection_uri = None,
            "courier.smtp.connection_uri",
        ),
        (
            |s| s.courier.smtp.connection_uri = Some(Secret::new("imap://x")),
            "courier.smtp.connection_uri",
        ),
        (
            |s| s.courier.smtp.from_address = None,
            "courier.smtp.from_address",
        ),
        (|s| s.courier.message_retries = 0, "courier.message_retries"),
        (
            |s| s.courier.worker.pull_count = 0,
            "courier.worker.pull_count",
        ),
        (
            |s| s.courier.template_override_path = Some("/nonexistent".into()),
            "courier.template_override_path",
        ),
        (
            |s| s.selfservice.flows.settings.ui_url = None,
            "selfservice.flows.settings.ui_url",
        ),
        (
            |s| s.selfservice.flows.verification.ui_url = None,
            "selfservice.flows.verification.ui_url",
        ),
        (
            |s| s.selfservice.flows.recovery.method = "link".into(),
            "selfservice.flows.recovery.use",
        ),
    ];
    for (change, key) in cases {
        let mut settings = base();
        change(&mut settings);
        let err = settings.validate().unwrap_err().to_string();
        assert!(err.contains(key), "{key}: {err}");
        assert!(!err.contains("p@ss"), "{err}");
    }
}

#[tokio::test]
async fn the_janitor_deletes_expired_code_flows_and_old_sent_mail() {
    let sink = SmtpSink::start().await;
    let settings = mail_settings(&sink.uri());
    let app = spawn_on(fresh_database(), |s| {
        settings(s);
        s.janitor.interval = Duration::ZERO;
    })
    .await;
    app.create_person("ada@example.com").await;
    for kind in ["verification", "recovery"] {
        let flow = start_api_flow(&app, kind).await;
        submit_api(
            &app,
            &flow,
            json!({"method": "code", "email": "ada@example.com"}),
        )
        .await;
    }
    sink.wait_for("ada@example.com", 2).await;
    let sent = || async {
        let list: Vec<Value> = messages(&app, "?status=sent").await.json().await.unwrap();
        list.len()
    };
    while sent().await < 2 {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let run = || async {
        let mut s = settings_for(&app.public);
        mail_settings(&sink.uri())(&mut s);
        s.dsn = app.db.dsn.clone();
        s.clock = app.clock.clone();
        identity_svc::janitor::run_once(s).await.unwrap()
    };
    assert_eq!(run().await.total(), 0, "nothing is old yet");
    // Past the flow lifespan (1h) and keep_expired (1h).
    app.clock.advance(2 * HOUR + Duration::from_secs(60));
    let report = run().await;
    assert_eq!(report.get("selfservice_verification_flows"), 1, "{report}");
    assert_eq!(report.get("selfservice_recovery_flows"), 1, "{report}");
    assert_eq!(report.get("courier_messages"), 2, "{report}");
    assert_eq!(sent().await, 0);
}
