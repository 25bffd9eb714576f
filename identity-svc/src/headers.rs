//! Security headers on every identity-svc response, both listeners (security catalogue HD-01,
//! HD-02): identity-svc serves JSON and redirects, never a page to frame, so framing is refused
//! outright, and nothing is cached; HSTS goes out when the public URL is https and `dev` is off.

use actix_web::http::header::{self, HeaderName, HeaderValue};
use service_kit::http::ResponseHeaders;

use crate::config::Validated;

/// One year, as HD-01 asks (the same as login-ui's).
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000; includeSubDomains";

/// Nothing identity-svc serves may be framed, run as a document or leak its URL (flow ids).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

pub fn response_headers(settings: &Validated) -> ResponseHeaders {
    let mut headers: Vec<(HeaderName, &'static str)> = vec![
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::REFERRER_POLICY, "no-referrer"),
        // Flows, sessions and identities are per-user state; a response that names its own
        // caching (none does today) keeps it.
        (header::CACHE_CONTROL, "no-store"),
    ];
    if settings.public_url.scheme() == "https" && !settings.settings.dev {
        headers.push((header::STRICT_TRANSPORT_SECURITY, STRICT_TRANSPORT_SECURITY));
    }
    ResponseHeaders(
        headers
            .into_iter()
            .map(|(name, value)| (name, HeaderValue::from_static(value)))
            .collect(),
    )
}
