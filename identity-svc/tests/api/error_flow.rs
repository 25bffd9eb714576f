//! Kratos' user-facing error flow: browser errors no flow can show go to
//! `selfservice.flows.error.ui_url?id=`, and `GET /self-service/errors?id=` reads them back.
//! JSON clients and api flows keep their answers.

use std::time::Duration;

use serde_json::{Value, json};

use crate::browser::{Browser, PASSWORD, form_fields};
use crate::helpers::{TestApp, expect_error, fresh_database, settings_for, spawn_on};

const ERROR_UI: &str = "https://ui.test/error";

/// A dev-mode app (plain-http cookies) with the error page configured.
async fn error_app() -> TestApp {
    spawn_on(fresh_database(), |s| {
        s.dev = true;
        s.janitor.interval = Duration::ZERO;
        s.selfservice.flows.error.ui_url = Some(ERROR_UI.into());
    })
    .await
}

/// The error id a 303 to the error page names.
fn error_id(res: &reqwest::Response) -> String {
    assert_eq!(res.status(), 303, "a redirect to the error page");
    assert_eq!(res.headers()["cache-control"], "no-store");
    let location = res.headers()["location"].to_str().unwrap();
    let url = url::Url::parse(location).unwrap();
    assert_eq!(
        format!(
            "{}://{}{}",
            url.scheme(),
            url.host_str().unwrap(),
            url.path()
        ),
        ERROR_UI,
        "{location}"
    );
    let (name, id) = url.query_pairs().next().expect("an id");
    assert_eq!(name, "id");
    id.into_owned()
}

/// `GET /self-service/errors?id=` on `base` (the public or admin listener).
async fn read_error(app: &TestApp, base: &str, id: &str) -> reqwest::Response {
    app.http
        .get(format!("{base}/self-service/errors"))
        .query(&[("id", id)])
        .send()
        .await
        .unwrap()
}

/// A login form of `owner`'s flow posted by a browser without its cookie (a CSRF violation).
async fn foreign_post(app: &TestApp, owner: &Browser, typed: &[(&str, &str)]) -> reqwest::Response {
    let flow = owner.start_login(app, "").await;
    let mut fields = form_fields(&flow);
    fields.extend(typed.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Browser::new()
        .http
        .post(flow["ui"]["action"].as_str().unwrap())
        .form(&fields)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_browser_csrf_violation_goes_to_the_error_page_readable_on_both_listeners() {
    let app = error_app().await;
    let res = foreign_post(&app, &Browser::new(), &[("identifier", "ada@example.com")]).await;
    let id = error_id(&res);
    assert!(res.text().await.unwrap().is_empty());

    let first = read_error(&app, &app.public, &id).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["cache-control"], "no-store");
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["id"], id.as_str());
    let error = &first["error"];
    assert_eq!(error["id"], "security_csrf_violation", "{first}");
    assert_eq!(error["code"], 403);
    assert_eq!(error["status"], "Forbidden");
    assert!(error["message"].as_str().unwrap().contains("Cross-Site"));
    assert!(error["details"]["reject_reason"].is_string(), "{first}");
    assert!(
        error.get("error").is_none(),
        "the genericError itself, not wrapped"
    );
    for at in ["created_at", "updated_at"] {
        let at = first[at].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{at}");
    }
    // Read as often as asked (as in Kratos), on the admin listener too.
    let again: Value = read_error(&app, &app.public, &id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again, first);
    let admin = read_error(&app, &app.admin, &id).await;
    assert_eq!(admin.status(), 200);
    assert_eq!(admin.json::<Value>().await.unwrap(), first);
}

#[tokio::test]
async fn json_clients_keep_the_envelope() {
    let app = error_app().await;
    let owner = Browser::new();
    let flow = owner.start_login(&app, "").await;
    let res = Browser::new()
        .submit(&flow, &[("identifier", "ada@example.com")], true)
        .await;
    assert_eq!(
        expect_error(res, 403).await["id"],
        "security_csrf_violation"
    );
    // A form post that asks for JSON, too.
    let res = Browser::new()
        .http
        .post(flow["ui"]["action"].as_str().unwrap())
        .header("accept", "application/json")
        .form(&form_fields(&flow))
        .send()
        .await
        .unwrap();
    expect_error(res, 403).await;
    // A JSON-only endpoint keeps its 404 even for a plain GET.
    let res = app
        .http
        .get(format!("{}/self-service/login/flows?id=nope", app.public))
        .send()
        .await
        .unwrap();
    expect_error(res, 404).await;
}

