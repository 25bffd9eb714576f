//! login-ui: the server-rendered glue UI of Olympus between the browser, identity-svc and
//! oauth2-svc. It has no database.
//!
//! `build` is the one entry point of production, the launcher and tests.

pub mod config;

mod api;
mod error;
mod flows;
mod handoff;
mod headers;
mod home;
mod hooks;
mod i18n;
mod pages;
mod redirects;
mod render;
mod state;
mod upstream;

use std::sync::Arc;

use actix_web::web;
use service_kit::BuildInfo;
use service_kit::http::{Metrics, Ops, Readiness, ReadyCheck};
use service_kit::server::{Application, Edge, Listeners};

pub use config::Settings;
use pages::Pages;
use state::AppState;
use upstream::Upstreams;

pub const INFO: BuildInfo = BuildInfo {
    service: "login-ui",
    version: env!("CARGO_PKG_VERSION"),
};

/// Validates `settings`, compiles the pages (theme included), binds the listeners unless
/// `listeners` are given, and starts serving. The admin listener serves health, metrics and,
/// with `hooks.identity_lifecycle.secret` set, identity-svc's lifecycle hook.
pub async fn build(
    settings: Settings,
    listeners: Option<Listeners>,
) -> anyhow::Result<Application> {
    let settings = settings.validate()?;
    let ui = &settings.settings.ui;
    let pages = Pages::load(ui.theme_dir.as_deref(), ui.default_language.as_deref())?;
    let upstreams = Upstreams::new(&settings)?;
    let listeners = match listeners {
        Some(l) => l,
        None => Listeners::bind(&settings.settings.serve)?,
    };
    let public_url = settings.public_url.clone();
    let state = web::Data::new(AppState {
        settings: settings.clone(),
        pages,
        upstreams,
    });
    let edge = Edge {
        ops: Ops {
            info: INFO,
            ready: ready_check(state.clone()),
            metrics: Metrics::new(INFO.service),
        },
        limits: settings.settings.serve.request_limits.clone(),
        workers: settings.settings.serve.workers,
        render: error::render_edge,
    };
    let admin_state = state.clone();
    let public =
        Arc::new(move |cfg: &mut web::ServiceConfig| home::public_routes(cfg, state.clone()));
    let admin = Arc::new(move |cfg: &mut web::ServiceConfig| {
        hooks::handlers::admin_routes(cfg, admin_state.clone())
    });
    let app = Application::start(listeners, edge, public, admin)?;
    tracing::info!(public = app.public_port(), admin = app.admin_port(), url = %public_url, "login-ui started");
    Ok(app)
}

/// Ready when login-ui can render its pages; the upstreams' status is reported in the body but
/// does not decide readiness, so that an identity-svc outage does not take the UI (and its error
/// pages) out of the load balancer.
///
/// service-kit calls the check without the request, so these probes carry no `X-Request-Id`.
fn ready_check(state: web::Data<AppState>) -> ReadyCheck {
    Arc::new(move || {
        let state = state.clone();
        Box::pin(async move {
            let upstreams = state.upstreams.statuses(None).await;
            match state.pages.check() {
                Ok(()) => Readiness {
                    ready: true,
                    body: serde_json::json!({ "status": "ok", "upstreams": upstreams }),
                },
                Err(e) => {
                    tracing::warn!(error = ?e, "readiness check failed");
                    let body = serde_json::json!({ "errors": { "pages": "do not render" }, "upstreams": upstreams });
                    Readiness { ready: false, body }
                }
            }
        })
    })
}
