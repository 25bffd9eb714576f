//! The `authorization_code` grant end to end, and the access-token lookup behind `/userinfo`.

use chrono::{DateTime, Utc};
use diesel::Connection;
use service_kit::db::{AnyConnection, Id, Json};

use super::client_auth::AuthenticatedClient;
use super::id_token::{self, IdToken};
use super::issue::{self, AccessSpec, Pending};
use super::refresh_store::{self, RefreshTokenRow};
use super::store::{self, AccessTokenRow};
use super::{
    BearerError, CodeExchange, GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN, OAuth2Error,
    TokenClaims, TokenKind, TokenResponse, check_redemption, opaque, token_lifespan,
};
use crate::flow::code::{self, CodeRow, Grant, Redemption};
use crate::keyed::Purpose;
use crate::state::AppState;

/// Redeems a code for an access token, a refresh token when `offline_access` (or `offline`) was
/// granted and the client may use the `refresh_token` grant (RT-01), and an ID token when
/// `openid` was granted.
///
/// The code is consumed, checked and the tokens stored in one transaction, so a replay (which
/// revokes the chain the code started) sees the tokens of the request that won.
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
    let lifespan = |kind| {
        token_lifespan(
            &settings.ttl,
            &client.document,
            GRANT_AUTHORIZATION_CODE,
            kind,
        )
    };
    let access = Pending::new(state, issue::strategy(state, &client.document));
    let refresh_token = client
        .may_use_grant(GRANT_REFRESH_TOKEN)
        .then(|| opaque::mint(&state.hasher, opaque::REFRESH_TOKEN_PREFIX));
    let redeem = Redeem {
        hashes: state
            .hasher
            .candidates(Purpose::AuthorizationCode, &request.code),
        token_hash: access.hash.clone(),
        refresh_hash: refresh_token
            .as_ref()
            .map(|t| state.hasher.hash(Purpose::RefreshToken, t)),
        request,
        client_id: client.client_id.clone(),
        now,
        expires_at: now + lifespan(TokenKind::AccessToken),
        refresh_expires_at: now + lifespan(TokenKind::RefreshToken),
    };
    let (row, grant, access_row, offline) = state.db.write(move |c| redeem.run(c)).await??;
    let access_token = access.finish(state, &access_row)?;
    let id_token = match grant.scope.iter().any(|s| s == "openid") {
        true => Some(sign_id_token(
            state,
            &crate::subject::seen_by(state, &client.document, &row.subject),
            &row.client_id,
            &grant,
            &access_token,
            now,
            lifespan(TokenKind::IdToken),
        )?),
        false => None,
    };
    tracing::info!(client_id = %row.client_id, openid = id_token.is_some(), offline, "issued tokens for an authorization code");
    Ok(TokenResponse {
        access_token,
        token_type: "bearer",
        expires_in: lifespan(TokenKind::AccessToken).as_secs(),
        scope: grant.scope.join(" "),
        refresh_token: refresh_token.filter(|_| offline),
        id_token,
    })
}

/// Whether the granted scope asks for a refresh token (OIDC Core §11; Hydra also takes `offline`).
pub fn wants_refresh_token(scope: &[String]) -> bool {
    scope
        .iter()
        .any(|s| s == "offline_access" || s == "offline")
}

/// What the redeeming transaction needs; moved onto the database thread.
struct Redeem {
    hashes: Vec<String>,
    token_hash: String,
    /// The hash of the refresh token to store, when the client may use the grant.
    refresh_hash: Option<String>,
    request: CodeExchange,
    client_id: String,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    refresh_expires_at: DateTime<Utc>,
}

/// The code, its grant, the stored access token and whether a refresh token was stored.
type Outcome = Result<(CodeRow, Grant, AccessTokenRow, bool), OAuth2Error>;

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
                    let (refresh, access) = refresh_store::revoke_chain(c, row.id)?;
                    tracing::warn!(client_id = %row.client_id, refresh, access, "authorization code replayed; revoked the tokens it issued");
                    Err(OAuth2Error::InvalidGrant(
                        "The authorization code is invalid, expired or was already used.",
                    ))
                }
                Redemption::Redeemed(row) => {
                    match check_redemption(&row, &self.request, &self.client_id, self.now) {
                        Ok(grant) => {
                            let access = self.token_row(&row, &grant);
                            store::insert(c, &access)?;
                            let offline = match &self.refresh_hash {
                                Some(hash) if super::exchange::wants_refresh_token(&grant.scope) => {
                                    refresh_store::insert(c, &self.refresh_row(&row, &grant, hash))?;
                                    true
                                }
                                _ => false,
                            };
                            Ok((row, grant, access, offline))
                        }
                        Err(e) => Err(e),
                    }
                }
            })
        })
    }

    fn token_row(&self, row: &CodeRow, grant: &Grant) -> AccessTokenRow {
        issue::access_row(
            self.token_hash.clone(),
            AccessSpec {
                chain: Some(row.id),
                client_id: row.client_id.clone(),
                subject: row.subject.clone(),
                scope: grant.scope.clone(),
                audience: grant.audience.clone(),
                claims: TokenClaims {
                    userinfo: grant.id_token_claims.clone(),
                    ext: grant.access_token_claims.clone(),
                },
                now: self.now,
                expires_at: self.expires_at,
            },
        )
    }

    /// The first refresh token of the chain the code starts; the nonce stays with the code.
    fn refresh_row(&self, row: &CodeRow, grant: &Grant, hash: &str) -> RefreshTokenRow {
        let grant = Grant {
            nonce: None,
            ..grant.clone()
        };
        RefreshTokenRow {
            id: Id::new_v7(),
            token_hash: hash.to_string(),
            chain_id: row.id,
            client_id: row.client_id.clone(),
            subject: row.subject.clone(),
            scope: Json(grant.scope.clone().into()),
            grant_data: Json(serde_json::to_value(&grant).unwrap_or_default()),
            used_at: None,
            grace_used: false,
            revoked: false,
            expires_at: self.refresh_expires_at.naive_utc(),
            created_at: self.now.naive_utc(),
        }
    }
}

/// Signs an ID token for `subject` and `client_id` over `grant` (whose nonce, if any, is
/// included: refresh grants store theirs without one), valid for `ttl` (the client's ID-token
/// lifespan for the grant, else `ttl.id_token`).
pub fn sign_id_token(
    state: &AppState,
    subject: &str,
    client_id: &str,
    grant: &Grant,
    access_token: &str,
    now: DateTime<Utc>,
    ttl: std::time::Duration,
) -> Result<String, OAuth2Error> {
    let token = IdToken {
        issuer: issue::issuer(state),
        subject,
        client_id,
        grant,
        at_hash: crate::jwk::at_hash(access_token),
        now,
        ttl,
    };
    Ok(state.keys.sign_jwt(&token.claims())?)
}

/// `/userinfo`: the claims behind an active access token that was granted `openid`.
pub async fn userinfo(
    state: &AppState,
    access_token: &str,
) -> Result<serde_json::Value, BearerError> {
    let handle = issue::lookup_handle(state, access_token).ok_or(BearerError::InvalidToken)?;
    let hashes = state.hasher.candidates(Purpose::AccessToken, &handle);
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
    let subject = crate::subject::for_client_id(state, &row.client_id, &row.subject)
        .await
        .map_err(BearerError::Internal)?;
    Ok(id_token::userinfo(&subject, &claims.userinfo))
}
