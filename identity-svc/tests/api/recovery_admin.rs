//! Admin recovery codes (`POST /admin/recovery/code`, Kratos' createRecoveryCodeForIdentity): a
//! flow in `sent_email` with a code and a link to the recovery page; the person redeems the code
//! in the ordinary recovery flow, in a browser (bound to the one whose code is accepted) or as an
//! app.

use std::time::Duration;

use base64::Engine;
use identity_svc::config::SchemaSource;
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::courier::{RECOVERY_UI, SETTINGS_UI, mail_settings};
use crate::flows::get_with_token;
use crate::helpers::{TestApp, expect_error, fresh_database, spawn, spawn_on};
use crate::smtp_sink::SmtpSink;

const EMAIL: &str = "ada@example.com";

async fn recovery_app(sink: &SmtpSink) -> TestApp {
    spawn_on(fresh_database(), mail_settings(&sink.uri())).await
}

async fn create_code(app: &TestApp, body: Value) -> reqwest::Response {
    app.http
        .post(format!("{}/admin/recovery/code", app.admin))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The flow id of a recovery link (`<recovery ui>?flow=<id>`).
fn flow_of(link: &str) -> String {
    assert!(link.starts_with(&format!("{RECOVERY_UI}?flow=")), "{link}");
    link.split("flow=").nth(1).unwrap().to_string()
}

async fn fetch(http: &reqwest::Client, app: &TestApp, id: &str) -> reqwest::Response {
    http.get(format!(
        "{}/self-service/recovery/flows?id={id}",
        app.public
    ))
    .send()
    .await
    .unwrap()
}

#[tokio::test]
async fn a_browser_redeems_an_admin_code_and_is_signed_in() {
    let sink = SmtpSink::start().await;
    let app = recovery_app(&sink).await;
    let identity = app.create_person_with_password(EMAIL).await;
    let res = create_code(&app, json!({"identity_id": identity["id"]})).await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let created: Value = res.json().await.unwrap();
    let code = created["recovery_code"].as_str().unwrap();
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "{code}"
    );
    let id = flow_of(created["recovery_link"].as_str().unwrap());
    // The flow's lifespan is the recovery flow's (1h by default).
    let expires: chrono::DateTime<chrono::Utc> =
        created["expires_at"].as_str().unwrap().parse().unwrap();
    let left = expires - app.clock.now();
    assert!(
        left > chrono::Duration::minutes(59) && left <= chrono::Duration::hours(1),
        "{left}"
    );

    // The browser opens the link: the flow is shown with this browser's own CSRF token.
    let browser = Browser::new();
    let res = fetch(&browser.http, &app, &id).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("olympus_csrf=")
    );
    let flow: Value = res.json().await.unwrap();
    assert_eq!(flow["state"], "sent_email");
    assert_eq!(flow["type"], "browser");

    let res = browser.submit(&flow, &[("code", code)], false).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], SETTINGS_UI);
    // The accepted code bound the flow to this browser: another one is now refused.
    let thief = Browser::new();
    let res = fetch(&thief.http, &app, &id).await;
    assert_eq!(
        expect_error(res, 403).await["id"],
        "security_csrf_violation"
    );
    let whoami: Value = browser.whoami(&app).await.json().await.unwrap();
    assert_eq!(whoami["identity"]["id"], identity["id"]);
    assert_eq!(
        whoami["authentication_methods"][0]["method"],
        "code_recovery"
    );
    // Once only (the browser's CSRF cookie was renewed too), and no recovery mail was sent.
    let res = browser.submit(&flow, &[("code", code)], true).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    let list: Vec<Value> = app
        .get("/admin/courier/messages")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        list.iter()
            .all(|m| !m["template_type"].as_str().unwrap().starts_with("recovery")),
        "{list:?}"
    );
}

