//! The janitor: expired login flows and sessions go, in bounded batches; live ones stay.

use std::time::Duration;

use crate::browser::Browser;
use crate::helpers::{TestApp, fresh_database, settings_for, spawn_on};

const HOUR: Duration = Duration::from_secs(3600);

/// One janitor run (batches of 2) on the app's database at the app's clock.
pub(crate) async fn run_janitor(app: &TestApp) -> service_kit::janitor::Report {
    let mut settings = settings_for(&app.public);
    settings.dsn = app.db.dsn.clone();
    settings.clock = app.clock.clone();
    settings.janitor.batch_size = 2;
    identity_svc::janitor::run_once(settings)
        .await
        .expect("janitor runs")
}

#[tokio::test]
async fn the_janitor_deletes_expired_flows_and_sessions_and_keeps_live_ones() {
    let app = spawn_on(fresh_database(), |s| {
        s.dev = true;
        s.janitor.interval = Duration::ZERO;
    })
    .await;
    app.create_person_with_password("ada@example.com").await;
    let browser = Browser::new();
    browser.log_in(&app, "ada@example.com").await;
    // Four more flows by browsers without a session (a signed-in browser gets 400).
    for _ in 0..4 {
        Browser::new().start_login(&app, "").await;
    }
    assert_eq!(
        run_janitor(&app).await.total(),
        0,
        "nothing has expired yet"
    );

    // Past the flow lifespan (1h) and keep_expired (1h), within the session lifespan (24h).
    app.clock.advance(2 * HOUR + Duration::from_secs(60));
    let other = Browser::new();
    let live_flow = other.start_login(&app, "").await;
    let report = run_janitor(&app).await;
    assert_eq!(
        report.get("selfservice_login_flows"),
        5,
        "all five, two per batch: {report}"
    );
    assert_eq!(report.get("sessions"), 0, "{report}");
    assert_eq!(
        browser.whoami(&app).await.status(),
        200,
        "the session is live"
    );
    let id = live_flow["id"].as_str().unwrap();
    assert_eq!(
        other.fetch_flow(&app, id).await.status(),
        200,
        "the new flow stays"
    );

    // Past the session lifespan and keep_expired.
    app.clock.advance(26 * HOUR);
    let report = run_janitor(&app).await;
    assert_eq!(report.get("sessions"), 1, "{report}");
    assert_eq!(report.get("selfservice_login_flows"), 1, "{report}");
    assert_eq!(run_janitor(&app).await.total(), 0);
}

#[tokio::test]
async fn janitor_settings_are_validated_by_key() {
    let mut settings = settings_for("http://127.0.0.1:1");
    settings.janitor.keep_expired = Duration::from_secs(1);
    let err = settings.validate().unwrap_err().to_string();
    assert!(err.contains("janitor.keep_expired"), "{err}");
}