#[tokio::test]
async fn without_ui_url_browsers_get_the_envelope_as_before() {
    let app = spawn_on(fresh_database(), |s| s.dev = true).await;
    let res = foreign_post(&app, &Browser::new(), &[]).await;
    assert_eq!(
        expect_error(res, 403).await["id"],
        "security_csrf_violation"
    );
    let res = app
        .http
        .get(format!("{}/self-service/login/browser", app.public))
        .query(&[("return_to", "https://evil.test/")])
        .send()
        .await
        .unwrap();
    expect_error(res, 400).await;
}

#[tokio::test]
async fn browser_navigations_and_unknown_flows_go_to_the_error_page() {
    let app = error_app().await;
    let res = app
        .http
        .get(format!("{}/self-service/login/browser", app.public))
        .query(&[("return_to", "https://evil.test/")])
        .send()
        .await
        .unwrap();
    let id = error_id(&res);
    let body: Value = read_error(&app, &app.public, &id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["error"]["id"], "self_service_flow_return_to_forbidden");
    assert_eq!(body["error"]["code"], 400);

    // The same navigation asking for JSON keeps its 400.
    let res = app
        .http
        .get(format!("{}/self-service/login/browser", app.public))
        .query(&[("return_to", "https://evil.test/")])
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    expect_error(res, 400).await;

    // A form post to a flow that does not exist.
    let missing = uuid::Uuid::now_v7();
    let res = Browser::new()
        .http
        .post(format!("{}/self-service/login?flow={missing}", app.public))
        .form(&[("method", "password"), ("identifier", "ada@example.com")])
        .send()
        .await
        .unwrap();
    let id = error_id(&res);
    let body: Value = read_error(&app, &app.public, &id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["error"]["code"], 404, "{body}");

    // An upstream callback with no flow to return to, and a bad logout link.
    for path in [
        "/self-service/methods/oidc/callback/nobody?state=x&code=y",
        "/self-service/logout?token=forged",
    ] {
        let res = Browser::new()
            .http
            .get(format!("{}{path}", app.public))
            .send()
            .await
            .unwrap();
        let id = error_id(&res);
        let body: Value = read_error(&app, &app.public, &id)
            .await
            .json()
            .await
            .unwrap();
        let code = body["error"]["code"].as_u64().unwrap();
        assert!((400..500).contains(&code), "{path}: {body}");
    }
}

/// An api flow posted as a form without `Accept: application/json` still answers JSON.
#[tokio::test]
async fn api_flows_keep_their_answers() {
    let app = error_app().await;
    let res = app
        .create_identity(json!({"schema_id": "default", "state": "inactive",
            "traits": {"email": "off@example.com", "name": {"first": "A", "last": "B"}},
            "credentials": {"password": {"config": {"password": PASSWORD}}}}))
        .await;
    assert_eq!(res.status(), 201);
    let flow: Value = app
        .http
        .get(format!("{}/self-service/login/api", app.public))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = app
        .http
        .post(flow["ui"]["action"].as_str().unwrap())
        .form(&[
            ("method", "password"),
            ("identifier", "off@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(expect_error(res, 401).await["id"], "identity_disabled");
}

#[tokio::test]
async fn unknown_malformed_and_stub_ids() {
    let app = error_app().await;
    for base in [&app.public, &app.admin] {
        let unknown = uuid::Uuid::now_v7().to_string();
        for id in [
            unknown.as_str(),
            "not-a-uuid",
            "",
            "stub:418",
            "'; DROP TABLE x",
        ] {
            let res = read_error(&app, base, id).await;
            expect_error(res, 404).await;
        }
        let res = read_error(&app, base, "stub:500").await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], 500);
        assert_eq!(body["error"]["status"], "Internal Server Error");
        assert!(body["error"]["message"].is_string());
    }
}

/// The stored error is the envelope clients already saw: no password, CSRF token or cookie.
#[tokio::test]
async fn stored_errors_hold_no_secrets() {
    let app = error_app().await;
    app.create_identity(json!({"schema_id": "default", "state": "inactive",
        "traits": {"email": "off@example.com", "name": {"first": "A", "last": "B"}},
        "credentials": {"password": {"config": {"password": PASSWORD}}}}))
        .await;
    let browser = Browser::new();
    let flow = browser.start_login(&app, "").await;
    let csrf = form_fields(&flow)
        .into_iter()
        .find(|(name, _)| name == "csrf_token")
        .unwrap()
        .1;
    let res = browser
        .submit(
            &flow,
            &[("identifier", "off@example.com"), ("password", PASSWORD)],
            false,
        )
        .await;
    let disabled = error_id(&res);
    let res = foreign_post(&app, &browser, &[("password", PASSWORD)]).await;
    let violation = error_id(&res);
    for id in [&disabled, &violation] {
        let text = read_error(&app, &app.public, id)
            .await
            .text()
            .await
            .unwrap();
        assert!(!text.contains(PASSWORD), "{text}");
        assert!(!text.contains(&csrf), "{text}");
        assert!(!text.contains("olympus_csrf"), "{text}");
    }
    let body: Value = read_error(&app, &app.public, &disabled)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["error"]["id"], "identity_disabled");
}