#[tokio::test]
async fn an_api_flow_code_gives_a_session_token_and_expires_in_is_honoured() {
    let sink = SmtpSink::start().await;
    let app = recovery_app(&sink).await;
    let identity = app.create_person_with_password(EMAIL).await;
    let res = create_code(
        &app,
        json!({"identity_id": identity["id"], "expires_in": "15m", "flow_type": "api"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let id = flow_of(created["recovery_link"].as_str().unwrap());
    let expires: chrono::DateTime<chrono::Utc> =
        created["expires_at"].as_str().unwrap().parse().unwrap();
    let left = (expires - app.clock.now()).num_seconds();
    assert!(
        (14 * 60..=15 * 60).contains(&left),
        "{left}s left, expected 15m"
    );

    let submit = |code: String| {
        app.http
            .post(format!("{}/self-service/recovery?flow={id}", app.public))
            .json(&json!({"method": "code", "code": code}))
            .send()
    };
    // A wrong code first: refused, the right one still works.
    let wrong = if created["recovery_code"] == "000000" {
        "111111"
    } else {
        "000000"
    };
    assert_eq!(submit(wrong.into()).await.unwrap().status(), 400);
    let res = submit(created["recovery_code"].as_str().unwrap().into())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let flow: Value = res.json().await.unwrap();
    assert_eq!(flow["state"], "passed_challenge");
    let token = flow["continue_with"][0]["ory_session_token"]
        .as_str()
        .unwrap();
    let whoami: Value = get_with_token(&app, "/sessions/whoami", token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(whoami["identity"]["id"], identity["id"]);

    // A code past its own expiry is refused with a fresh flow.
    let res = create_code(
        &app,
        json!({"identity_id": identity["id"], "expires_in": "2m", "flow_type": "api"}),
    )
    .await;
    let created: Value = res.json().await.unwrap();
    let id = flow_of(created["recovery_link"].as_str().unwrap());
    app.clock.advance(Duration::from_secs(180));
    let res = app
        .http
        .post(format!("{}/self-service/recovery?flow={id}", app.public))
        .json(&json!({"method": "code", "code": created["recovery_code"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_error(res, 410).await["id"],
        "self_service_flow_expired"
    );
}

#[tokio::test]
async fn bad_requests_get_kratos_errors() {
    let sink = SmtpSink::start().await;
    // Beside the default schema, one whose identities have no recovery address.
    let nickname = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"traits": {"type": "object", "properties": {"nickname": {"type": "string"}}}}
    });
    let nickname = base64::engine::general_purpose::STANDARD.encode(nickname.to_string());
    let mail = mail_settings(&sink.uri());
    let app = spawn_on(fresh_database(), move |s| {
        mail(s);
        s.identity.schemas = vec![
            SchemaSource {
                id: "default".into(),
                url: format!(
                    "file://{}/schemas/default.schema.json",
                    env!("CARGO_MANIFEST_DIR")
                ),
            },
            SchemaSource {
                id: "nickname".into(),
                url: format!("base64://{nickname}"),
            },
        ];
    })
    .await;
    let identity = app.create_person_with_password(EMAIL).await;
    let id = identity["id"].as_str().unwrap();
    for body in [
        json!({"identity_id": "not-a-uuid"}),
        json!({"identity_id": id, "expires_in": "soon"}),
        json!({"identity_id": id, "expires_in": "0s"}),
        json!({"identity_id": id, "expires_in": "1000h"}),
        json!({"identity_id": id, "flow_type": "carrier-pigeon"}),
        json!({}),
    ] {
        expect_error(create_code(&app, body.clone()).await, 400).await;
    }
    let res = create_code(&app, json!({"identity_id": uuid::Uuid::now_v7()})).await;
    expect_error(res, 404).await;
    // No recovery address: nothing to recover through.
    let bare = app
        .create_identity(json!({"schema_id": "nickname", "traits": {"nickname": "ada"}}))
        .await;
    assert_eq!(bare.status(), 201);
    let bare: Value = bare.json().await.unwrap();
    let res = create_code(&app, json!({"identity_id": bare["id"]})).await;
    let error = expect_error(res, 400).await;
    assert!(
        error["reason"]
            .as_str()
            .unwrap()
            .contains("recovery address"),
        "{error}"
    );
    // An inactive identity cannot be recovered.
    let res = app
        .http
        .patch(format!("{}/admin/identities/{id}", app.admin))
        .json(&json!([{"op": "replace", "path": "/state", "value": "inactive"}]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    expect_error(create_code(&app, json!({"identity_id": id})).await, 400).await;

    // Recovery disabled: Kratos' 400.
    let off = spawn().await;
    let person = off.create_person(EMAIL).await;
    let error = expect_error(
        create_code(&off, json!({"identity_id": person["id"]})).await,
        400,
    )
    .await;
    assert!(
        error["reason"].as_str().unwrap().contains("disabled"),
        "{error}"
    );
    // Recovery by link is not built.
    let res = off
        .http
        .post(format!("{}/admin/recovery/link", off.admin))
        .json(&json!({"identity_id": person["id"]}))
        .send()
        .await
        .unwrap();
    expect_error(res, 404).await;
}

/// A browser recovery link from the admin API: the code and the flow id.
async fn browser_code(app: &TestApp, identity: &Value) -> (String, String) {
    let res = create_code(app, json!({"identity_id": identity["id"]})).await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let id = flow_of(created["recovery_link"].as_str().unwrap());
    (created["recovery_code"].as_str().unwrap().to_string(), id)
}

#[tokio::test]
async fn a_link_preview_bot_fetching_first_does_not_spoil_the_link() {
    let sink = SmtpSink::start().await;
    let app = recovery_app(&sink).await;
    let identity = app.create_person_with_password(EMAIL).await;
    let (code, id) = browser_code(&app, &identity).await;

    // The bot opens the link first and gets the flow with a CSRF cookie of its own.
    let bot = Browser::new();
    let res = fetch(&bot.http, &app, &id).await;
    assert_eq!(res.status(), 200);
    let seen_by_bot: Value = res.json().await.unwrap();
    assert_eq!(seen_by_bot["state"], "sent_email");
    // Fetching again, in either client, still works: nothing was claimed.
    assert_eq!(fetch(&bot.http, &app, &id).await.status(), 200);
    let person = Browser::new();
    let res = fetch(&person.http, &app, &id).await;
    assert_eq!(res.status(), 200);
    let flow: Value = res.json().await.unwrap();
    assert_eq!(flow["id"], seen_by_bot["id"]);

    // The bot cannot submit with the person's form token (it lacks the matching cookie).
    let res = bot.submit(&flow, &[("code", &code)], true).await;
    assert_eq!(
        expect_error(res, 403).await["id"],
        "security_csrf_violation"
    );
    // The person redeems the code and is signed in.
    let res = person.submit(&flow, &[("code", &code)], false).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], SETTINGS_UI);
    let whoami: Value = person.whoami(&app).await.json().await.unwrap();
    assert_eq!(whoami["identity"]["id"], identity["id"]);
    // Now the flow is the person's: the bot is refused and has no session.
    let res = fetch(&bot.http, &app, &id).await;
    assert_eq!(
        expect_error(res, 403).await["id"],
        "security_csrf_violation"
    );
    assert_eq!(bot.whoami(&app).await.status(), 401);
}

#[tokio::test]
async fn two_browsers_racing_with_the_right_code_exactly_one_wins() {
    let sink = SmtpSink::start().await;
    let app = recovery_app(&sink).await;
    let identity = app.create_person_with_password(EMAIL).await;
    let (code, id) = browser_code(&app, &identity).await;
    let (first, second) = (Browser::new(), Browser::new());
    let first_flow: Value = fetch(&first.http, &app, &id).await.json().await.unwrap();
    let second_flow: Value = fetch(&second.http, &app, &id).await.json().await.unwrap();

    let typed = [("code", code.as_str())];
    let (a, b) = tokio::join!(
        first.submit(&first_flow, &typed, false),
        second.submit(&second_flow, &typed, false),
    );
    let won =
        |res: &reqwest::Response| res.status() == 303 && res.headers()["location"] == SETTINGS_UI;
    assert_eq!(
        [won(&a), won(&b)].iter().filter(|w| **w).count(),
        1,
        "{} {:?} / {} {:?}",
        a.status(),
        a.headers().get("location"),
        b.status(),
        b.headers().get("location"),
    );
    let (winner, loser) = if won(&a) {
        (&first, &second)
    } else {
        (&second, &first)
    };
    let whoami: Value = winner.whoami(&app).await.json().await.unwrap();
    assert_eq!(whoami["identity"]["id"], identity["id"]);
    assert_eq!(loser.whoami(&app).await.status(), 401);
    // The flow belongs to the winner now; the loser can neither see nor reuse it.
    let res = fetch(&loser.http, &app, &id).await;
    assert_eq!(
        expect_error(res, 403).await["id"],
        "security_csrf_violation"
    );
}

/// Whoever opens an unbound admin link may not submit an address: it would replace the
/// administrator's code with one mailed elsewhere.
#[tokio::test]
async fn an_unbound_admin_flow_refuses_email_submissions() {
    let sink = SmtpSink::start().await;
    let app = recovery_app(&sink).await;
    let identity = app.create_person_with_password(EMAIL).await;
    let (code, id) = browser_code(&app, &identity).await;
    let stranger = Browser::new();
    let flow: Value = fetch(&stranger.http, &app, &id).await.json().await.unwrap();
    let res = stranger.submit(&flow, &[("email", EMAIL)], true).await;
    let error = expect_error(res, 400).await;
    assert!(
        error["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("administrator"),
        "{error}"
    );
    // The administrator's code still works, in the person's browser.
    let person = Browser::new();
    let flow: Value = fetch(&person.http, &app, &id).await.json().await.unwrap();
    let res = person.submit(&flow, &[("code", &code)], false).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], SETTINGS_UI);
}
