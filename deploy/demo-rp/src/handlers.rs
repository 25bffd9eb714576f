//! `/`, `/login`, `/callback` and the health endpoints.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::flow_cookie::{COOKIE_NAME, FlowCookieKey, MAX_AGE_SECS};
use crate::oidc::RelyingParty;
use crate::pages;

pub struct AppState {
    pub rp: RelyingParty,
    pub key: FlowCookieKey,
    /// `Secure` cookies when the RP itself is reached over https.
    pub secure_cookie: bool,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/demo.css", web::get().to(stylesheet))
        .route("/login", web::get().to(login))
        .route("/callback", web::get().to(callback))
        .route("/health/alive", web::get().to(health))
        .route("/health/ready", web::get().to(health));
}

async fn home(app: web::Data<AppState>) -> HttpResponse {
    pages::home(app.rp.issuer())
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .body(pages::STYLESHEET)
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn flow_cookie(app: &AppState, value: String, max_age: i64) -> Cookie<'static> {
    Cookie::build(COOKIE_NAME, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(app.secure_cookie)
        .max_age(CookieDuration::seconds(max_age))
        .finish()
}

/// Starts a sign-in: discovery, then a redirect to the authorization endpoint.
async fn login(app: web::Data<AppState>) -> HttpResponse {
    match app.rp.begin(now()).await {
        Ok((url, pending)) => HttpResponse::SeeOther()
            .insert_header(("location", url.as_str()))
            .insert_header(("cache-control", "no-store"))
            .cookie(flow_cookie(&app, app.key.seal(&pending), MAX_AGE_SECS))
            .finish(),
        Err(e) => {
            tracing::warn!(error = %e, detail = e.detail(), "sign-in could not start");
            pages::problem(
                StatusCode::BAD_GATEWAY,
                app.rp.issuer(),
                &e.to_string(),
                e.detail(),
            )
        }
    }
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The authorization response: checks state (and `iss`, RFC 9207), then completes the sign-in.
/// The flow cookie is single-use and removed whatever happens.
async fn callback(
    app: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<CallbackQuery>,
) -> HttpResponse {
    let mut response = answer_callback(&app, &req, query.into_inner()).await;
    let _ = response.add_cookie(&flow_cookie(&app, String::new(), 0));
    response
}

async fn answer_callback(app: &AppState, req: &HttpRequest, query: CallbackQuery) -> HttpResponse {
    let issuer = app.rp.issuer();
    let problem =
        |status, error: &str, description: &str| pages::problem(status, issuer, error, description);
    if let Some(error) = query.error {
        let description = query
            .error_description
            .unwrap_or_else(|| match error.as_str() {
                "access_denied" => "The sign-in was cancelled or access was not granted.".into(),
                _ => "Olympus did not complete the sign-in.".into(),
            });
        return problem(StatusCode::BAD_REQUEST, &error, &description);
    }
    let Some(pending) = req
        .cookie(COOKIE_NAME)
        .and_then(|c| app.key.open(c.value(), now()))
    else {
        return problem(
            StatusCode::BAD_REQUEST,
            "No sign-in in progress",
            "This sign-in has expired, was already used, or was started in another browser.",
        );
    };
    if query.state.as_deref() != Some(pending.state.as_str()) {
        return problem(
            StatusCode::BAD_REQUEST,
            "Bad state",
            "The response does not belong to the sign-in this browser started.",
        );
    }
    if query.iss.as_deref().is_some_and(|iss| iss != issuer) {
        return problem(
            StatusCode::BAD_REQUEST,
            "Wrong issuer",
            "The response came from an issuer this app does not use.",
        );
    }
    let Some(code) = query.code else {
        return problem(
            StatusCode::BAD_REQUEST,
            "No code",
            "The response carries neither a code nor an error.",
        );
    };
    match app.rp.finish(pending, code).await {
        Ok(signed_in) => pages::signed_in(issuer, &signed_in),
        Err(e) => {
            tracing::warn!(error = %e, detail = e.detail(), "sign-in failed");
            problem(StatusCode::BAD_GATEWAY, &e.to_string(), e.detail())
        }
    }
}
