//! Secrets at rest (oauth2-svc's private keys, identity-svc's TOTP secrets and upstream tokens):
//! AES-256-GCM under a key derived with HKDF-SHA256 from a configured secret. The stored text is
//! base64url(96-bit random nonce ‖ ciphertext ‖ tag); beside it the row keeps the fingerprint of
//! the secret that sealed it, so that after a rotation the right secret is tried and the row can be
//! re-sealed under the first one.

use crate::settings::SecretList;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;

const KEY_INFO: &[u8] = b"aes-256-gcm key v1";
const FINGERPRINT_INFO: &[u8] = b"secret fingerprint v1";
const NONCE_LEN: usize = 12;

struct DerivedKey {
    fingerprint: String,
    aead: Aes256Gcm,
}

/// One derived key per configured secret, in configuration order (the first seals).
pub struct KeyCipher {
    keys: Vec<DerivedKey>,
}

/// A sealed private key and the fingerprint of the secret that sealed it.
pub struct Sealed {
    pub ciphertext: String,
    pub fingerprint: String,
}

impl KeyCipher {
    /// `salt` separates this use of the secrets from their other uses (HMACs, other ciphers), so
    /// the same secret never yields the same key twice; it is fixed per use, e.g.
    /// `b"olympus/oauth2-svc/jwk"`.
    pub fn new(secrets: &SecretList, salt: &[u8]) -> Self {
        let keys = secrets
            .all()
            .iter()
            .map(|secret| {
                let hkdf = Hkdf::<Sha256>::new(Some(salt), secret.expose().as_bytes());
                let mut key = [0u8; 32];
                let mut fingerprint = [0u8; 12];
                hkdf.expand(KEY_INFO, &mut key)
                    .and_then(|()| hkdf.expand(FINGERPRINT_INFO, &mut fingerprint))
                    .expect("HKDF-SHA256 expands to 44 bytes");
                DerivedKey {
                    fingerprint: URL_SAFE_NO_PAD.encode(fingerprint),
                    aead: Aes256Gcm::new(&key.into()),
                }
            })
            .collect();
        KeyCipher { keys }
    }

    /// The fingerprint of the first (sealing) secret.
    pub fn current_fingerprint(&self) -> &str {
        &self.keys[0].fingerprint
    }

    /// Seals `plaintext` under the first secret; `aad` binds the ciphertext to its row.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> anyhow::Result<Sealed> {
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = key
            .aead
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| anyhow::anyhow!("AES-GCM encryption failed"))?;
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&sealed);
        Ok(Sealed {
            ciphertext: URL_SAFE_NO_PAD.encode(stored),
            fingerprint: key.fingerprint.clone(),
        })
    }

    /// Opens a stored ciphertext with the secret `fingerprint` names. Returns the plaintext and
    /// the index of that secret in the list (0 = current), or `None` when no configured
    /// secret has that fingerprint or the ciphertext does not authenticate.
    pub fn open(&self, fingerprint: &str, stored: &str, aad: &[u8]) -> Option<(Vec<u8>, usize)> {
        let index = self
            .keys
            .iter()
            .position(|k| k.fingerprint == fingerprint)?;
        let stored = URL_SAFE_NO_PAD.decode(stored).ok()?;
        if stored.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = stored.split_at(NONCE_LEN);
        let plaintext = self.keys[index]
            .aead
            .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad })
            .ok()?;
        Some((plaintext, index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Secret;

    fn cipher(secrets: &[&str]) -> KeyCipher {
        KeyCipher::new(
            &SecretList::new(secrets.iter().map(|s| Secret::new(s.repeat(32)))),
            b"test",
        )
    }

    #[test]
    fn seals_under_the_first_secret_and_opens_under_any() {
        let old = cipher(&["o"]);
        let sealed = old.seal(b"private key", b"kid-1").unwrap();
        assert_eq!(sealed.fingerprint, old.current_fingerprint());
        assert!(!sealed.ciphertext.contains("private"));

        let rotated = cipher(&["n", "o"]);
        assert_ne!(rotated.current_fingerprint(), sealed.fingerprint);
        let (plain, index) = rotated
            .open(&sealed.fingerprint, &sealed.ciphertext, b"kid-1")
            .unwrap();
        assert_eq!((plain.as_slice(), index), (&b"private key"[..], 1));

        assert!(
            cipher(&["x"])
                .open(&sealed.fingerprint, &sealed.ciphertext, b"kid-1")
                .is_none()
        );
        assert!(
            rotated
                .open(&sealed.fingerprint, &sealed.ciphertext, b"kid-2")
                .is_none(),
            "aad binds the row"
        );
    }

    #[test]
    fn salts_separate_keys() {
        let secrets = SecretList::new([Secret::new("s".repeat(32))]);
        let (a, b) = (
            KeyCipher::new(&secrets, b"a"),
            KeyCipher::new(&secrets, b"b"),
        );
        assert_ne!(a.current_fingerprint(), b.current_fingerprint());
        let sealed = a.seal(b"k", b"").unwrap();
        assert!(
            b.open(a.current_fingerprint(), &sealed.ciphertext, b"")
                .is_none()
        );
    }

    #[test]
    fn nonces_are_fresh() {
        let c = cipher(&["a"]);
        let (a, b) = (c.seal(b"k", b"").unwrap(), c.seal(b"k", b"").unwrap());
        assert_ne!(a.ciphertext, b.ciphertext);
    }
}
