//! Error pages. login-ui talks to browsers, so its errors are HTML pages (styled like the rest,
//! with the security headers), never JSON envelopes.

use std::sync::OnceLock;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use service_kit::http::EdgeError;

use crate::headers;
use crate::pages::{ErrorPage, Pages};

/// The status, heading and explanation of an edge error.
fn describe(err: &EdgeError) -> (StatusCode, &'static str, String) {
    match err {
        EdgeError::BadRequest(detail) => (StatusCode::BAD_REQUEST, "Bad request", detail.clone()),
        EdgeError::PayloadTooLarge { .. } => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request too large",
            "The form you sent is too large.".into(),
        ),
        EdgeError::UnsupportedMediaType(detail) => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported request",
            detail.clone(),
        ),
        EdgeError::NotFound => (
            StatusCode::NOT_FOUND,
            "Page not found",
            NOT_FOUND_MESSAGE.into(),
        ),
        EdgeError::Timeout => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again",
            "This took too long. Please try again in a moment.".into(),
        ),
    }
}

/// `Content-Type` of every page.
pub const HTML: &str = "text/html; charset=utf-8";

pub const NOT_FOUND_MESSAGE: &str =
    "There is no page at this address. Check the link, or start again from the home page.";

/// The `ErrorRenderer` given to service-kit's edge: unknown routes on the admin listener,
/// unreadable forms and queries, and requests past the deadline.
///
/// An `ErrorRenderer` is a plain `fn` without state, so it renders from the bundled templates,
/// compiled once per process (they are part of the binary, not configuration). It cannot know
/// whether to send HSTS; pages on the public listener get it from the headers middleware.
pub fn render_edge(err: EdgeError) -> HttpResponse {
    static BUNDLED: OnceLock<Option<Pages>> = OnceLock::new();
    let pages = BUNDLED.get_or_init(|| Pages::bundled().ok());
    let (status, title, message) = describe(&err);
    let page = ErrorPage {
        status: status.as_u16(),
        title,
        message: &message,
        path: None,
        request_id: None,
        restart_url: None,
    };
    html_response(status, pages.as_ref(), &page)
}

/// An error page as a response with the security headers (HSTS aside: see [`render_edge`]).
pub fn html_response(
    status: StatusCode,
    pages: Option<&Pages>,
    page: &ErrorPage<'_>,
) -> HttpResponse {
    let body = match pages.map(|p| p.error(page)) {
        Some(Ok(html)) => html,
        Some(Err(e)) => {
            tracing::error!(error = ?e, "the error page does not render");
            fallback(page)
        }
        None => fallback(page),
    };
    let mut response = HttpResponse::build(status).content_type(HTML).body(body);
    headers::apply(response.headers_mut(), false);
    response
}

/// A page that failed to render: the cause goes to the log, the browser gets a generic page.
pub fn server_error(pages: &Pages, cause: &tera::Error) -> HttpResponse {
    tracing::error!(error = ?cause, "a page does not render");
    let page = ErrorPage {
        status: 500,
        title: "Something went wrong",
        message: "The server could not show this page. Please try again in a moment.",
        path: None,
        request_id: None,
        restart_url: None,
    };
    html_response(StatusCode::INTERNAL_SERVER_ERROR, Some(pages), &page)
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
