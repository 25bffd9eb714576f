//! The public pages outside any flow: the home page, the stylesheet and the not-found page.

use actix_web::http::StatusCode;
use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, web};
use service_kit::http::RequestId;

use crate::error::{self, HTML, NOT_FOUND_MESSAGE};
use crate::headers::{Hsts, security_headers};
use crate::pages::ErrorPage;
use crate::state::AppState;

/// The stylesheet's URL; templates link it literally.
pub const STYLESHEET_PATH: &str = "/static/olympus.css";

/// Longest request path shown on the not-found page; longer ones are cut.
const SHOWN_PATH_CHARS: usize = 200;

/// Everything on the public listener besides the health routes (which service-kit registers
/// first, so they win). The empty scope puts every page, the not-found page included, behind
/// the security headers middleware.
pub fn public_routes(cfg: &mut web::ServiceConfig, state: web::Data<AppState>) {
    let hsts = web::Data::new(Hsts(state.settings.https()));
    cfg.service(
        web::scope("")
            .app_data(state)
            .app_data(hsts)
            .wrap(from_fn(security_headers))
            .route("/", web::get().to(get_home))
            .route(STYLESHEET_PATH, web::get().to(get_stylesheet))
            .configure(crate::handoff::routes)
            .default_service(web::to(not_found)),
    );
}

async fn get_home(state: web::Data<AppState>, request_id: RequestId) -> HttpResponse {
    let upstreams = state.upstreams.statuses(Some(&request_id)).await;
    match state.pages.index(&upstreams) {
        Ok(html) => HttpResponse::Ok().content_type(HTML).body(html),
        Err(e) => error::server_error(&state.pages, &e),
    }
}

/// Not versioned in its URL, so cached only briefly: a theme change shows within the hour.
async fn get_stylesheet(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("cache-control", "public, max-age=3600"))
        .body(state.pages.stylesheet().to_owned())
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
        status: 404,
        title: "Page not found",
        message: NOT_FOUND_MESSAGE,
        path: Some(&path),
        request_id: Some(&request_id.0),
        restart_url: None,
    };
    error::html_response(StatusCode::NOT_FOUND, Some(&state.pages), &page)
}
