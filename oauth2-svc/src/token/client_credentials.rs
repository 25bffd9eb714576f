//! The `client_credentials` grant (RFC 6749 §4.4): a confidential client gets an access token for
//! itself (`sub` = its client_id, as Hydra does). The requested scope must be within the client's
//! `scope`, the requested `audience` within its `audience`; no refresh token, no ID token.

use service_kit::db::Id;

use super::client_auth::AuthenticatedClient;
use super::form::Form;
use super::issue::{self, AccessSpec, Pending};
use super::store;
use super::{
    GRANT_CLIENT_CREDENTIALS, OAuth2Error, TokenClaims, TokenKind, TokenResponse, token_lifespan,
};
use crate::state::AppState;

/// The parameters of a `client_credentials` request: space-separated `scope` and `audience`.
#[derive(Debug)]
pub struct CredentialsRequest {
    pub scope: Vec<String>,
    pub audience: Vec<String>,
}

impl From<&Form> for CredentialsRequest {
    fn from(form: &Form) -> Self {
        let list = |name| {
            form.get(name)
                .map(|v: &str| v.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default()
        };
        CredentialsRequest {
            scope: list("scope"),
            audience: list("audience"),
        }
    }
}

impl CredentialsRequest {
    /// TK-10, TK-13: the grant type, scope and audience must be the client's.
    fn check(&self, client: &AuthenticatedClient) -> Result<(), OAuth2Error> {
        let document = &client.document;
        if document.token_endpoint_auth_method.as_deref() == Some("none") {
            return Err(OAuth2Error::UnauthorizedClient(
                "A public client may not use the client_credentials grant.",
            ));
        }
        if !client.may_use_grant(GRANT_CLIENT_CREDENTIALS) {
            return Err(OAuth2Error::UnauthorizedClient(
                "The client is not allowed to use the client_credentials grant.",
            ));
        }
        let allowed: Vec<&str> = document.scope.split_whitespace().collect();
        if self.scope.iter().any(|s| !allowed.contains(&s.as_str())) {
            return Err(OAuth2Error::InvalidScope(
                "The client is not allowed to request one of the scopes.",
            ));
        }
        if self.audience.iter().any(|a| !document.audience.contains(a)) {
            return Err(OAuth2Error::InvalidRequest(
                "The requested audience is not allowed for the client.".into(),
            ));
        }
        Ok(())
    }
}

pub async fn client_credentials(
    state: &AppState,
    client: &AuthenticatedClient,
    request: CredentialsRequest,
) -> Result<TokenResponse, OAuth2Error> {
    request.check(client)?;
    let now = state.settings.settings.clock.now();
    let ttl = token_lifespan(
        &state.settings.settings.ttl,
        &client.document,
        GRANT_CLIENT_CREDENTIALS,
        TokenKind::AccessToken,
    );
    let access = Pending::new(state, issue::strategy(state, &client.document));
    let row = issue::access_row(
        access.hash.clone(),
        AccessSpec {
            chain: None::<Id>,
            client_id: client.client_id.clone(),
            subject: client.client_id.clone(),
            scope: request.scope.clone(),
            audience: request.audience,
            claims: TokenClaims {
                userinfo: Default::default(),
                ext: Default::default(),
            },
            now,
            expires_at: now + ttl,
        },
    );
    let stored = row.clone();
    state
        .db
        .write(move |c| store::insert(c, &stored).map_err(OAuth2Error::from))
        .await?;
    let access_token = access.finish(state, &row)?;
    tracing::info!(client_id = %client.client_id, "issued a client_credentials access token");
    Ok(TokenResponse {
        access_token,
        token_type: "bearer",
        expires_in: ttl.as_secs(),
        scope: request.scope.join(" "),
        refresh_token: None,
        id_token: None,
    })
}
