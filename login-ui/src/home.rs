//! The public pages outside any flow: the home page (who is signed in, sign out, links to the
//! account flows), the stylesheet and the not-found page.

use actix_web::http::StatusCode;
use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use service_kit::http::RequestId;
use shared_types::flow::Session;
use tera::Context;

use crate::api::Answer;
use crate::headers::{Hsts, security_headers};
use crate::pages::ErrorPage;
use crate::render;
use crate::state::AppState;

/// The stylesheet's URL; templates link it literally.
pub const STYLESHEET_PATH: &str = "/static/olympus.css";

/// The theme logo's URL (`logo.svg`, `.png`, `.webp` or `.jpg` in `ui.theme_dir`).
pub const LOGO_PATH: &str = "/static/logo";

/// Longest request path shown on the not-found page; longer ones are cut.
const SHOWN_PATH_CHARS: usize = 200;

/// Everything on the public listener besides the health routes (which service-kit registers
/// first, so they win). The empty scope puts every page, the not-found page included, behind
/// the security headers middleware.
pub fn public_routes(cfg: &mut web::ServiceConfig, state: web::Data<AppState>) {
    let hsts = web::Data::new(Hsts(state.settings.https() && !state.settings.settings.dev));
    cfg.service(
        web::scope("")
            .app_data(state)
            .app_data(hsts)
            .wrap(from_fn(security_headers))
            .route("/", web::get().to(get_home))
            .route(STYLESHEET_PATH, web::get().to(get_stylesheet))
            .route(LOGO_PATH, web::get().to(get_logo))
            .configure(crate::handoff::routes)
            .configure(crate::flows::routes)
            .default_service(web::to(not_found)),
    );
}

/// Who is signed in, as the home page shows it. Everything comes from identity-svc's `whoami`
/// for the browser's own cookies.
#[derive(Serialize, Default)]
pub struct Account {
    pub name: Option<String>,
    pub email: Option<String>,
    /// `aal1`, `aal2`, `aal3`.
    pub aal: String,
}

impl Account {
    pub fn from_session(session: &Session) -> Account {
        let traits = &session.identity.traits;
        let name = match &traits["name"] {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Object(parts) => {
                let words: Vec<&str> = ["first", "last"]
                    .iter()
                    .filter_map(|k| parts.get(*k).and_then(|v| v.as_str()))
                    .filter(|s| !s.is_empty())
                    .collect();
                (!words.is_empty()).then(|| words.join(" "))
            }
            _ => None,
        };
        let email = traits["email"].as_str().map(str::to_owned);
        Account {
            name,
            email,
            aal: session.authenticator_assurance_level.clone(),
        }
    }
}

async fn get_home(state: web::Data<AppState>, req: HttpRequest, rid: RequestId) -> HttpResponse {
    let cookie = crate::handoff::cookies(&req);
    let mut context = Context::new();
    let mut unavailable = false;
    match state.upstreams.whoami(cookie, &rid).await {
        Ok(Answer::Ok(session)) if session.active => {
            context.insert("account", &Account::from_session(&session));
            // Back to this page after signing out; identity-svc builds the URL (and its token).
            let home = state.settings.public_url.as_str();
            match state.upstreams.browser_logout(cookie, home, &rid).await {
                Ok(Answer::Ok(flow)) => context.insert("logout_url", &flow.logout_url),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "no logout URL for the home page"),
            }
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "whoami failed for the home page");
            unavailable = true;
        }
    }
    context.insert("unavailable", &unavailable);
    render::page(&state, &req, "index.html", context)
}

/// Not versioned in its URL, so cached only briefly: a theme change shows within the hour.
async fn get_stylesheet(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("cache-control", "public, max-age=3600"))
        .body(state.pages.stylesheet().to_owned())
}

/// The theme's logo, cached like the stylesheet; 404 when the theme has none.
async fn get_logo(
    state: web::Data<AppState>,
    req: HttpRequest,
    request_id: RequestId,
) -> HttpResponse {
    match state.pages.logo() {
        Some((bytes, media_type)) => HttpResponse::Ok()
            .content_type(media_type)
            .insert_header(("cache-control", "public, max-age=3600"))
            .body(bytes.to_vec()),
        None => not_found(state, req, request_id).await,
    }
}

/// Shows the (decoded, shortened) path and the request id so that a user can report them; both
/// come from the request and are rendered only through autoescaping.
async fn not_found(
    state: web::Data<AppState>,
    req: HttpRequest,
    request_id: RequestId,
) -> HttpResponse {
    let decoded = actix_web::dev::Url::new(req.uri().clone());
    let path: String = decoded.path().chars().take(SHOWN_PATH_CHARS).collect();
    let page = ErrorPage {
        path: Some(&path),
        request_id: Some(&request_id.0),
        ..ErrorPage::new(404, "error.not_found.title", "error.not_found.message")
    };
    render::error_page(&state, &req, StatusCode::NOT_FOUND, &page)
}
