//! oauth2-svc: the OAuth2 and OpenID Connect provider of Olympus (the Ory Hydra role).
//!
//! `build` is the one entry point of production, the launcher and tests.

pub mod config;
pub mod db;
pub mod error;

pub mod cli;

mod authorize;
mod client;
mod consent;
mod device;
mod flow;
pub mod janitor;
mod jwk;
mod jwt_bearer;
mod keyed;
mod logout;
mod oidc;
mod state;
mod subject;
mod token;

use std::sync::Arc;

use service_kit::BuildInfo;
use service_kit::db::{Db, migrate};
use service_kit::http::{Metrics, Ops, database_ready_check};
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
    let keys = jwk::KeyRing::load(&db, &settings.settings).await?;
    let state = actix_web::web::Data::new(AppState::new(settings.clone(), db.clone(), keys));
    let metrics = Metrics::new(INFO.service);
    let janitor_registry = metrics.registry().clone();
    let janitor_db = db.clone();
    let backchannel =
        actix_web::web::Data::new(logout::backchannel::BackChannel::new(metrics.registry())?);
    let admin_backchannel = backchannel.clone();
    let edge = Edge {
        ops: Ops {
            info: INFO,
            ready: database_ready_check(db),
            metrics,
        },
        limits: settings.settings.serve.request_limits.clone(),
        workers: settings.settings.serve.workers,
        render: error::render_edge,
    };
    let public_state = state.clone();
    let public = Arc::new(move |cfg: &mut actix_web::web::ServiceConfig| {
        cfg.app_data(public_state.clone());
        oidc::discovery::public_routes(cfg);
        authorize::handlers::public_routes(cfg);
        token::handlers::public_routes(cfg);
        client::registration::public_routes(cfg);
        device::handlers::public_routes(cfg);
        cfg.app_data(backchannel.clone());
        logout::handlers::public_routes(cfg);
    });
    let admin = Arc::new(move |cfg: &mut actix_web::web::ServiceConfig| {
        cfg.app_data(state.clone());
        client::handlers::admin_routes(cfg);
        jwk::admin::admin_routes(cfg);
        consent::handlers::admin_routes(cfg);
        consent::sessions::admin_routes(cfg);
        cfg.app_data(admin_backchannel.clone());
        logout::handlers::admin_routes(cfg);
        token::handlers::admin_routes(cfg);
        device::handlers::admin_routes(cfg);
        jwt_bearer::handlers::admin_routes(cfg);
    });
    let mut app = Application::start(listeners, edge, public, admin)?;
    janitor::attach(&mut app, janitor_db, settings.clone(), &janitor_registry)?;
    tracing::info!(public = app.public_port(), admin = app.admin_port(), issuer = %settings.issuer, "oauth2-svc started");
    Ok(app)
}

/// Applies pending migrations (the `migrate` command); returns how many ran.
pub async fn migrate(settings: Settings) -> anyhow::Result<usize> {
    tokio::task::spawn_blocking(move || migrate_blocking(settings)).await?
}

/// [`migrate`] for callers outside an async runtime (test templates).
pub fn migrate_blocking(settings: Settings) -> anyhow::Result<usize> {
    let settings = settings.validate()?;
    migrate::migrate_now(&settings.dsn, &settings.settings.database, &db::MIGRATIONS)
}

async fn open_database(settings: &Validated) -> anyhow::Result<Db> {
    let (dsn, database) = (settings.dsn.clone(), settings.settings.database.clone());
    tokio::task::spawn_blocking(move || migrate::open_for_serving(&dsn, &database, &db::MIGRATIONS))
        .await?
}
