//! The janitor of oauth2-svc: deletes flows, codes, tokens, login sessions, logout requests,
//! device codes and seen assertion ids that can never be used again, in bounded batches. It
//! runs in the background every `janitor.interval` and once with `oauth2-svc janitor`.
//!
//! Order matters: tokens go first, then the codes whose chains they kept alive, then the
//! flows those codes pointed at (a code references its flow with ON DELETE CASCADE, so a flow
//! is only deleted once nothing points at it). Consent sessions are not touched: they are the
//! remembered grants the admin API lists and revokes.

mod store;

use prometheus::{IntCounterVec, Registry};
use service_kit::db::{Db, DbError};
use service_kit::janitor::{Report, Step, Sweep, step};
use service_kit::server::Application;

use crate::config::{Settings, Validated};

/// One janitor run over `db` at the settings' clock.
pub async fn sweep(
    db: &Db,
    settings: &Validated,
    counter: Option<&IntCounterVec>,
) -> Result<Report, DbError> {
    let s = &settings.settings;
    let cutoff = s.janitor.cutoff(s.clock.now());
    let challenge_ttl =
        chrono::Duration::from_std(s.ttl.login_consent_request).unwrap_or(chrono::Duration::MAX);
    let requested_before = cutoff - challenge_ttl;
    let throttle_window = chrono::Duration::from_std(s.oauth2.client_authentication.window)
        .unwrap_or(chrono::Duration::MAX);
    let throttle_before = cutoff - throttle_window;
    let steps: Vec<(&'static str, Step)> = vec![
        ("oauth2_access_tokens", step(store::access_tokens, cutoff)),
        ("oauth2_refresh_tokens", step(store::refresh_tokens, cutoff)),
        ("oauth2_codes", step(store::codes, cutoff)),
        (
            "oauth2_device_challenges",
            step(store::device_challenges, cutoff),
        ),
        ("oauth2_device_codes", step(store::device_codes, cutoff)),
        ("oauth2_flows", step(store::flows, requested_before)),
        (
            "oauth2_logout_requests",
            step(store::logout_requests, requested_before),
        ),
        ("oauth2_login_sessions", step(store::login_sessions, cutoff)),
        (
            "oauth2_client_assertion_jtis",
            step(store::client_assertion_jtis, cutoff),
        ),
        ("oauth2_jwt_assertions", step(store::jwt_assertions, cutoff)),
        (
            "oauth2_client_auth_throttle",
            step(store::client_auth_throttle, throttle_before),
        ),
    ];
    Sweep {
        db,
        batch_size: s.janitor.batch_size,
        counter,
    }
    .run(steps)
    .await
}

/// The `janitor` command: validates the settings, opens the database and runs once.
pub async fn run_once(settings: Settings) -> anyhow::Result<Report> {
    let settings = settings.validate()?;
    let db = crate::open_database(&settings).await?;
    Ok(sweep(&db, &settings, None).await?)
}

/// Starts the background janitor (unless `janitor.interval` is 0), tied to `app`, counting
/// deleted rows on `registry`.
pub fn attach(
    app: &mut Application,
    db: Db,
    settings: Validated,
    registry: &Registry,
) -> anyhow::Result<()> {
    let interval = settings.settings.janitor.interval;
    service_kit::janitor::attach(app, interval, registry, move |counter| {
        let (db, settings) = (db.clone(), settings.clone());
        async move { Ok(sweep(&db, &settings, Some(&counter)).await?) }
    })
}
