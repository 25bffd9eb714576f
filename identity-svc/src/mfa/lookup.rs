//! Recovery codes (Kratos' lookup secrets): 12 codes of 8 characters from `[a-z0-9]`, each good
//! for one sign-in. Stored per code as a keyed hash (HMAC-SHA256 under a key derived from each
//! `secrets.cipher`, so a look-up matches codes hashed before a rotation too) and sealed under
//! `secrets.cipher` (bound to the code's row) so that their owner can reveal them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::Rng;
use serde_json::Value;
use service_kit::cipher::KeyCipher;
use service_kit::db::Id;
use service_kit::settings::SecretList;
use sha2::Sha256;

use super::store::{self, LookupCodeRow};
use crate::error::ApiError;
use crate::state::AppState;

pub const CODES: usize = 12;
pub const LENGTH: usize = 8;
const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Twelve new codes.
pub fn generate() -> Vec<String> {
    let mut rng = rand::rng();
    (0..CODES)
        .map(|_| {
            (0..LENGTH)
                .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
                .collect()
        })
        .collect()
}

/// A code as typed: trimmed and lowercased; `None` when it cannot be a code.
pub fn normalise(typed: &str) -> Option<String> {
    let code = typed.trim().to_ascii_lowercase();
    (code.len() == LENGTH && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// One HMAC key per configured cipher secret, current first.
pub fn hash_keys(secrets: &SecretList) -> Vec<Vec<u8>> {
    secrets
        .all()
        .iter()
        .map(|secret| {
            // A key of its own for this use: HMAC-SHA256(secret, label).
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
                .expect("HMAC takes keys of any length");
            mac.update(b"olympus/identity-svc/lookup_secret/hash v1");
            mac.finalize().into_bytes().to_vec()
        })
        .collect()
}

fn hash_with(key: &[u8], code: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(code.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// The hash a new code is stored under.
pub fn hash(keys: &[Vec<u8>], code: &str) -> String {
    hash_with(&keys[0], code)
}

/// The hashes a typed code may be stored under (one per configured secret).
pub fn candidates(keys: &[Vec<u8>], code: &str) -> Vec<String> {
    keys.iter().map(|k| hash_with(k, code)).collect()
}

/// Codes to show while they wait for confirmation, sealed to the settings flow `flow_id`.
pub fn seal_pending(cipher: &KeyCipher, codes: &[String], flow_id: Id) -> Result<Value, ApiError> {
    let sealed = cipher.seal(codes.join(",").as_bytes(), flow_id.0.as_bytes())?;
    Ok(serde_json::json!({ "codes": sealed.ciphertext, "key_fingerprint": sealed.fingerprint }))
}

/// The codes [`seal_pending`] stored; `None` when they do not open (a rotated-away secret).
pub fn open_pending(cipher: &KeyCipher, stored: &Value, flow_id: Id) -> Option<Vec<String>> {
    let field = |name: &str| stored.get(name).and_then(Value::as_str);
    let (plain, _) = cipher.open(
        field("key_fingerprint")?,
        field("codes")?,
        flow_id.0.as_bytes(),
    )?;
    let joined = String::from_utf8(plain).ok()?;
    Some(joined.split(',').map(str::to_string).collect())
}

/// The codes of the recovery-code credential `credential_id` in the clear, in order, with
/// their rows; codes sealed under an older secret are re-sealed and re-hashed under the first
/// (as TOTP secrets are). `None` when a code opens under no configured secret (the one that
/// sealed it was removed from `secrets.cipher`).
pub async fn open_codes(
    state: &AppState,
    credential_id: Id,
) -> Result<Option<Vec<(LookupCodeRow, String)>>, ApiError> {
    let rows = state
        .db
        .read(move |c| store::list_codes(c, credential_id).map_err(ApiError::from))
        .await?;
    let mfa = &state.mfa;
    let mut opened = Vec::with_capacity(rows.len());
    let mut resealed = Vec::new();
    for mut row in rows {
        let aad = row.id.0.as_bytes();
        let Some((plain, index)) =
            mfa.lookup_cipher
                .open(&row.key_fingerprint, &row.sealed_code, aad)
        else {
            tracing::warn!(
                credential_id = %credential_id.0,
                "recovery codes open under no configured secrets.cipher"
            );
            return Ok(None);
        };
        let code = String::from_utf8(plain).map_err(anyhow::Error::from)?;
        if index > 0 {
            let sealed = mfa.lookup_cipher.seal(code.as_bytes(), aad)?;
            row.sealed_code = sealed.ciphertext;
            row.key_fingerprint = sealed.fingerprint;
            row.code_hash = hash(&mfa.lookup_hash_keys, &code);
            resealed.push(row.clone());
        }
        opened.push((row, code));
    }
    if !resealed.is_empty() {
        let count = resealed.len();
        state
            .db
            .write(move |c| store::update_sealed(c, &resealed).map_err(ApiError::from))
            .await?;
        tracing::info!(credential_id = %credential_id.0, count, "recovery codes re-sealed");
    }
    Ok(Some(opened))
}

#[cfg(test)]
mod tests {
    use super::*;
    use service_kit::settings::Secret;

    #[test]
    fn codes_have_kratos_shape_and_hash_under_every_secret() {
        let codes = generate();
        assert_eq!(codes.len(), 12);
        assert!(
            codes
                .iter()
                .all(|c| normalise(c).as_deref() == Some(c.as_str()))
        );
        assert_eq!(normalise(" ABCD1234 ").as_deref(), Some("abcd1234"));
        assert_eq!(normalise("abc-1234"), None);
        let old = SecretList::new([Secret::new("o".repeat(32))]);
        let rotated = SecretList::new([Secret::new("n".repeat(32)), Secret::new("o".repeat(32))]);
        let stored = hash(&hash_keys(&old), &codes[0]);
        assert!(candidates(&hash_keys(&rotated), &codes[0]).contains(&stored));
        assert_ne!(hash(&hash_keys(&rotated), &codes[0]), stored);
        let cipher = KeyCipher::new(&old, b"test");
        let flow = Id::new_v7();
        let sealed = seal_pending(&cipher, &codes, flow).unwrap();
        assert!(!sealed.to_string().contains(&codes[0]));
        assert_eq!(open_pending(&cipher, &sealed, flow).unwrap(), codes);
        assert!(open_pending(&cipher, &sealed, Id::new_v7()).is_none());
    }
}
