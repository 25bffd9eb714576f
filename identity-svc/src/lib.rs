//! identity-svc: the identity service of Olympus (the Ory Kratos role): identities, their
//! trait schemas and credentials.
//!
//! `build` is the one entry point of production, the launcher and tests.

pub mod cli;
pub mod config;
pub mod courier;
pub mod credential;
pub mod db;
pub mod error;

mod csrf;
mod flow;
mod headers;
pub mod hooks;
mod identity;
pub mod janitor;
mod mfa;
pub mod outbox;
mod pagination;
mod schema;
mod session;
mod state;
mod throttle;
mod webauthn;

use std::sync::Arc;

use service_kit::BuildInfo;
use service_kit::db::{Db, migrate};
use service_kit::http::{Metrics, Ops, database_ready_check};
use service_kit::server::{Application, Edge, Listeners};

pub use config::Settings;
use config::Validated;
use state::AppState;

pub const INFO: BuildInfo = BuildInfo {
    service: "identity-svc",
    version: env!("CARGO_PKG_VERSION"),
};

/// Validates `settings`, loads the identity schemas, opens the database (migrating or checking
/// the schema), binds the listeners unless `listeners` are given, and starts serving.
pub async fn build(
    settings: Settings,
    listeners: Option<Listeners>,
) -> anyhow::Result<Application> {
    let settings = settings.validate()?;
    let schemas = schema::Registry::load(&settings.settings.identity)?;
    let password_hashes = prometheus::IntCounter::new(
        "password_hashes_total",
        "Password hashes computed (new passwords, sign-in checks and dummy checks alike)",
    )?;
    let passwords = credential::PasswordHasher::new(&settings.settings.hashers.argon2)?
        .with_policy(credential::PasswordPolicy::new(
            &settings.settings.selfservice.methods.password.config,
        ))
        .with_counter(password_hashes.clone());
    let db = open_database(&settings).await?;
    let listeners = match listeners {
        Some(l) => l,
        None => Listeners::bind(&settings.settings.serve)?,
    };
    let mut state = AppState::new(settings.clone(), db.clone(), schemas, passwords);
    let lifecycle_hook = settings
        .lifecycle_hook
        .is_some()
        .then(outbox::Waker::default);
    state.lifecycle_hook = lifecycle_hook.clone();
    let state = actix_web::web::Data::new(state);
    let metrics = Metrics::new(INFO.service);
    let registry = metrics.registry().clone();
    registry.register(Box::new(password_hashes))?;
    let outbox_counters = outbox::Counters::register(&registry)?;
    let background_db = db.clone();
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
    let courier_state = state.clone();
    let response_headers = actix_web::web::Data::new(headers::response_headers(&settings));
    let admin_headers = response_headers.clone();
    let public = Arc::new(move |cfg: &mut actix_web::web::ServiceConfig| {
        cfg.app_data(public_state.clone());
        cfg.app_data(response_headers.clone());
        // Browser errors go to the error page when `selfservice.flows.error.ui_url` is set.
        let redirect =
            actix_web::middleware::from_fn(flow::errors::redirect::redirect_browser_errors);
        cfg.service(actix_web::web::scope("").wrap(redirect).configure(|cfg| {
            schema::handlers::routes(cfg);
            flow::errors::handlers::routes(cfg);
            flow::login::handlers::public_routes(cfg);
            flow::registration::handlers::public_routes(cfg);
            flow::settings::handlers::public_routes(cfg);
            flow::verification::public_routes(cfg);
            flow::recovery::public_routes(cfg);
            flow::oidc::callback::public_routes(cfg);
            session::handlers::public_routes(cfg);
            session::manage::public_routes(cfg);
            session::native::public_routes(cfg);
            webauthn::script::public_routes(cfg);
        }));
    });
    let admin = Arc::new(move |cfg: &mut actix_web::web::ServiceConfig| {
        cfg.app_data(state.clone());
        cfg.app_data(admin_headers.clone());
        identity::handlers::admin_routes(cfg);
        mfa::admin::admin_routes(cfg);
        session::manage::admin_routes(cfg);
        courier::handlers::admin_routes(cfg);
        flow::recovery::admin::admin_routes(cfg);
        throttle::handlers::admin_routes(cfg);
        schema::handlers::routes(cfg);
        flow::errors::handlers::routes(cfg);
    });
    let mut app = Application::start(listeners, edge, public, admin)?;
    janitor::attach(&mut app, background_db.clone(), settings.clone(), &registry)?;
    courier::attach(
        &mut app,
        background_db.clone(),
        &settings,
        &courier_state.courier,
        outbox_counters.clone(),
    )?;
    if let Some(waker) = lifecycle_hook {
        hooks::attach(&mut app, background_db, &settings, outbox_counters, waker)?;
    }
    tracing::info!(public = app.public_port(), admin = app.admin_port(), public_url = %settings.public_url, "identity-svc started");
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
