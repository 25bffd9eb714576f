//! Logout for native apps (Kratos' performNativeLogout): the app hands back its session token.

use actix_web::{HttpResponse, web};
use service_kit::http::JsonObject;
use shared_types::flow::PerformNativeLogoutBody;

use super::store;
use crate::error::ApiError;
use crate::state::AppState;

pub fn public_routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/self-service/logout/api",
        web::delete().to(perform_native_logout),
    );
}

/// 204 when the token's session is ended, or already was; 403 for a token that never was one.
/// No cookie is touched: browsers use the browser logout flow.
#[tracing::instrument(skip_all)]
async fn perform_native_logout(
    state: web::Data<AppState>,
    JsonObject(body): JsonObject<PerformNativeLogoutBody>,
) -> Result<HttpResponse, ApiError> {
    let unknown = || {
        ApiError::Forbidden(
            "The provided session token could not be found, is invalid, or otherwise malformed."
                .into(),
        )
    };
    let token = body.session_token.trim();
    if !token.starts_with(super::SESSION_TOKEN_PREFIX) || token.len() >= 128 {
        return Err(unknown());
    }
    let hashes = state.sessions.hasher.candidates(token);
    let now = state.settings.settings.clock.now().naive_utc();
    let ended = state
        .db
        .write(move |c| store::deactivate_by_token(c, &hashes, now).map_err(ApiError::from))
        .await?
        .ok_or_else(unknown)?;
    if ended.1 {
        tracing::info!(session_id = %ended.0.0, "session ended by native logout");
    }
    Ok(HttpResponse::NoContent()
        .insert_header(("cache-control", "no-store"))
        .finish())
}
