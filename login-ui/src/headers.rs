//! Security headers on every page login-ui serves (security catalogue HD-01 to HD-05).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

/// No inline script or style; scripts by hash or nonce come with WebAuthn. `form-action` is left
/// out on purpose: Chromium applies it to the whole redirect chain after a POST, which ends at the
/// OAuth2 client's redirect_uri (see the design's Decisions).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// Our URLs carry login challenges and flow ids, which must never leave in a `Referer`. This
/// policy sends only the origin cross-origin (never path or query), and unlike `no-referrer` it
/// keeps a real `Origin` header on the cross-origin form POSTs to identity-svc (under
/// `no-referrer` browsers send `Origin: null`), which identity-svc can check as CSRF defence.
pub const REFERRER_POLICY: &str = "strict-origin-when-cross-origin";

/// Turns off the powerful features no Olympus page uses.
pub const PERMISSIONS_POLICY: &str = "camera=(), microphone=(), geolocation=(), payment=(), usb=()";

/// One year, as HD-01 asks; sent only when the public URL is https.
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000; includeSubDomains";

/// Whether to send HSTS; registered as app data next to the middleware.
#[derive(Clone, Copy, Debug)]
pub struct Hsts(pub bool);

/// Sets the headers every HTML response carries. `Cache-Control: no-store` is the default for
/// pages (they show live state and, later, flows); a response that set its own keeps it.
pub fn apply(headers: &mut HeaderMap, hsts: bool) {
    // A page rendered by `render::page` carries a CSP with its own nonce; keep it.
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    let fixed = [
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, REFERRER_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (
            HeaderName::from_static("permissions-policy"),
            PERMISSIONS_POLICY,
        ),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(STRICT_TRANSPORT_SECURITY),
        );
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// Middleware for the public pages.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let hsts = req.app_data::<web::Data<Hsts>>().is_some_and(|h| h.0);
    let mut res = next.call(req).await?;
    apply(res.headers_mut(), hsts);
    Ok(res)
}
