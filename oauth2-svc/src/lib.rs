//! oauth2-svc: the OAuth2 and OpenID Connect provider of Olympus (the Ory Hydra role).
//!
//! `build` is the one entry point of production, the launcher and tests.

pub mod config;
pub mod db;
pub mod error;

mod client;
mod state;

use std::sync::Arc;

use anyhow::Context;
use service_kit::BuildInfo;
use service_kit::db::Db;
use service_kit::http::{Metrics, Ops, Readiness};
use service_kit::server::{Application, Edge, Listeners};

pub use config::Settings;
use config::Validated;
use state::AppState;

pub const INFO: BuildInfo = BuildInfo {
    service: "oauth2-svc",
    version: env!("CARGO_PKG_VERSION"),
};

/// Validates `settings`, opens the database (migrating or checking the schema), binds the
/// listeners unless `listeners` are given, and starts serving.
pub async fn build(
    settings: Settings,
    listeners: Option<Listeners>,
) -> anyhow::Result<Application> {
    let settings = settings.validate()?;
    let db = open_database(&settings).await?;
    let listeners = match listeners {
        Some(l) => l,
        None => Listeners::bind(&settings.settings.serve)?,
    };
    let state = actix_web::web::Data::new(AppState::new(settings.clone(), db.clone()));
    let edge = Edge {
        ops: Ops {
            info: INFO,
            ready: ready_check(db),
            metrics: Metrics::new(INFO.service),
        },
        limits: settings.settings.serve.request_limits.clone(),
        workers: settings.settings.serve.workers,
        render: error::render_edge,
    };
    let public_state = state.clone();
    let public = Arc::new(move |cfg: &mut actix_web::web::ServiceConfig| {
        cfg.app_data(public_state.clone());
    });
    let admin = Arc::new(move |cfg: &mut actix_web::web::ServiceConfig| {
        cfg.app_data(state.clone());
        client::handlers::admin_routes(cfg);
    });
    let app = Application::start(listeners, edge, public, admin)?;
    tracing::info!(public = app.public_port(), admin = app.admin_port(), issuer = %settings.issuer, "oauth2-svc started");
    Ok(app)
}

/// Applies pending migrations (the `migrate` command); returns how many ran.
pub async fn migrate(settings: Settings) -> anyhow::Result<usize> {
    run_blocking(move || migrate_blocking(settings)).await
}

/// [`migrate`] for callers outside an async runtime (test templates).
pub fn migrate_blocking(settings: Settings) -> anyhow::Result<usize> {
    let settings = settings.validate()?;
    let db = Db::connect(&settings.dsn, &settings.settings.database)
        .context("cannot open the database (dsn)")?;
    Ok(db::MIGRATIONS.run(&mut *db.writer_blocking()?)?)
}

async fn open_database(settings: &Validated) -> anyhow::Result<Db> {
    let db = Db::connect(&settings.dsn, &settings.settings.database)
        .context("cannot open the database (dsn)")?;
    let migrate = settings
        .settings
        .database
        .migrate_on_start
        .unwrap_or(db.backend() == service_kit::db::Backend::Sqlite);
    let check = db.clone();
    run_blocking(move || {
        let mut conn = check.writer_blocking()?;
        if migrate {
            let ran = db::MIGRATIONS.run(&mut conn)?;
            if ran > 0 {
                tracing::info!(ran, "applied database migrations");
            }
        } else {
            db::MIGRATIONS.check(&mut conn)?;
        }
        Ok(())
    })
    .await?;
    Ok(db)
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .context("blocking task failed")?
}

fn ready_check(db: Db) -> service_kit::http::ReadyCheck {
    Arc::new(move || {
        let db = db.clone();
        Box::pin(async move {
            match db.ping().await {
                Ok(()) => Readiness {
                    ready: true,
                    body: serde_json::json!({ "status": "ok" }),
                },
                Err(e) => {
                    tracing::warn!(error = %e, "readiness check failed");
                    Readiness {
                        ready: false,
                        body: serde_json::json!({ "errors": { "database": "not reachable" } }),
                    }
                }
            }
        })
    })
}
