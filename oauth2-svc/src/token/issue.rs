//! Access tokens: the one place they are made (every grant goes through [`Pending`]) and the one
//! place a presented access token is recognised ([`lookup_handle`]).
//!
//! An opaque token's handle is the token itself; a JWT access token's (RFC 9068) handle is its
//! `jti`. Only the keyed hash of the handle is stored, so both kinds are introspectable and
//! revocable, and the handle is made before the transaction that stores it while the JWT is
//! signed after it (from the stored row).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use service_kit::db::{Id, Json};
use shared_types::client::OAuth2Client;

use super::store::AccessTokenRow;
use super::{OAuth2Error, TokenClaims, opaque};
use crate::keyed::Purpose;
use crate::state::AppState;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    Opaque,
    Jwt,
}

/// The client's `access_token_strategy`, else `strategies.access_token`.
pub fn strategy(state: &AppState, client: &OAuth2Client) -> Strategy {
    let global = state.settings.settings.strategies.access_token.as_str();
    match client.access_token_strategy.as_deref().unwrap_or(global) {
        "jwt" => Strategy::Jwt,
        _ => Strategy::Opaque,
    }
}

/// An access token whose handle exists but whose row is not stored yet.
pub struct Pending {
    strategy: Strategy,
    handle: String,
    /// The keyed hash of the handle: what the row stores.
    pub hash: String,
}

/// What an access token row is made of besides its hash.
pub struct AccessSpec {
    pub chain: Option<Id>,
    pub client_id: String,
    pub subject: String,
    pub scope: Vec<String>,
    pub audience: Vec<String>,
    pub claims: TokenClaims,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Pending {
    pub fn new(state: &AppState, strategy: Strategy) -> Pending {
        let handle = match strategy {
            Strategy::Opaque => opaque::mint(&state.hasher, opaque::ACCESS_TOKEN_PREFIX),
            Strategy::Jwt => uuid::Uuid::new_v4().to_string(),
        };
        let hash = state.hasher.hash(Purpose::AccessToken, &handle);
        Pending {
            strategy,
            handle,
            hash,
        }
    }

    /// The bearer value of the stored `row`: the opaque token, or the signed JWT.
    pub fn finish(self, state: &AppState, row: &AccessTokenRow) -> Result<String, OAuth2Error> {
        match self.strategy {
            Strategy::Opaque => Ok(self.handle),
            Strategy::Jwt => {
                let claims = jwt_claims(issuer(state), &self.handle, row);
                Ok(state.keys.sign_access_token_jwt(&claims)?)
            }
        }
    }
}

/// The row of an access token whose handle hashes to `hash`.
pub fn access_row(hash: String, spec: AccessSpec) -> AccessTokenRow {
    AccessTokenRow {
        id: Id::new_v7(),
        token_hash: hash,
        code_id: spec.chain,
        client_id: spec.client_id,
        subject: spec.subject,
        scope: Json(spec.scope.into()),
        audience: Json(spec.audience.into()),
        claims: Json(serde_json::to_value(spec.claims).unwrap_or_default()),
        expires_at: spec.expires_at.naive_utc(),
        created_at: spec.now.naive_utc(),
    }
}

/// RFC 9068 §2.2 claims, plus Hydra's `scp` list and `ext` (the consent's `session.access_token`).
/// Without a granted audience the client is the audience (RFC 9068 requires `aud`).
fn jwt_claims(issuer: &str, jti: &str, row: &AccessTokenRow) -> Value {
    let scope: Vec<String> = serde_json::from_value(row.scope.0.clone()).unwrap_or_default();
    let mut audience: Vec<String> =
        serde_json::from_value(row.audience.0.clone()).unwrap_or_default();
    if audience.is_empty() {
        audience.push(row.client_id.clone());
    }
    let ext = row
        .claims
        .0
        .get("ext")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let iat = row.created_at.and_utc().timestamp();
    json!({
        "iss": issuer,
        "sub": row.subject,
        "aud": audience,
        "exp": row.expires_at.and_utc().timestamp(),
        "iat": iat,
        "nbf": iat,
        "jti": jti,
        "client_id": row.client_id,
        "scope": scope.join(" "),
        "scp": scope,
        "ext": ext,
    })
}

/// `urls.self.issuer` byte for byte.
pub fn issuer(state: &AppState) -> &str {
    state
        .settings
        .settings
        .urls
        .self_
        .issuer
        .as_deref()
        .unwrap_or(state.settings.issuer.as_str())
}

/// The handle of a presented access token whose signature verifies (the opaque HMAC, or the
/// JWT's RS256 signature with `typ: at+jwt` and our issuer); `None` means the token is not ours
/// and no lookup is needed.
pub fn lookup_handle(state: &AppState, token: &str) -> Option<String> {
    if token.starts_with(opaque::ACCESS_TOKEN_PREFIX) {
        return opaque::verify(&state.hasher, opaque::ACCESS_TOKEN_PREFIX, token)
            .then(|| token.to_string());
    }
    if token.len() > 16 * 1024 || token.bytes().filter(|b| *b == b'.').count() != 2 {
        return None;
    }
    let header: Value = URL_SAFE_NO_PAD
        .decode(token.split('.').next()?)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())?;
    if header.get("typ").and_then(Value::as_str) != Some("at+jwt") {
        return None;
    }
    let claims = state.keys.verify_jwt(token).ok()?;
    if claims.get("iss").and_then(Value::as_str) != Some(issuer(state)) {
        return None;
    }
    claims
        .get("jti")
        .and_then(Value::as_str)
        .map(str::to_string)
}
