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
    if method == "none" {
        return match supplied {
            Some(_) => Err(ApiError::InvalidClientMetadata(
                "a client with token_endpoint_auth_method none must not have a client_secret"
                    .into(),
            )),
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
