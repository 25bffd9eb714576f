//! The handoff pages: `/login` (answers oauth2-svc's login challenge from the browser's
//! identity-svc session, or renders identity-svc's login flow), `/consent`, `/logout`,
//! `/device` (the device flow's user code) and `/error`.

mod consent;
mod csrf;
mod device;
mod errors;
mod login;
mod logout;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use tera::Context;

use crate::api::UpstreamError;
use crate::error::{HTML, html_response};
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

/// A page response: never cached, since every one carries a challenge, a flow or a token.
fn page(state: &AppState, name: &str, context: &Context) -> HttpResponse {
    match state.pages.render(name, context) {
        Ok(html) => HttpResponse::Ok()
            .content_type(HTML)
            .insert_header(("cache-control", "no-store"))
            .body(html),
        Err(e) => crate::error::server_error(&state.pages, &e),
    }
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("location", location))
        .insert_header(("cache-control", "no-store"))
        .finish()
}

fn problem(
    state: &AppState,
    status: StatusCode,
    title: &str,
    message: &str,
    restart_url: Option<&str>,
) -> HttpResponse {
    let page = ErrorPage {
        status: status.as_u16(),
        title,
        message,
        path: None,
        request_id: None,
        restart_url,
    };
    html_response(status, Some(&state.pages), &page)
}

/// An upstream that failed: the cause goes to the log, the user gets a calm page.
fn unavailable(state: &AppState, err: UpstreamError) -> HttpResponse {
    tracing::error!(error = %err, "an upstream call failed");
    problem(
        state,
        StatusCode::BAD_GATEWAY,
        "Sign-in is unavailable",
        "A service Olympus depends on is not answering. Please try again in a moment.",
        None,
    )
}

/// The browser's cookies, forwarded to identity-svc (which set them).
fn cookies(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(actix_web::http::header::COOKIE)
        .and_then(|v| v.to_str().ok())
}

/// Sample contexts, so that a theme's templates are checked at start.
pub mod samples {
    use tera::Context;

    pub fn login() -> Context {
        let mut context = Context::new();
        let ui = serde_json::json!({"action": "https://id.example/self-service/login?flow=1", "method": "POST", "nodes": [
            {"type": "input", "group": "default", "attributes": {"name": "csrf_token", "type": "hidden", "value": "t", "disabled": false, "node_type": "input"}, "messages": [], "meta": {}},
            {"type": "input", "group": "default", "attributes": {"name": "identifier", "type": "text", "value": "a", "required": true, "disabled": false, "node_type": "input"},
             "messages": [{"id": 4000002, "text": "missing", "type": "error"}], "meta": {"label": {"id": 1070004, "text": "ID", "type": "info"}}},
            {"type": "input", "group": "password", "attributes": {"name": "method", "type": "submit", "value": "password", "disabled": false, "node_type": "input"}, "messages": [], "meta": {}}
        ]});
        context.insert("ui", &ui);
        context.insert(
            "messages",
            &serde_json::json!([{"id": 4000006, "text": "invalid", "type": "error"}]),
        );
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
            &serde_json::json!([{"name": "email", "text": "See your email address"}]),
        );
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
        context.insert("error", &Some("wrong"));
        context
    }

    pub fn device_done() -> Context {
        let mut context = Context::new();
        context.insert("error", &true);
        context.insert("title", "t");
        context.insert("description", "d");
        context
    }
}
