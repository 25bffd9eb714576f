//! Kratos' deleteIdentityCredentials (`DELETE /admin/identities/{id}/credentials/{type}`): an
//! operator removes a second factor (`totp`, `lookup_secret`, `webauthn`) or the passkeys of an
//! identity, say after a lost phone. First factors other than passkeys cannot be removed here.

use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::state::AppState;

pub fn admin_routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/admin/identities/{id}/credentials/{type}",
        web::delete().to(delete_identity_credentials),
    );
}

/// The types this endpoint removes whole.
const REMOVABLE: &[&str] = &["totp", "lookup_secret", "webauthn", "passkey"];

#[tracing::instrument(skip_all)]
async fn delete_identity_credentials(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (raw_id, kind) = path.into_inner();
    let id = crate::identity::parse_id(&raw_id)?;
    if !REMOVABLE.contains(&kind.as_str()) {
        let reason = if crate::identity::CREDENTIAL_TYPES.contains(&kind.as_str()) {
            format!("You cannot remove {kind} credentials through this API.")
        } else {
            format!("{kind:?} is not a credential type.")
        };
        return Err(ApiError::BadRequest(reason));
    }
    let kind_for_db = kind.clone();
    let deleted = state
        .db
        .write(move |c| {
            // An unknown identity and a missing credential are both 404, as in Kratos.
            crate::identity::store::find(c, id, false)?;
            super::store::delete_credential(c, id, &kind_for_db).map_err(ApiError::from)
        })
        .await?;
    if !deleted {
        return Err(ApiError::NotFound);
    }
    tracing::info!(identity_id = %id.0, credential_type = %kind, "credential deleted by an operator");
    Ok(HttpResponse::NoContent().finish())
}
