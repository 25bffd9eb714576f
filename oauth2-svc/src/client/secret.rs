//! Client secrets: generated with 256 bits of entropy (or supplied, at least 32 characters),
//! stored only as HMAC-SHA256 under `secrets.system`, compared in constant time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use service_kit::settings::SecretList;
use sha2::Sha256;

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

/// Keyed hashing of client secrets with every configured system secret.
pub struct SecretHasher {
    keys: Vec<Vec<u8>>,
}

impl SecretHasher {
    pub fn new(secrets: &SecretList) -> Self {
        SecretHasher {
            keys: secrets
                .all()
                .iter()
                .map(|s| s.expose().as_bytes().to_vec())
                .collect(),
        }
    }

    fn mac(key: &[u8], secret: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
        mac.update(secret.as_bytes());
        mac
    }

    /// The stored form: base64url of HMAC-SHA256 under the current system secret.
    pub fn hash(&self, secret: &str) -> String {
        URL_SAFE_NO_PAD.encode(Self::mac(&self.keys[0], secret).finalize().into_bytes())
    }

    /// Which configured secret (0 = current) made `stored` from `secret`, compared in constant
    /// time; a match under an older secret tells the caller to re-hash under the current one.
    #[allow(dead_code)] // used by client authentication at the token endpoint
    pub fn verify(&self, secret: &str, stored: &str) -> Option<usize> {
        let stored = URL_SAFE_NO_PAD.decode(stored).ok()?;
        self.keys
            .iter()
            .position(|key| Self::mac(key, secret).verify_slice(&stored).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use service_kit::settings::Secret;

    #[test]
    fn verifies_under_current_and_rotated_secrets() {
        let old = SecretHasher::new(&SecretList::new([Secret::new("o".repeat(32))]));
        let stored = old.hash("client-secret");
        let rotated = SecretHasher::new(&SecretList::new([
            Secret::new("n".repeat(32)),
            Secret::new("o".repeat(32)),
        ]));
        assert_eq!(rotated.verify("client-secret", &stored), Some(1));
        assert_eq!(
            rotated.verify("client-secret", &rotated.hash("client-secret")),
            Some(0)
        );
        assert_eq!(rotated.verify("wrong", &stored), None);
        assert!(!stored.contains("client-secret"));
    }
}
