//! The `refresh_token` grant (RFC 6749 §6) with rotation on every use and reuse detection
//! (RFC 9700 §4.14.2).
//!
//! - A refresh token is consumed by one conditional UPDATE; the winner gets a new refresh token
//!   and a new access token of the same chain (and an ID token when `openid` is in the scope,
//!   with the original `auth_time` and no `nonce`).
//! - Presenting a used token is a replay: the whole chain (every refresh and access token from
//!   the same authorization) is revoked. The loser of a race is a replay too (design), so N
//!   parallel refreshes give one 200 and N-1 `invalid_grant`, never a 5xx.
//! - `oauth2.grant.refresh_token.rotation_grace_period` (default off): within it, ONE retry of
//!   the just-used token gets a new pair of the same chain without revoking anything; a second
//!   retry, or any reuse after the period, is a replay.
//! - `scope` may narrow the new access token's scope, never widen it; the refresh token keeps
//!   the chain's scope (RFC 6749 §6).

use chrono::{DateTime, Utc};
use diesel::Connection;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use service_kit::db::{AnyConnection, Id};

use super::client_auth::AuthenticatedClient;
use super::form::Form;
use super::issue::{self, AccessSpec, Pending};
use super::refresh_store::{self as store, RefreshTokenRow};
use super::store::{self as access_store, AccessTokenRow};
use super::{
    GRANT_REFRESH_TOKEN, OAuth2Error, TokenClaims, TokenKind, TokenResponse, opaque, token_lifespan,
};
use crate::flow::code::Grant;
use crate::keyed::Purpose;
use crate::state::AppState;

const MALFORMED: &str = "The refresh token is malformed or not valid.";
const USED: &str = "The refresh token was already used.";
const REVOKED: &str = "The refresh token was revoked.";
const EXPIRED: &str = "The refresh token expired.";
/// A transaction that kept conflicting is answered like a lost race, never with a 5xx.
const ATTEMPTS: usize = 3;

/// The parameters of a `refresh_token` request.
#[derive(Debug)]
pub struct RefreshRequest {
    pub refresh_token: String,
    pub scope: Option<Vec<String>>,
}

impl TryFrom<&Form> for RefreshRequest {
    type Error = OAuth2Error;

    fn try_from(form: &Form) -> Result<Self, Self::Error> {
        let token = form.get("refresh_token").ok_or_else(|| {
            OAuth2Error::InvalidRequest(
                "The request is missing the 'refresh_token' parameter".into(),
            )
        })?;
        Ok(RefreshRequest {
            refresh_token: token.to_string(),
            scope: form
                .get("scope")
                .map(|s| s.split_whitespace().map(str::to_string).collect()),
        })
    }
}

/// Rotates a refresh token into a new token pair.
pub async fn refresh(
    state: &AppState,
    client: &AuthenticatedClient,
    request: RefreshRequest,
) -> Result<TokenResponse, OAuth2Error> {
    if !client.may_use_grant(GRANT_REFRESH_TOKEN) {
        return Err(OAuth2Error::UnauthorizedClient(
            "The client is not allowed to use the refresh_token grant.",
        ));
    }
    let token = &request.refresh_token;
    if !opaque::verify(&state.hasher, opaque::REFRESH_TOKEN_PREFIX, token) {
        return Err(OAuth2Error::InvalidGrant(MALFORMED));
    }
    let settings = &state.settings.settings;
    let now = settings.clock.now();
    let lifespan =
        |kind| token_lifespan(&settings.ttl, &client.document, GRANT_REFRESH_TOKEN, kind);
    let access = Pending::new(state, issue::strategy(state, &client.document));
    let refresh_token = opaque::mint(&state.hasher, opaque::REFRESH_TOKEN_PREFIX);
    let rotate = Rotate {
        hashes: state.hasher.candidates(Purpose::RefreshToken, token),
        client_id: client.client_id.clone(),
        scope: request.scope,
        access_hash: access.hash.clone(),
        refresh_hash: state.hasher.hash(Purpose::RefreshToken, &refresh_token),
        now,
        access_expires: now + lifespan(TokenKind::AccessToken),
        refresh_expires: now + lifespan(TokenKind::RefreshToken),
        grace: settings.oauth2.grant.refresh_token.rotation_grace_period,
    };
    let issued = state.db.write(move |c| rotate.run(c)).await??;
    let access_token = access.finish(state, &issued.access)?;
    let id_token = match issued.scope.iter().any(|s| s == "openid") {
        true => Some(super::exchange::sign_id_token(
            state,
            &crate::subject::seen_by(state, &client.document, &issued.access.subject),
            &issued.access.client_id,
            &issued.grant,
            &access_token,
            now,
            lifespan(TokenKind::IdToken),
        )?),
        false => None,
    };
    tracing::info!(client_id = %issued.access.client_id, "rotated a refresh token");
    Ok(TokenResponse {
        access_token,
        token_type: "bearer",
        expires_in: lifespan(TokenKind::AccessToken).as_secs(),
        scope: issued.scope.join(" "),
        refresh_token: Some(refresh_token),
        id_token,
    })
}

/// What the rotating transaction needs; moved onto the database thread.
struct Rotate {
    hashes: Vec<String>,
    client_id: String,
    scope: Option<Vec<String>>,
    access_hash: String,
    refresh_hash: String,
    now: DateTime<Utc>,
    access_expires: DateTime<Utc>,
    refresh_expires: DateTime<Utc>,
    grace: std::time::Duration,
}

