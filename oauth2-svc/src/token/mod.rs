//! The token endpoint and what it issues: the `authorization_code` grant (RFC 6749 §4.1.3 with
//! PKCE, RFC 7636), `refresh_token` (rotation and reuse detection), `client_credentials`;
//! opaque access and refresh tokens (`oly_at_…`, `oly_rt_…`: HMAC-signed, stored only as keyed
//! hashes) or RFC 9068 JWT access tokens; ID tokens (OIDC Core §3.1.3); `/userinfo` (OIDC Core
//! §5.3); revocation (RFC 7009) and introspection (RFC 7662).

pub(crate) mod client_auth;
mod client_credentials;
mod endpoints;
mod error;
pub(crate) mod exchange;
pub(crate) mod form;
pub mod handlers;
mod id_token;
mod introspect;
pub(crate) mod issue;
pub(crate) mod opaque;
mod refresh;
pub(crate) mod refresh_store;
mod revoke;
pub(crate) mod store;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::flow::code::{CodeRow, Grant};
pub use error::{BearerError, OAuth2Error};
use form::Form;

pub const GRANT_AUTHORIZATION_CODE: &str = "authorization_code";
pub const GRANT_REFRESH_TOKEN: &str = "refresh_token";
pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";

/// The kinds of token a grant issues, for [`token_lifespan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // the names of Hydra's `*_lifespan` fields
pub enum TokenKind {
    AccessToken,
    RefreshToken,
    IdToken,
}

/// How long a token of `kind` issued to `client` by `grant` lives: the client's own lifespan
/// for that grant and kind (Hydra's `*_grant_*_lifespan` client fields) when set, else the
/// global `ttl.*`.
pub fn token_lifespan(
    ttl: &crate::config::Ttl,
    client: &shared_types::client::OAuth2Client,
    grant: &str,
    kind: TokenKind,
) -> std::time::Duration {
    let global = match kind {
        TokenKind::AccessToken => ttl.access_token,
        TokenKind::RefreshToken => ttl.refresh_token,
        TokenKind::IdToken => ttl.id_token,
    };
    crate::client::lifespan::for_grant(client, grant, kind).unwrap_or(global)
}

/// The parameters of an `authorization_code` token request.
#[derive(Debug)]
pub struct CodeExchange {
    pub code: String,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
}

impl TryFrom<&Form> for CodeExchange {
    type Error = OAuth2Error;

    fn try_from(form: &Form) -> Result<Self, Self::Error> {
        let code = form.get("code").ok_or_else(|| {
            OAuth2Error::InvalidRequest("The request is missing the 'code' parameter".into())
        })?;
        Ok(CodeExchange {
            code: code.to_string(),
            redirect_uri: form.get("redirect_uri").map(str::to_string),
            code_verifier: form.get("code_verifier").map(str::to_string),
        })
    }
}

/// Checks a freshly consumed code against the request (RFC 6749 §4.1.3, RFC 7636 §4.6) and
/// returns what it granted. The code is spent whatever this answers.
pub fn check_redemption(
    row: &CodeRow,
    request: &CodeExchange,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<Grant, OAuth2Error> {
    if row.client_id != client_id {
        return Err(OAuth2Error::InvalidGrant(
            "The authorization code was issued to another client.",
        ));
    }
    if row.expires_at <= now.naive_utc() {
        return Err(OAuth2Error::InvalidGrant(
            "The authorization code has expired.",
        ));
    }
    if request.redirect_uri.as_deref() != Some(row.redirect_uri.as_str()) {
        return Err(OAuth2Error::InvalidGrant(
            "The redirect_uri does not match the one of the authorization request.",
        ));
    }
    verify_pkce(
        row.code_challenge.as_deref(),
        request.code_verifier.as_deref(),
    )?;
    row.grant()
        .map_err(|e| OAuth2Error::Internal(anyhow::anyhow!("stored grant: {e}")))
}

/// RFC 7636 §4.6 with S256 only: BASE64URL(SHA256(verifier)) must equal the stored challenge.
/// A verifier without a challenge is a downgrade attempt (TK-06).
pub fn verify_pkce(challenge: Option<&str>, verifier: Option<&str>) -> Result<(), OAuth2Error> {
    let (challenge, verifier) = match (challenge, verifier) {
        (None, None) => return Ok(()),
        (None, Some(_)) => {
            return Err(OAuth2Error::InvalidGrant(
                "The PKCE code verifier was provided but the code challenge was absent from the authorization request.",
            ));
        }
        (Some(_), None) => {
            return Err(OAuth2Error::InvalidGrant(
                "The PKCE code verifier is missing.",
            ));
        }
        (Some(c), Some(v)) => (c, v),
    };
    if !(43..=128).contains(&verifier.len())
        || !verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    {
        return Err(OAuth2Error::InvalidGrant(
            "The PKCE code verifier must be 43 to 128 characters of [A-Za-z0-9-._~].",
        ));
    }
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if constant_time_eq(computed.as_bytes(), challenge.as_bytes()) {
        Ok(())
    } else {
        Err(OAuth2Error::InvalidGrant(
            "The PKCE code challenge did not match the code verifier.",
        ))
    }
}

/// Equality whose time depends only on the lengths (which are public here).
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && std::hint::black_box(a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y))) == 0
}

/// The claims an access token carries: what `/userinfo` answers (the consent's
/// `session.id_token`) and `ext` (the consent's `session.access_token`, for introspection).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenClaims {
    pub userinfo: Map<String, Value>,
    pub ext: Map<String, Value>,
}

/// RFC 6749 §5.1.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

#[cfg(test)]
mod tests;