/// A browser repeating one error reuses its recent row; another browser gets its own.
#[tokio::test]
async fn a_repeated_error_reuses_its_row_for_a_minute() {
    let app = error_app().await;
    let owner = Browser::new();
    let flow = owner.start_login(&app, "").await;
    let post = |browser: &Browser| {
        browser
            .http
            .post(flow["ui"]["action"].as_str().unwrap())
            .form(&[("csrf_token", "forged"), ("identifier", "x@example.com")])
            .send()
    };
    let first = error_id(&post(&owner).await.unwrap());
    assert_eq!(error_id(&post(&owner).await.unwrap()), first);
    let other = Browser::new();
    other.start_login(&app, "").await; // gets its own CSRF cookie
    assert_ne!(error_id(&post(&other).await.unwrap()), first);
    app.clock.advance(Duration::from_secs(61));
    let later = error_id(&post(&owner).await.unwrap());
    assert_ne!(later, first, "a new row after the window");
    assert_eq!(read_error(&app, &app.public, &first).await.status(), 200);
}

#[tokio::test]
async fn errors_expire_and_the_janitor_deletes_them() {
    let app = error_app().await;
    let id = error_id(&foreign_post(&app, &Browser::new(), &[]).await);
    let report = run_janitor(&app).await;
    assert_eq!(report.get("selfservice_errors"), 0, "{report}");
    // Past the lifespan (1h): no longer readable, kept for keep_expired (1h).
    app.clock.advance(Duration::from_secs(3600 + 60));
    expect_error(read_error(&app, &app.public, &id).await, 404).await;
    assert_eq!(run_janitor(&app).await.get("selfservice_errors"), 0);
    let fresh = error_id(&foreign_post(&app, &Browser::new(), &[]).await);
    app.clock.advance(Duration::from_secs(3600));
    let report = run_janitor(&app).await;
    assert_eq!(
        report.get("selfservice_errors"),
        1,
        "only the old one: {report}"
    );
    // The newer one is still stored (expired, within keep_expired), then goes too.
    app.clock.advance(Duration::from_secs(3600 + 60));
    assert_eq!(run_janitor(&app).await.get("selfservice_errors"), 1);
    expect_error(read_error(&app, &app.public, &fresh).await, 404).await;
}

async fn run_janitor(app: &TestApp) -> service_kit::janitor::Report {
    let mut settings = settings_for(&app.public);
    settings.dsn = app.db.dsn.clone();
    settings.clock = app.clock.clone();
    settings.selfservice.flows.error.ui_url = Some(ERROR_UI.into());
    identity_svc::janitor::run_once(settings)
        .await
        .expect("janitor runs")
}

#[tokio::test]
async fn error_settings_are_validated_by_key() {
    let mut settings = settings_for("http://127.0.0.1:1");
    settings.selfservice.flows.error.ui_url = Some("/error".into());
    let err = settings.validate().unwrap_err().to_string();
    assert!(err.contains("selfservice.flows.error.ui_url"), "{err}");
    let mut settings = settings_for("http://127.0.0.1:1");
    settings.selfservice.flows.error.lifespan = Duration::from_secs(1);
    let err = settings.validate().unwrap_err().to_string();
    assert!(err.contains("selfservice.flows.error.lifespan"), "{err}");
}

/// Errors of api flows that come before the body is parsed (an oversized form, no session)
/// stay JSON even for form posts: the flow is marked as api as soon as it is loaded.
#[tokio::test]
async fn early_errors_of_api_flows_stay_json() {
    let app = error_app().await;
    app.create_person_with_password("api@example.com").await;
    let token = crate::flows::api_token(&app, "api@example.com").await;
    let flow = crate::flows::start_api_with_token(&app, "settings", &token).await;
    let action = flow["ui"]["action"].as_str().unwrap();
    // Without the session token: 401 in the envelope, not a redirect to the error page.
    let res = app
        .http
        .post(action)
        .form(&[("method", "profile"), ("traits.email", "x@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(expect_error(res, 401).await["id"], "session_inactive");

    let login: Value = app
        .http
        .get(format!("{}/self-service/login/api", app.public))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let huge = format!("method=password&identifier={}", "a".repeat(4 << 20));
    let res = app
        .http
        .post(login["ui"]["action"].as_str().unwrap())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert!(res.headers().get("location").is_none());
    let body: Value = res.json().await.expect("a JSON envelope");
    assert_eq!(body["error"]["code"], 413);
}
