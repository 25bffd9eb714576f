//! The request edge shared by every listener: request ids and spans, metrics, the whole-request
//! deadline, body limits, errors for requests that never reach a handler, and health endpoints.

mod edge;
mod metrics;
mod observe;
mod ops;

pub use edge::{EdgeError, ErrorRenderer, JsonObject, extractor_configs, read_body};
pub use metrics::Metrics;
pub use observe::{EdgeContext, REQUEST_ID_HEADER, RequestId, ResponseHeaders, observe};

/// The middleware's per-listener context.
pub fn observe_context(
    listener: &'static str,
    metrics: Metrics,
    limits: &crate::settings::RequestLimits,
    render: ErrorRenderer,
) -> EdgeContext {
    EdgeContext {
        listener,
        metrics,
        timeout: limits.request_timeout,
        render,
    }
}
pub use ops::{Ops, Readiness, ReadyCheck, database_ready_check, ops_routes};
