//! Admin unlock of sign-in lockouts (an Olympus extension; Kratos has no lockouts):
//! `DELETE /admin/identities/{id}/login-lockout` and `DELETE /admin/login-lockout?identifier=…`
//! (or `?address=…`).

use actix_web::{HttpRequest, HttpResponse, web};
use service_kit::db::Id;

use super::store;
use crate::error::ApiError;
use crate::state::AppState;

pub fn admin_routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/admin/identities/{id}/login-lockout",
        web::delete().to(delete_identity_login_lockout),
    )
    .route(
        "/admin/login-lockout",
        web::delete().to(delete_login_lockout),
    );
}

/// Clears the counts and locks of every password identifier of the identity and of its aal2
/// step-up.
#[tracing::instrument(skip_all)]
async fn delete_identity_login_lockout(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = uuid::Uuid::parse_str(&path.into_inner()).map_err(|_| ApiError::NotFound)?;
    let identifiers = state
        .db
        .read(move |c| store::password_identifiers(c, Id(id)).map_err(ApiError::from))
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut keys: Vec<String> = identifiers
        .iter()
        .map(|i| state.throttle.identifier_key(i))
        .collect();
    // The aal2 step-up counts second-factor failures under the identity (src/mfa/login.rs).
    keys.push(state.throttle.identifier_key(&format!("aal2:{id}")));
    clear(&state, keys).await?;
    tracing::info!(identity_id = %id, "cleared the sign-in lockout of an identity");
    Ok(HttpResponse::NoContent().finish())
}

/// Clears the count and lock of an identifier (whether or not an identity has it) and/or of a
/// client address.
#[tracing::instrument(skip_all)]
async fn delete_login_lockout(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let mut keys = Vec::new();
    for (name, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        match name.as_ref() {
            "identifier" if !value.trim().is_empty() => {
                keys.push(state.throttle.identifier_key(&value))
            }
            "address" => {
                let address = value.trim().parse().map_err(|_| {
                    ApiError::BadRequest(format!("address {value:?} is not an IP address"))
                })?;
                keys.push(state.throttle.address_key(address));
            }
            other => {
                return Err(ApiError::BadRequest(format!(
                    "unknown or empty query parameter {other:?}; give identifier or address"
                )));
            }
        }
    }
    if keys.is_empty() {
        return Err(ApiError::BadRequest(
            "give the identifier or the address to unlock".into(),
        ));
    }
    clear(&state, keys).await?;
    tracing::info!("cleared a sign-in lockout");
    Ok(HttpResponse::NoContent().finish())
}

async fn clear(state: &AppState, keys: Vec<String>) -> Result<(), ApiError> {
    state
        .db
        .write(move |c| store::delete(c, &keys).map_err(ApiError::from))
        .await?;
    Ok(())
}
