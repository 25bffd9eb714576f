//! The janitor of identity-svc: deletes login, registration and settings flows and sessions (active or
//! not) that expired more than `janitor.keep_expired` ago, outbox messages delivered that long ago, and
//! brute-force counters whose window and lock ended that long ago, in
//! bounded batches. It runs in the background every `janitor.interval` and once with
//! `identity-svc janitor`. Nothing references these tables, so the order does not matter.
//! Expired verification and recovery flows go too, and the courier's mail once sent that long ago
//! (abandoned mail a week later), with its dispatches, stored user-facing errors once expired,
//! and session token exchanges (redeemed or not) once expired.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use prometheus::{IntCounterVec, Registry};
use service_kit::db::{AnyConnection, Db, DbError, Id};
use service_kit::janitor::{Report, Step, Sweep, step};
use service_kit::server::Application;

use crate::config::{Settings, Validated};
use crate::db::schema::{selfservice_login_flows as login_flows, sessions};

/// One janitor run over `db` at the settings' clock.
pub async fn sweep(
    db: &Db,
    settings: &Validated,
    counter: Option<&IntCounterVec>,
) -> Result<Report, DbError> {
    let s = &settings.settings;
    let cutoff = s.janitor.cutoff(s.clock.now());
    let steps: Vec<(&'static str, Step)> = vec![
        ("selfservice_login_flows", step(delete_login_flows, cutoff)),
        (
            "selfservice_registration_flows",
            step(crate::flow::registration::store::delete_expired, cutoff),
        ),
        (
            "selfservice_settings_flows",
            step(crate::flow::settings::store::delete_expired, cutoff),
        ),
        ("sessions", step(delete_sessions, cutoff)),
        (
            "selfservice_verification_flows",
            step(
                crate::flow::code::store::delete_expired_verification_flows,
                cutoff,
            ),
        ),
        (
            "selfservice_recovery_flows",
            step(
                crate::flow::code::store::delete_expired_recovery_flows,
                cutoff,
            ),
        ),
        (
            "courier_messages",
            step(crate::courier::store::delete_old, cutoff),
        ),
        (
            "outbox_messages",
            step(crate::outbox::store::delete_delivered, cutoff),
        ),
        ("login_throttle", throttle_step(s, cutoff)),
        ("code_send_limits", code_limits_step(s, cutoff)),
        (
            "selfservice_errors",
            step(crate::flow::errors::store::delete_expired, cutoff),
        ),
        (
            "session_token_exchanges",
            step(crate::flow::oidc::exchange::delete_expired, cutoff),
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

/// Brute-force counters whose window ended, and whose lock (if any) ended, before `cutoff`.
fn throttle_step(s: &Settings, cutoff: NaiveDateTime) -> Step {
    let window = chrono::Duration::from_std(s.selfservice.flows.login.brute_force.window)
        .unwrap_or(chrono::Duration::MAX);
    let window_cutoff = cutoff - window;
    std::sync::Arc::new(move |c, limit| {
        crate::throttle::store::delete_stale(c, limit, window_cutoff, cutoff)
    })
}

/// Code-sending counters whose window ended before `cutoff` (the longer of the two flows'
/// windows, so that neither loses a running count).
fn code_limits_step(s: &Settings, cutoff: NaiveDateTime) -> Step {
    let flows = &s.selfservice.flows;
    let window = flows
        .recovery
        .send_limits
        .window
        .max(flows.verification.send_limits.window);
    let window_cutoff =
        cutoff - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
    std::sync::Arc::new(move |c, limit| {
        crate::flow::code::limits::delete_stale(c, limit, window_cutoff)
    })
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

// Ids are selected with LIMIT and deleted by id: portable across SQLite and PostgreSQL.

fn delete_login_flows(
    c: &mut AnyConnection,
    limit: i64,
    cutoff: NaiveDateTime,
) -> QueryResult<usize> {
    let ids: Vec<Id> = login_flows::table
        .filter(login_flows::expires_at.lt(cutoff))
        .select(login_flows::id)
        .limit(limit)
        .load(c)?;
    diesel::delete(login_flows::table.filter(login_flows::id.eq_any(&ids))).execute(c)
}

/// Sessions past expiry, whether still active or already ended (ended sessions stay listed
/// in the admin API until they expire, as in Kratos).
fn delete_sessions(c: &mut AnyConnection, limit: i64, cutoff: NaiveDateTime) -> QueryResult<usize> {
    let ids: Vec<Id> = sessions::table
        .filter(sessions::expires_at.lt(cutoff))
        .select(sessions::id)
        .limit(limit)
        .load(c)?;
    diesel::delete(sessions::table.filter(sessions::id.eq_any(&ids))).execute(c)
}
