//! The handoff pages: `/login` (answers oauth2-svc's login challenge from the browser's
//! identity-svc session, or renders identity-svc's login flow), `/consent`, `/logout`,
//! `/device` (the device flow's user code) and `/error`.

mod claims;
mod consent;
pub(crate) mod csrf;
mod device;
mod errors;
mod login;
mod logout;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::api::UpstreamError;
use crate::error::html_response;
use crate::pages::ErrorPage;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::get().to(login::get_login))
        .route("/consent", web::get().to(consent::get_consent))
        .route("/consent", web::post().to(consent::post_consent))
        .route("/logout", web::get().to(logout::get_logout))
        .route("/logout", web::post().to(logout::post_logout))
        .route("/device", web::get().to(device::get_device))
        .route("/device", web::post().to(device::post_device))
        .route("/device/done", web::get().to(device::get_device_done))
        .route("/error", web::get().to(errors::get_error));
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("location", location))
        .insert_header(("cache-control", "no-store"))
        .finish()
}

/// Sends the browser to `target`, an answer of oauth2-svc, only if it is on oauth2-svc's public
/// origin (`urls.oauth2.public`, else that of the challenge's `request_url` when known).
fn to_oauth2(
    state: &AppState,
    req: &HttpRequest,
    target: &str,
    request_url: Option<&str>,
) -> HttpResponse {
    match crate::redirects::from_oauth2(state, target, request_url) {
        Some(url) => see_other(url.as_str()),
        None => bad_redirect(state, req),
    }
}

/// An upstream named a place outside this Olympus domain: not followed.
fn bad_redirect(state: &AppState, req: &HttpRequest) -> HttpResponse {
    tracing::warn!("an upstream answered with a redirect outside this Olympus domain");
    problem_for(
        state,
        req,
        StatusCode::BAD_GATEWAY,
        "error.redirect.title",
        "error.redirect.message",
        None,
    )
}

/// An error page in the default language; `title` and `message` are text keys (an English text
/// that is no key shows as written). Prefer [`problem_for`], which speaks the browser's language.
fn problem(
    state: &AppState,
    status: StatusCode,
    title: &str,
    message: &str,
    restart_url: Option<&str>,
) -> HttpResponse {
    let page = ErrorPage {
        restart_url,
        ..ErrorPage::new(status.as_u16(), title, message)
    };
    html_response(status, Some(&state.pages), &page)
}

/// An error page in the browser's language; `title` and `message` are text keys.
fn problem_for(
    state: &AppState,
    req: &HttpRequest,
    status: StatusCode,
    title: &str,
    message: &str,
    restart_url: Option<&str>,
) -> HttpResponse {
    let page = ErrorPage {
        restart_url,
        ..ErrorPage::new(status.as_u16(), title, message)
    };
    crate::render::error_page(state, req, status, &page)
}

/// An upstream that failed: the cause goes to the log, the user gets a calm page.
fn unavailable(state: &AppState, err: UpstreamError) -> HttpResponse {
    tracing::error!(error = %err, "an upstream call failed");
    problem(
        state,
        StatusCode::BAD_GATEWAY,
        "error.unavailable.title",
        "error.unavailable.message",
        None,
    )
}

/// [`unavailable`] in the browser's language.
fn unavailable_for(state: &AppState, req: &HttpRequest, err: UpstreamError) -> HttpResponse {
    tracing::error!(error = %err, "an upstream call failed");
    problem_for(
        state,
        req,
        StatusCode::BAD_GATEWAY,
        "error.unavailable.title",
        "error.unavailable.message",
        None,
    )
}

/// The browser's cookies, forwarded to identity-svc (which set them).
pub(crate) fn cookies(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(actix_web::http::header::COOKIE)
        .and_then(|v| v.to_str().ok())
}

/// Sample contexts, so that a theme's templates are checked at start.
pub mod samples {
    use tera::Context;

    pub fn home() -> Context {
        let mut context = Context::new();
        let account = serde_json::json!({"name": "Ada", "email": "ada@example.com", "aal": "aal1"});
        context.insert("account", &account);
        context.insert(
            "logout_url",
            "https://id.example/self-service/logout?token=t",
        );
        context.insert("unavailable", &false);
        context
    }

    pub fn consent() -> Context {
        let mut context = Context::new();
        context.insert("client_name", "App");
        context.insert("client_id", "app");
        context.insert("client_uri", "https://app.example");
        context.insert("policy_uri", "https://app.example/privacy");
        context.insert("tos_uri", "");
        context.insert(
            "scopes",
            &serde_json::json!([{"name": "email", "key": "consent.scope.email"}, {"name": "x", "key": "consent.scope.other"}]),
        );
        context.insert("logo_uri", "https://app.example/logo.png");
        context.insert("audience", &["https://api.example"]);
        context.insert("redirect_host", "app.example");
        context.insert("challenge", "c");
        context.insert("csrf_token", "t");
        context
    }

    pub fn logout() -> Context {
        let mut context = Context::new();
        context.insert("client_name", "App");
        context.insert("challenge", "c");
        context.insert("csrf_token", "t");
        context.insert("stayed", &false);
        context
    }

    pub fn device() -> Context {
        let mut context = Context::new();
        context.insert("challenge", "c");
        context.insert("csrf_token", "t");
        context.insert("user_code", "BCDF-GHJK");
        context.insert("error", &Some("device.wrong_code"));
        context
    }

    pub fn device_done() -> Context {
        let mut context = Context::new();
        context.insert("error", &true);
        context.insert("title", "device.failed.title");
        context.insert("detail", "d");
        context
    }
}
