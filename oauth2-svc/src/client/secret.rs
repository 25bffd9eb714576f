//! Client secrets: generated with 256 bits of entropy (or supplied, at least 32 characters),
//! stored only as a keyed hash (see `crate::keyed`), compared in constant time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

use crate::error::ApiError;

pub const MIN_SUPPLIED_SECRET: usize = 32;

/// The secret a new client gets: none for public clients, else the supplied or a generated one.
pub fn for_new_client(method: &str, supplied: Option<String>) -> Result<Option<String>, ApiError> {
    let supplied = supplied.filter(|s| !s.is_empty());
    if !uses_secret(method) {
        return match supplied {
            Some(_) => Err(ApiError::InvalidClientMetadata(format!(
                "a client with token_endpoint_auth_method {method} must not have a client_secret"
            ))),
            None => Ok(None),
        };
    }
    match supplied {
        Some(s) if s.chars().count() < MIN_SUPPLIED_SECRET => {
            Err(ApiError::InvalidClientMetadata(format!(
                "client_secret must be at least {MIN_SUPPLIED_SECRET} characters; omit it to have one generated"
            )))
        }
        Some(s) => Ok(Some(s)),
        None => {
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            Ok(Some(URL_SAFE_NO_PAD.encode(bytes)))
        }
    }
}

/// Whether clients of `method` authenticate with a shared secret.
pub fn uses_secret(method: &str) -> bool {
    !matches!(method, "none" | "private_key_jwt")
}

/// What a replace or patch does to the stored secret.
#[derive(Debug, PartialEq)]
pub enum SecretUpdate {
    /// The stored hash stays (no new secret given).
    Keep,
    /// A new secret, returned once; the old one stops working.
    Set(String),
    /// The client no longer authenticates with a secret.
    Clear,
}

/// The secret change of an update: a supplied secret rotates (at least 32 characters), none
/// keeps the stored one, and a client that newly needs a secret gets a generated one.
pub fn for_update(
    method: &str,
    supplied: Option<String>,
    has_secret: bool,
) -> Result<SecretUpdate, ApiError> {
    let supplied = supplied.filter(|s| !s.is_empty());
    if !uses_secret(method) {
        return for_new_client(method, supplied).map(|_| SecretUpdate::Clear);
    }
    match (supplied, has_secret) {
        (None, true) => Ok(SecretUpdate::Keep),
        (supplied, _) => for_new_client(method, supplied)?
            .map(SecretUpdate::Set)
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no secret for {method}"))),
    }
}
