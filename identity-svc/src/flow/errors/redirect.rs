//! The middleware that sends browsers to the error page: a failed navigation or form post to a
//! self-service endpoint is stored and answered with a 303 to `selfservice.flows.error.ui_url?id=`.
//! JSON clients, api flows and the JSON-only endpoints (`…/flows`, `…/api`, `/self-service/errors`,
//! `/self-service/logout/browser`) keep their answers.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use service_kit::db::{Id, Json};
use sha2::Sha256;

use super::store::{self, ErrorRow};
use crate::error::ApiError;
use crate::flow::http::see_other;
use crate::flow::wants_json;
use crate::state::AppState;

/// Set on a request that turned out to be a submission to an api (native) flow: its errors stay
/// JSON even when the body was a form.
#[derive(Clone, Copy)]
pub struct ApiFlow;

/// Marks `req` as a submission to an api flow when `browser` is false.
pub fn mark_api_flow(req: &HttpRequest, browser: bool) {
    if !browser {
        req.extensions_mut().insert(ApiFlow);
    }
}

/// The middleware (see the module docs).
pub async fn redirect_browser_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .filter(|s| s.settings.flows.error.ui.is_some())
        .filter(|_| is_browser_request(req.request()))
        .cloned();
    let res = next.call(req).await?.map_into_boxed_body();
    let Some(state) = state else {
        return Ok(res);
    };
    let error = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>());
    let Some(error) = error.filter(|e| shown_on_error_page(e)) else {
        return Ok(res);
    };
    if res.request().extensions().contains::<ApiFlow>() {
        return Ok(res);
    }
    let body = error.body();
    match record(&state, res.request(), body).await {
        Ok(location) => {
            let (req, _) = res.into_parts();
            Ok(ServiceResponse::new(req, see_other(&location).finish()))
        }
        Err(e) => {
            // The direct answer is still correct; only the nicer page is lost.
            tracing::error!(error = ?e, "could not store a self-service error");
            Ok(res)
        }
    }
}

/// A navigation (GET) or form post to a browser self-service endpoint, not asking for JSON.
fn is_browser_request(req: &HttpRequest) -> bool {
    let path = req.path();
    let browser_endpoint = path.starts_with("/self-service/")
        && !path.starts_with("/self-service/errors")
        && !path.ends_with("/api")
        && !path.ends_with("/flows")
        && path != "/self-service/logout/browser";
    if !browser_endpoint || wants_json(req) {
        return false;
    }
    match *req.method() {
        Method::GET => true,
        Method::POST => {
            let content_type = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_ascii_lowercase();
            content_type.starts_with("application/x-www-form-urlencoded")
                || content_type.starts_with("multipart/form-data")
        }
        _ => false,
    }
}

/// Errors with a better browser answer of their own keep it: an expired flow (restarted), a
/// re-authentication or second factor (`redirect_browser_to`), and overload (storing rows then
/// would add load).
fn shown_on_error_page(error: &ApiError) -> bool {
    !matches!(
        error,
        ApiError::FlowExpired(_)
            | ApiError::SessionRefreshRequired(_)
            | ApiError::Aal2Required(_)
            | ApiError::Busy { .. }
            | ApiError::Timeout
    )
}

/// Stores `error` (or reuses this browser's identical recent one); answers the error page URL.
async fn record(
    state: &AppState,
    req: &HttpRequest,
    error: shared_types::error::GenericError,
) -> Result<String, ApiError> {
    let config = &state.settings.flows.error;
    let ui = config.ui.clone().ok_or(ApiError::NotFound)?;
    let error = serde_json::to_value(error).map_err(anyhow::Error::from)?;
    let now = state.settings.settings.clock.now();
    let lifespan = chrono::Duration::from_std(config.lifespan).map_err(anyhow::Error::from)?;
    let row = ErrorRow {
        id: Id::new_v7(),
        fingerprint: fingerprint(state, req, &error),
        error: Json(error),
        created_at: now.naive_utc(),
        updated_at: now.naive_utc(),
        expires_at: (now + lifespan).naive_utc(),
    };
    let id = state
        .db
        .write(move |c| store::insert_or_reuse(c, &row).map_err(ApiError::from))
        .await?;
    let mut location = ui;
    location
        .query_pairs_mut()
        .append_pair("id", &id.0.to_string());
    Ok(location.into())
}

/// A keyed hash of the browser (its authentic CSRF cookie, if any) and the error: equal only
/// for the same browser and the same error, and revealing neither.
fn fingerprint(state: &AppState, req: &HttpRequest, error: &serde_json::Value) -> String {
    let key = state.settings.settings.secrets.cookie.current().expose();
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(b"selfservice-error\0");
    if state.csrf.cookie_token(req).is_some()
        && let Some(cookie) = req.cookie(crate::csrf::COOKIE_NAME)
    {
        mac.update(cookie.value().as_bytes());
    }
    mac.update(b"\0");
    mac.update(error.to_string().as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}
