//! Opaque bearer tokens: `<prefix><key>.<signature>`, where `key` is 32 random bytes (base64url)
//! and `signature` is a truncated HMAC-SHA256 of `<prefix><key>` under `secrets.system` (every
//! configured value verifies, the first signs). The signature is checked before any database
//! lookup, so a forged or garbled token costs no query; the database stores only a keyed hash of
//! the whole token (`Purpose::AccessToken` / `Purpose::RefreshToken`), never the value.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

use crate::keyed::{KeyedHasher, Purpose};

pub const ACCESS_TOKEN_PREFIX: &str = "oly_at_";
pub const REFRESH_TOKEN_PREFIX: &str = "oly_rt_";

/// base64url of 32 bytes.
const KEY_LEN: usize = 43;
/// The first 22 base64url characters of the HMAC: 132 bits.
const SIGNATURE_LEN: usize = 22;

/// A new signed token with `prefix` (`oly_at_`, `oly_rt_`).
pub fn mint(hasher: &KeyedHasher, prefix: &str) -> String {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let unsigned = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(key));
    let signature = hasher.hash(Purpose::TokenSignature, &unsigned);
    format!("{unsigned}.{}", &signature[..SIGNATURE_LEN])
}

/// Whether `token` is a well-formed token with `prefix` signed under one of the configured
/// secrets. Pure computation: no database.
pub fn verify(hasher: &KeyedHasher, prefix: &str, token: &str) -> bool {
    let Some(rest) = token.strip_prefix(prefix) else {
        return false;
    };
    let Some((key, signature)) = rest.split_once('.') else {
        return false;
    };
    if key.len() != KEY_LEN || signature.len() != SIGNATURE_LEN || !is_base64url(key) {
        return false;
    }
    let unsigned = &token[..prefix.len() + KEY_LEN];
    hasher
        .candidates(Purpose::TokenSignature, unsigned)
        .iter()
        .any(|expected| {
            super::constant_time_eq(&expected.as_bytes()[..SIGNATURE_LEN], signature.as_bytes())
        })
}

fn is_base64url(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use service_kit::settings::{Secret, SecretList};

    fn hasher(secret: char) -> KeyedHasher {
        KeyedHasher::new(&SecretList::new([Secret::new(
            secret.to_string().repeat(32),
        )]))
    }

    /// TK-14: prefix, 256-bit random key, signature; distinct every time.
    #[test]
    fn minted_tokens_verify_and_are_unique() {
        let h = hasher('a');
        let (a, b) = (mint(&h, ACCESS_TOKEN_PREFIX), mint(&h, ACCESS_TOKEN_PREFIX));
        assert_ne!(a, b);
        assert_eq!(
            a.len(),
            ACCESS_TOKEN_PREFIX.len() + KEY_LEN + 1 + SIGNATURE_LEN
        );
        assert!(verify(&h, ACCESS_TOKEN_PREFIX, &a));
        assert!(
            !verify(&h, REFRESH_TOKEN_PREFIX, &a),
            "the prefix is signed"
        );
    }

    /// Forged, mutated and foreign tokens fail without a lookup.
    #[test]
    fn tampered_tokens_do_not_verify() {
        let h = hasher('a');
        let token = mint(&h, REFRESH_TOKEN_PREFIX);
        let relabelled = token.replacen(REFRESH_TOKEN_PREFIX, ACCESS_TOKEN_PREFIX, 1);
        let mut flipped = token.clone();
        let last = flipped.pop().unwrap();
        flipped.push(if last == 'A' { 'B' } else { 'A' });
        for bad in [
            relabelled.as_str(),
            flipped.as_str(),
            &token[..token.len() - 1],
            &format!("{token}x"),
            "oly_rt_",
            "oly_rt_.",
            "garbage",
            "",
        ] {
            assert!(!verify(&h, REFRESH_TOKEN_PREFIX, bad), "{bad}");
            assert!(!verify(&h, ACCESS_TOKEN_PREFIX, bad), "{bad}");
        }
        assert!(!verify(&hasher('b'), REFRESH_TOKEN_PREFIX, &token));
    }

    /// Rotation: a token signed under an older secret still verifies.
    #[test]
    fn older_secrets_still_verify() {
        let old = hasher('o');
        let token = mint(&old, ACCESS_TOKEN_PREFIX);
        let rotated = KeyedHasher::new(&SecretList::new([
            Secret::new("n".repeat(32)),
            Secret::new("o".repeat(32)),
        ]));
        assert!(verify(&rotated, ACCESS_TOKEN_PREFIX, &token));
    }
}
