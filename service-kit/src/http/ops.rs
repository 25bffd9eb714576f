//! `/health/alive`, `/health/ready` and `/version` on both listeners; `/metrics` on admin.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use futures_util::future::BoxFuture;
use serde_json::json;

use super::Metrics;
use crate::BuildInfo;

/// What a readiness check found: ready or not, and a JSON body that explains it.
pub struct Readiness {
    pub ready: bool,
    pub body: serde_json::Value,
}

pub type ReadyCheck = Arc<dyn Fn() -> BoxFuture<'static, Readiness> + Send + Sync>;

#[derive(Clone)]
pub struct Ops {
    pub info: BuildInfo,
    pub ready: ReadyCheck,
    pub metrics: Metrics,
}

/// Registers the operational routes; `admin` adds `/metrics`.
pub fn ops_routes(cfg: &mut web::ServiceConfig, admin: bool) {
    cfg.route("/health/alive", web::get().to(alive))
        .route("/health/ready", web::get().to(ready))
        .route("/version", web::get().to(version));
    if admin {
        cfg.route("/metrics", web::get().to(metrics));
    }
}

async fn alive() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

async fn ready(ops: web::Data<Ops>) -> HttpResponse {
    let readiness = (ops.ready)().await;
    if readiness.ready {
        HttpResponse::Ok().json(readiness.body)
    } else {
        HttpResponse::ServiceUnavailable().json(readiness.body)
    }
}

async fn version(ops: web::Data<Ops>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "version": ops.info.version }))
}

async fn metrics(ops: web::Data<Ops>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(ops.metrics.render())
}

/// Readiness of a service whose only dependency is its database.
pub fn database_ready_check(db: crate::db::Db) -> ReadyCheck {
    Arc::new(move || {
        let db = db.clone();
        Box::pin(async move {
            match db.ping().await {
                Ok(()) => Readiness {
                    ready: true,
                    body: json!({ "status": "ok" }),
                },
                Err(e) => {
                    tracing::warn!(error = %e, "readiness check failed");
                    Readiness {
                        ready: false,
                        body: json!({ "errors": { "database": "not reachable" } }),
                    }
                }
            }
        })
    })
}
