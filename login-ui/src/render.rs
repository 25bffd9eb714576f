//! The one way a page becomes a response: picks the language from `Accept-Language`, gives the
//! template `lang` and a fresh `csp_nonce`, renders, and sets every security header (the CSP
//! carrying that nonce). The headers middleware leaves a CSP set here alone.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tera::Context;

use crate::error::HTML;
use crate::headers;
use crate::pages::ErrorPage;
use crate::state::AppState;

/// The CSP of a page whose scripts carry `nonce`. No `form-action`: see the design's Decisions.
pub fn content_security_policy(nonce: &str) -> String {
    csp_with_images(nonce, None)
}

/// The CSP with images also allowed from `image_origin` (an origin `Url::origin` serialised:
/// scheme, host and port only, so it cannot smuggle another directive).
fn csp_with_images(nonce: &str, image_origin: Option<&str>) -> String {
    let extra = image_origin
        .filter(|o| {
            o.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":/.-[]".contains(&b))
        })
        .map(|o| format!(" {o}"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'nonce-{nonce}'; style-src 'self'; img-src 'self' data:{extra}; \
         object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
}

/// 128 random bits, base64: new for every response, so a nonce seen once is worth nothing.
pub fn new_nonce() -> String {
    STANDARD.encode(rand::random::<[u8; 16]>())
}

/// The language for this request.
pub fn language(state: &AppState, req: &HttpRequest) -> String {
    let accept = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    state.pages.translations().negotiate(accept)
}

/// Renders `name` with `context` as a 200 page.
pub fn page(state: &AppState, req: &HttpRequest, name: &str, context: Context) -> HttpResponse {
    page_with_status(state, req, StatusCode::OK, name, context)
}

/// [`page`], with images also allowed from `image_origin` (the consent page's client logo).
pub fn page_with_images(
    state: &AppState,
    req: &HttpRequest,
    name: &str,
    context: Context,
    image_origin: Option<&str>,
) -> HttpResponse {
    render(state, req, StatusCode::OK, name, context, image_origin)
}

/// Renders `name` with `context` under `status`.
pub fn page_with_status(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    name: &str,
    context: Context,
) -> HttpResponse {
    render(state, req, status, name, context, None)
}

fn render(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    name: &str,
    mut context: Context,
    image_origin: Option<&str>,
) -> HttpResponse {
    let lang = language(state, req);
    let nonce = new_nonce();
    context.insert("lang", &lang);
    context.insert("csp_nonce", &nonce);
    context.insert("theme_logo", &state.pages.logo().is_some());
    match state.pages.render(name, &context) {
        Ok(html) => respond(state, status, html, &csp_with_images(&nonce, image_origin)),
        Err(e) => {
            tracing::error!(error = ?e, template = name, "a page does not render");
            if name == "error.html" {
                let body = format!(
                    "<!doctype html><title>{0}</title><h1>{0}</h1>",
                    status.as_u16()
                );
                let csp = content_security_policy(&nonce);
                return respond(state, StatusCode::INTERNAL_SERVER_ERROR, body, &csp);
            }
            let page = ErrorPage::new(500, "error.server.title", "error.server.message");
            error_page(state, req, StatusCode::INTERNAL_SERVER_ERROR, &page)
        }
    }
}

/// An error page (`error.html`): `page.title` and `page.message` are text keys.
pub fn error_page(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    page: &ErrorPage<'_>,
) -> HttpResponse {
    let context = Context::from_serialize(page).unwrap_or_default();
    page_with_status(state, req, status, "error.html", context)
}

fn respond(state: &AppState, status: StatusCode, html: String, csp: &str) -> HttpResponse {
    let mut response = HttpResponse::build(status).content_type(HTML).body(html);
    let hsts = state.settings.https() && !state.settings.settings.dev;
    let headers_mut = response.headers_mut();
    headers_mut.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(csp) = HeaderValue::from_str(csp) {
        headers_mut.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers::apply(headers_mut, hsts);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_fresh_and_the_policy_has_no_unsafe_inline() {
        let (a, b) = (new_nonce(), new_nonce());
        assert_ne!(a, b);
        assert_eq!(STANDARD.decode(&a).unwrap().len(), 16);
        let csp = content_security_policy(&a);
        assert!(csp.contains(&format!("script-src 'nonce-{a}'")), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline") && !csp.contains("form-action"));
    }

    #[test]
    fn only_a_plain_origin_widens_img_src() {
        let csp = csp_with_images("n", Some("https://app.example:8443"));
        assert!(
            csp.contains("img-src 'self' data: https://app.example:8443;"),
            "{csp}"
        );
        let csp = csp_with_images("n", Some("https://a.example; script-src *"));
        assert!(
            csp.contains("img-src 'self' data:;") && !csp.contains('*'),
            "{csp}"
        );
    }
}
