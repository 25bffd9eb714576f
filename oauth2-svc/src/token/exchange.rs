//! The `authorization_code` grant end to end, and the access-token lookup behind `/userinfo`.

use chrono::{DateTime, Utc};
use diesel::Connection;
use service_kit::db::{AnyConnection, Id, Json};

use super::client_auth::AuthenticatedClient;
use super::id_token::{self, IdToken};
use super::store::{self, AccessTokenRow};
use super::{
    ACCESS_TOKEN_PREFIX, BearerError, CodeExchange, GRANT_AUTHORIZATION_CODE, OAuth2Error,
    TokenClaims, TokenResponse, check_redemption,
};
use crate::flow::code::{self, CodeRow, Grant, Redemption};
use crate::keyed::{self, Purpose};
use crate::state::AppState;

/// Redeems a code for an access token (and an ID token when `openid` was granted).
///
/// The code is consumed, checked and the access token stored in one transaction, so a replay
/// (which revokes what the code issued) sees the token of the request that won.
pub async fn exchange_code(
    state: &AppState,
    client: &AuthenticatedClient,
    request: CodeExchange,
) -> Result<TokenResponse, OAuth2Error> {
    if !client.may_use_grant(GRANT_AUTHORIZATION_CODE) {
        return Err(OAuth2Error::UnauthorizedClient(
            "The client is not allowed to use the authorization_code grant.",
        ));
    }
    let settings = &state.settings.settings;
    let now = settings.clock.now();
    let access_token = keyed::new_token(ACCESS_TOKEN_PREFIX);
    let redeem = Redeem {
        hashes: state
            .hasher
            .candidates(Purpose::AuthorizationCode, &request.code),
        token_hash: state.hasher.hash(Purpose::AccessToken, &access_token),
        request,
        client_id: client.client_id.clone(),
        now,
        expires_at: now + settings.ttl.access_token,
    };
    let (row, grant) = state.db.write(move |c| redeem.run(c)).await??;
    let id_token = match grant.scope.iter().any(|s| s == "openid") {
        true => Some(sign_id_token(state, &row, &grant, &access_token, now)?),
        false => None,
    };
    tracing::info!(client_id = %row.client_id, openid = id_token.is_some(), "issued tokens for an authorization code");
    Ok(TokenResponse {
        access_token,
        token_type: "bearer",
        expires_in: settings.ttl.access_token.as_secs(),
        scope: grant.scope.join(" "),
        id_token,
    })
}

/// What the redeeming transaction needs; moved onto the database thread.
struct Redeem {
    hashes: Vec<String>,
    token_hash: String,
    request: CodeExchange,
    client_id: String,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

type Outcome = Result<(CodeRow, Grant), OAuth2Error>;

impl Redeem {
    /// Failures after the consumption are returned inside `Ok`, so that the transaction commits
    /// and the code stays spent.
    fn run(self, conn: &mut AnyConnection) -> Result<Outcome, OAuth2Error> {
        conn.transaction(|c| {
            Ok(match code::consume(c, &self.hashes)? {
                Redemption::Unknown => Err(OAuth2Error::InvalidGrant(
                    "The authorization code is invalid, expired or was already used.",
                )),
                Redemption::Replayed(row) => {
                    let revoked = store::delete_by_code(c, row.id)?;
                    tracing::warn!(client_id = %row.client_id, revoked, "authorization code replayed; revoked the tokens it issued");
                    Err(OAuth2Error::InvalidGrant(
                        "The authorization code is invalid, expired or was already used.",
                    ))
                }
                Redemption::Redeemed(row) => {
                    match check_redemption(&row, &self.request, &self.client_id, self.now) {
                        Ok(grant) => {
                            store::insert(c, &self.token_row(&row, &grant))?;
                            Ok((row, grant))
                        }
                        Err(e) => Err(e),
                    }
                }
            })
        })
    }

    fn token_row(&self, row: &CodeRow, grant: &Grant) -> AccessTokenRow {
        let claims = TokenClaims {
            userinfo: grant.id_token_claims.clone(),
            ext: grant.access_token_claims.clone(),
        };
        AccessTokenRow {
            id: Id::new_v7(),
            token_hash: self.token_hash.clone(),
            code_id: Some(row.id),
            client_id: row.client_id.clone(),
            subject: row.subject.clone(),
            scope: Json(grant.scope.clone().into()),
            audience: Json(grant.audience.clone().into()),
            claims: Json(serde_json::to_value(claims).expect("claims serialise")),
            expires_at: self.expires_at.naive_utc(),
            created_at: self.now.naive_utc(),
        }
    }
}

fn sign_id_token(
    state: &AppState,
    row: &CodeRow,
    grant: &Grant,
    access_token: &str,
    now: DateTime<Utc>,
) -> Result<String, OAuth2Error> {
    let settings = &state.settings.settings;
    let issuer = settings
        .urls
        .self_
        .issuer
        .as_deref()
        .unwrap_or(state.settings.issuer.as_str());
    let token = IdToken {
        issuer,
        subject: &row.subject,
        client_id: &row.client_id,
        grant,
        at_hash: crate::jwk::at_hash(access_token),
        now,
        ttl: settings.ttl.id_token,
    };
    Ok(state.keys.sign_jwt(&token.claims())?)
}

/// `/userinfo`: the claims behind an active access token that was granted `openid`.
pub async fn userinfo(
    state: &AppState,
    access_token: &str,
) -> Result<serde_json::Value, BearerError> {
    let hashes = state.hasher.candidates(Purpose::AccessToken, access_token);
    let now = state.settings.settings.clock.now().naive_utc();
    let row = state
        .db
        .read(move |c| {
            store::find_active(c, &hashes, now).map_err(|e| BearerError::Internal(e.into()))
        })
        .await?
        .ok_or(BearerError::InvalidToken)?;
    let scope: Vec<String> = serde_json::from_value(row.scope.0)
        .map_err(|e| BearerError::Internal(anyhow::anyhow!("stored scope: {e}")))?;
    if !scope.iter().any(|s| s == "openid") {
        return Err(BearerError::InsufficientScope);
    }
    let claims: TokenClaims = serde_json::from_value(row.claims.0)
        .map_err(|e| BearerError::Internal(anyhow::anyhow!("stored claims: {e}")))?;
    Ok(id_token::userinfo(&row.subject, &claims.userinfo))
}
