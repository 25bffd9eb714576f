//! The outermost middleware: a request id (taken from `X-Request-Id` when well-formed, made
//! otherwise), one span per request, the whole-request deadline, the access log and metrics.

use std::future::{Ready, ready};
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use tracing::Instrument;

use super::{EdgeError, ErrorRenderer, Metrics};

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the request being served; forward it as `X-Request-Id` on calls to other services.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    fn from_header(value: Option<&HeaderValue>) -> Self {
        let valid = value
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()));
        match valid {
            Some(v) => RequestId(v.to_string()),
            None => RequestId(uuid::Uuid::now_v7().to_string()),
        }
    }
}

impl FromRequest for RequestId {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let id = req.extensions().get::<RequestId>().cloned();
        ready(Ok(id.unwrap_or_else(|| RequestId::from_header(None))))
    }
}

/// Headers a service wants on every response of a listener, registered by its routes as
/// `web::Data<ResponseHeaders>` (opt-in: a listener without it gets none). A header the handler
/// set itself is kept.
#[derive(Clone, Debug, Default)]
pub struct ResponseHeaders(pub Vec<(HeaderName, HeaderValue)>);

/// Per-listener facts the middleware needs.
#[derive(Clone)]
pub struct EdgeContext {
    pub listener: &'static str,
    pub metrics: Metrics,
    pub timeout: Duration,
    pub render: ErrorRenderer,
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let edge = req
        .app_data::<web::Data<EdgeContext>>()
        .cloned()
        .expect("EdgeContext is registered by the server");
    let request_id = RequestId::from_header(req.headers().get(REQUEST_ID_HEADER));
    req.extensions_mut().insert(request_id.clone());
    let method = req.method().to_string();
    let span = tracing::info_span!(
        "http_request",
        request_id = %request_id.0,
        listener = edge.listener,
        method = %method,
        path = %req.path(),
    );
    let started = Instant::now();
    let path = req.path().to_string();
    // No clone of the request may outlive routing (actix needs it unshared), so failures
    // before a response exists leave through `Err`, which actix renders as-is.
    let outcome = tokio::time::timeout(edge.timeout, next.call(req))
        .instrument(span.clone())
        .await;
    let mut res = match outcome {
        Ok(Ok(res)) => res.map_into_boxed_body(),
        Ok(Err(err)) => {
            edge.metrics.observe(
                edge.listener,
                &method,
                "unmatched",
                500,
                started.elapsed().as_secs_f64(),
            );
            return Err(err);
        }
        Err(_) => {
            span.in_scope(|| tracing::warn!(timeout = ?edge.timeout, path, "request exceeded the request timeout"));
            let mut resp = (edge.render)(EdgeError::Timeout);
            stamp(resp.headers_mut(), &request_id);
            let status = resp.status().as_u16();
            edge.metrics.observe(
                edge.listener,
                &method,
                "timeout",
                status,
                started.elapsed().as_secs_f64(),
            );
            return Err(InternalError::from_response("request timeout", resp).into());
        }
    };
    let elapsed = started.elapsed();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    let status = res.status().as_u16();
    edge.metrics.observe(
        edge.listener,
        &method,
        &route,
        status,
        elapsed.as_secs_f64(),
    );
    span.in_scope(|| {
        tracing::info!(
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request finished"
        )
    });
    if let Some(extra) = res
        .request()
        .app_data::<web::Data<ResponseHeaders>>()
        .cloned()
    {
        for (name, value) in &extra.0 {
            if !res.headers().contains_key(name) {
                res.headers_mut().insert(name.clone(), value.clone());
            }
        }
    }
    stamp(res.headers_mut(), &request_id);
    Ok(res)
}

fn stamp(headers: &mut actix_web::http::header::HeaderMap, request_id: &RequestId) {
    if let Ok(value) = HeaderValue::from_str(&request_id.0) {
        headers.insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_taken_only_when_well_formed() {
        let good = HeaderValue::from_static("abc-123");
        assert_eq!(RequestId::from_header(Some(&good)).0, "abc-123");
        let spaced = HeaderValue::from_static("a b");
        assert_ne!(RequestId::from_header(Some(&spaced)).0, "a b");
        let long = HeaderValue::from_str(&"x".repeat(200)).unwrap();
        assert_eq!(RequestId::from_header(Some(&long)).0.len(), 36);
    }
}
