//! Response helpers the flows share, and the rule that keeps browsers out of API flows.

use actix_web::cookie::Cookie;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};

use crate::error::ApiError;

/// A 303 that is never cached.
pub fn see_other(location: &str) -> HttpResponseBuilder {
    let mut builder = HttpResponse::SeeOther();
    builder
        .insert_header((header::LOCATION, location.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    builder
}

/// A response builder with `Cache-Control: no-store` (flows and sessions are never cached).
pub fn no_store(mut builder: HttpResponseBuilder) -> HttpResponseBuilder {
    builder.insert_header((header::CACHE_CONTROL, "no-store"));
    builder
}

pub fn with_cookies<'a>(
    mut builder: HttpResponseBuilder,
    cookies: impl IntoIterator<Item = Option<Cookie<'a>>>,
) -> HttpResponseBuilder {
    for cookie in cookies.into_iter().flatten() {
        builder.cookie(cookie);
    }
    builder
}

/// API (native) flows are for apps, which carry a session token, not cookies. A request with an
/// `Origin` header or cookies comes from a browser, where an API flow would bypass CSRF
/// protection; Kratos refuses it the same way (`ErrOriginHeaderNeedsBrowserFlow`,
/// `ErrCookieHeaderNeedsBrowserFlow`).
pub fn refuse_browsers(req: &HttpRequest) -> Result<(), ApiError> {
    let why = if req.headers().contains_key(header::ORIGIN) {
        "the request carries an Origin header"
    } else if req.headers().contains_key(header::COOKIE) {
        "the request carries cookies"
    } else {
        return Ok(());
    };
    Err(ApiError::BadRequest(format!(
        "API flows are for native apps, but {why}, so it comes from a browser; use the browser \
         flow (…/browser) instead"
    )))
}