/// The new access token row, the chain's grant and the access token's scope.
struct Issued {
    access: AccessTokenRow,
    grant: Grant,
    scope: Vec<String>,
}

type Outcome = Result<Issued, OAuth2Error>;

impl Rotate {
    /// Runs the rotation in one transaction, retried when the database reports a conflict.
    /// Refusals are returned inside `Ok` so that a revocation they made commits.
    fn run(self, conn: &mut AnyConnection) -> Result<Outcome, OAuth2Error> {
        for _ in 0..ATTEMPTS {
            match conn.transaction(|c| self.attempt(c)) {
                Ok(outcome) => return Ok(outcome),
                Err(e) if is_conflict(&e) => {
                    tracing::debug!(error = %e, "refresh conflict; retrying")
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Err(OAuth2Error::InvalidGrant(USED)))
    }

    fn attempt(&self, c: &mut AnyConnection) -> Result<Outcome, DieselError> {
        let Some(row) = store::find(c, &self.hashes)? else {
            return Ok(Err(OAuth2Error::InvalidGrant(MALFORMED)));
        };
        if row.client_id != self.client_id {
            // Not consumed: the token still works for its real owner (RT-06).
            return Ok(Err(OAuth2Error::InvalidGrant(
                "The refresh token was issued to another client.",
            )));
        }
        if row.revoked {
            return Ok(Err(OAuth2Error::InvalidGrant(REVOKED)));
        }
        if row.expires_at <= self.now.naive_utc() {
            return Ok(Err(OAuth2Error::InvalidGrant(EXPIRED)));
        }
        let scope = self.narrowed_scope(&row);
        if row.used_at.is_none() {
            let scope = match scope {
                Ok(scope) => scope,
                Err(e) => return Ok(Err(e)),
            };
            if store::consume(c, row.id, self.now.naive_utc())? {
                return self.issue(c, &row, scope);
            }
            // Lost the race: the winner used it in between.
            return self.replay(c, row.id, Ok(scope));
        }
        self.replay(c, row.id, scope)
    }

    /// A used token (or a lost race): the grace retry, else the chain is revoked.
    fn replay(
        &self,
        c: &mut AnyConnection,
        id: Id,
        scope: ScopeResult,
    ) -> Result<Outcome, DieselError> {
        let row = store::find_by_id(c, id)?;
        let since = self.now - self.grace;
        if !self.grace.is_zero() && !row.revoked && store::take_grace(c, id, since.naive_utc())? {
            tracing::info!(client_id = %row.client_id, "refresh token retried within the grace period");
            return match scope {
                Ok(scope) => self.issue(c, &row, scope),
                Err(e) => Ok(Err(e)),
            };
        }
        let (refresh_tokens, access_tokens) = store::revoke_chain(c, row.chain_id)?;
        tracing::warn!(client_id = %row.client_id, refresh_tokens, access_tokens, "refresh token reused; revoked its chain");
        Ok(Err(OAuth2Error::InvalidGrant(USED)))
    }

    /// The requested scope if it is within the chain's, else the chain's.
    fn narrowed_scope(&self, row: &RefreshTokenRow) -> ScopeResult {
        let granted: Vec<String> = serde_json::from_value(row.scope.0.clone())
            .map_err(|e| OAuth2Error::Internal(anyhow::anyhow!("stored scope: {e}")))?;
        match &self.scope {
            None => Ok(granted),
            Some(requested) if requested.iter().all(|s| granted.contains(s)) => {
                Ok(requested.clone())
            }
            Some(_) => Err(OAuth2Error::InvalidScope(
                "The requested scope exceeds the scope originally granted.",
            )),
        }
    }

    fn issue(
        &self,
        c: &mut AnyConnection,
        row: &RefreshTokenRow,
        scope: Vec<String>,
    ) -> Result<Outcome, DieselError> {
        let grant: Grant = match serde_json::from_value(row.grant_data.0.clone()) {
            Ok(grant) => grant,
            Err(e) => {
                return Ok(Err(OAuth2Error::Internal(anyhow::anyhow!(
                    "stored grant: {e}"
                ))));
            }
        };
        store::insert(c, &self.successor(row))?;
        let access = issue::access_row(
            self.access_hash.clone(),
            AccessSpec {
                chain: Some(row.chain_id),
                client_id: row.client_id.clone(),
                subject: row.subject.clone(),
                scope: scope.clone(),
                audience: grant.audience.clone(),
                claims: TokenClaims {
                    userinfo: grant.id_token_claims.clone(),
                    ext: grant.access_token_claims.clone(),
                },
                now: self.now,
                expires_at: self.access_expires,
            },
        );
        access_store::insert(c, &access)?;
        Ok(Ok(Issued {
            access,
            grant,
            scope,
        }))
    }

    fn successor(&self, row: &RefreshTokenRow) -> RefreshTokenRow {
        RefreshTokenRow {
            id: Id::new_v7(),
            token_hash: self.refresh_hash.clone(),
            used_at: None,
            grace_used: false,
            revoked: false,
            expires_at: self.refresh_expires.naive_utc(),
            created_at: self.now.naive_utc(),
            ..row.clone()
        }
    }
}

type ScopeResult = Result<Vec<String>, OAuth2Error>;

/// Serialization failures and deadlocks (PostgreSQL under concurrent refreshes): retry.
fn is_conflict(error: &DieselError) -> bool {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        DieselError::DatabaseError(_, info) => {
            let message = info.message();
            message.contains("deadlock") || message.contains("database is locked")
        }
        _ => false,
    }
}
