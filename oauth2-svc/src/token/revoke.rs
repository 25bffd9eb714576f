//! Token revocation (RFC 7009) and `DELETE /admin/oauth2/tokens?client_id=`.
//!
//! - Revoking a refresh token, or an access token that belongs to a chain, revokes the whole
//!   chain (every refresh and access token from the same authorization), as Hydra does.
//! - A token of another client is answered 200 and nothing is revoked (IR-05; RFC 7009 §2.1
//!   lets the server refuse, Hydra answers `unauthorized_client`; a 200 tells the caller nothing
//!   about a token it does not own).
//! - Unknown, forged and expired tokens are 200 (RFC 7009 §2.2). `token_type_hint` is accepted
//!   and not needed: both kinds are recognised by their form.
//! - A storage failure is a 5xx, never a 200 that did not revoke (IR-07).

use super::form::Form;
use super::issue;
use super::refresh_store;
use super::store;
use super::{OAuth2Error, opaque};
use crate::keyed::Purpose;
use crate::state::AppState;

pub struct RevokeRequest {
    pub token: String,
}

impl TryFrom<&Form> for RevokeRequest {
    type Error = OAuth2Error;

    fn try_from(form: &Form) -> Result<Self, Self::Error> {
        let token = form.get("token").ok_or_else(|| {
            OAuth2Error::InvalidRequest("The request is missing the 'token' parameter".into())
        })?;
        Ok(RevokeRequest {
            token: token.to_string(),
        })
    }
}

/// Revokes `request.token` if it is `client_id`'s.
pub async fn revoke(
    state: &AppState,
    client_id: &str,
    request: RevokeRequest,
) -> Result<(), OAuth2Error> {
    let token = request.token.as_str();
    let client_id = client_id.to_string();
    if opaque::verify(&state.hasher, opaque::REFRESH_TOKEN_PREFIX, token) {
        let hashes = state.hasher.candidates(Purpose::RefreshToken, token);
        return state
            .db
            .write(move |c| {
                let row = refresh_store::find(c, &hashes)?;
                if let Some(row) = row.filter(|r| r.client_id == client_id) {
                    let (refresh, access) = refresh_store::revoke_chain(c, row.chain_id)?;
                    tracing::info!(
                        client_id,
                        refresh,
                        access,
                        "revoked a refresh token's chain"
                    );
                }
                Ok::<_, OAuth2Error>(())
            })
            .await;
    }
    let Some(handle) = issue::lookup_handle(state, token) else {
        return Ok(());
    };
    let hashes = state.hasher.candidates(Purpose::AccessToken, &handle);
    state
        .db
        .write(move |c| {
            let row = store::find(c, &hashes)?;
            let Some(row) = row.filter(|r| r.client_id == client_id) else {
                return Ok(());
            };
            match row.code_id {
                Some(chain) => {
                    let (refresh, access) = refresh_store::revoke_chain(c, chain)?;
                    tracing::info!(
                        client_id,
                        refresh,
                        access,
                        "revoked an access token's chain"
                    );
                }
                None => {
                    store::delete_by_id(c, row.id)?;
                    tracing::info!(client_id, "revoked an access token");
                }
            }
            Ok::<_, OAuth2Error>(())
        })
        .await
}

/// Revokes every token of `client_id`.
pub async fn revoke_client(state: &AppState, client_id: String) -> Result<(), OAuth2Error> {
    state
        .db
        .write(move |c| {
            let (refresh, access) = refresh_store::revoke_client(c, &client_id)?;
            tracing::info!(
                client_id,
                refresh,
                access,
                "revoked every token of a client"
            );
            Ok::<_, OAuth2Error>(())
        })
        .await
}
