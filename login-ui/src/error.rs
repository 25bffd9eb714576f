//! Error pages. login-ui talks to browsers, so its errors are HTML pages (styled like the rest,
//! with the security headers), never JSON envelopes.

use std::sync::OnceLock;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use service_kit::http::EdgeError;

use crate::headers;
use crate::pages::{ErrorPage, Pages};

/// The status, heading key and explanation key of an edge error, and the edge's own detail.
fn describe(err: &EdgeError) -> (StatusCode, &'static str, &'static str, Option<String>) {
    match err {
        EdgeError::BadRequest(detail) => (
            StatusCode::BAD_REQUEST,
            "error.bad_request.title",
            "error.bad_request.message",
            Some(detail.clone()),
        ),
        EdgeError::PayloadTooLarge { .. } => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "error.too_large.title",
            "error.too_large.message",
            None,
        ),
        EdgeError::UnsupportedMediaType(detail) => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "error.unsupported.title",
            "error.unsupported.message",
            Some(detail.clone()),
        ),
        EdgeError::NotFound => (
            StatusCode::NOT_FOUND,
            "error.not_found.title",
            "error.not_found.message",
            None,
        ),
        EdgeError::Timeout => (
            StatusCode::SERVICE_UNAVAILABLE,
            "error.timeout.title",
            "error.timeout.message",
            None,
        ),
    }
}

/// `Content-Type` of every page.
pub const HTML: &str = "text/html; charset=utf-8";

/// The `ErrorRenderer` given to service-kit's edge: unknown routes on the admin listener,
/// unreadable forms and queries, and requests past the deadline.
///
/// An `ErrorRenderer` is a plain `fn` without state, so it renders from the bundled templates,
/// compiled once per process (they are part of the binary, not configuration). It cannot know
/// whether to send HSTS; pages on the public listener get it from the headers middleware.
pub fn render_edge(err: EdgeError) -> HttpResponse {
    static BUNDLED: OnceLock<Option<Pages>> = OnceLock::new();
    let pages = BUNDLED.get_or_init(|| Pages::bundled().ok());
    let (status, title, message, detail) = describe(&err);
    let page = ErrorPage {
        detail: detail.as_deref(),
        ..ErrorPage::new(status.as_u16(), title, message)
    };
    html_response(status, pages.as_ref(), &page)
}

/// An error page in the default language (no request to negotiate with) as a response with the
/// security headers and a fresh script nonce (HSTS aside: see [`render_edge`]).
pub fn html_response(
    status: StatusCode,
    pages: Option<&Pages>,
    page: &ErrorPage<'_>,
) -> HttpResponse {
    let nonce = crate::render::new_nonce();
    let body = match pages.map(|p| p.error(page, &nonce)) {
        Some(Ok(html)) => html,
        Some(Err(e)) => {
            tracing::error!(error = ?e, "the error page does not render");
            fallback(page)
        }
        None => fallback(page),
    };
    let mut response = HttpResponse::build(status).content_type(HTML).body(body);
    let csp = crate::render::content_security_policy(&nonce);
    if let Ok(csp) = actix_web::http::header::HeaderValue::from_str(&csp) {
        response
            .headers_mut()
            .insert(actix_web::http::header::CONTENT_SECURITY_POLICY, csp);
    }
    headers::apply(response.headers_mut(), false);
    response
}

/// Used only if the templates cannot render; carries nothing from the request.
fn fallback(page: &ErrorPage<'_>) -> String {
    format!("<!doctype html><title>{0}</title><h1>{0}</h1>", page.status)
}

#[cfg(test)]
mod tests {
    use actix_web::http::header;

    use super::*;

    #[test]
    fn edge_errors_are_html_pages_with_the_right_status() {
        let cases = [
            (EdgeError::NotFound, 404),
            (EdgeError::BadRequest("x".into()), 400),
            (EdgeError::PayloadTooLarge { limit: 1 }, 413),
            (EdgeError::UnsupportedMediaType("x".into()), 415),
            (EdgeError::Timeout, 503),
        ];
        for (err, status) in cases {
            let response = render_edge(err);
            assert_eq!(response.status().as_u16(), status);
            let content_type = response.headers().get(header::CONTENT_TYPE).unwrap();
            assert_eq!(content_type, "text/html; charset=utf-8");
            assert_eq!(
                response.headers().get(header::X_FRAME_OPTIONS).unwrap(),
                "DENY"
            );
        }
    }
}
