//! Keyed hashing of every secret oauth2-svc stores a fingerprint of: client secrets, codes,
//! tokens, challenges and verifiers. HMAC-SHA256 under `secrets.system`; a purpose tag keeps a
//! value of one kind from matching a stored value of another. The first secret makes new hashes;
//! lookups try every configured secret, so rotation keeps old values valid.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::Rng;
use rand::distr::Alphanumeric;
use service_kit::settings::SecretList;
use sha2::Sha256;

/// What a hashed value is, so that equal strings of different kinds never collide.
#[derive(Clone, Copy, Debug)]
pub enum Purpose {
    ClientSecret,
    AuthorizationCode,
    AccessToken,
    RefreshToken,
    /// The HMAC inside an opaque token (`<prefix><key>.<signature>`), checked before any lookup.
    TokenSignature,
    Challenge,
    Verifier,
    /// RFC 8628 device and user codes (the user code normalised), and RFC 7523 assertion ids.
    DeviceCode,
    UserCode,
    AssertionId,
    Browser,
    SessionCookie,
    /// RFC 7592 registration access tokens, and RFC 7591 initial access tokens compared.
    RegistrationToken,
    InitialAccessToken,
    /// A (client_id, client address) pair whose failed authentications are counted.
    ClientAuthThrottle,
}

impl Purpose {
    fn tag(self) -> &'static [u8] {
        match self {
            Purpose::ClientSecret => b"client-secret:",
            Purpose::AuthorizationCode => b"authorization-code:",
            Purpose::AccessToken => b"access-token:",
            Purpose::RefreshToken => b"refresh-token:",
            Purpose::TokenSignature => b"token-signature:",
            Purpose::Challenge => b"challenge:",
            Purpose::Verifier => b"verifier:",
            Purpose::DeviceCode => b"device-code:",
            Purpose::UserCode => b"user-code:",
            Purpose::AssertionId => b"assertion-id:",
            Purpose::Browser => b"browser:",
            Purpose::SessionCookie => b"session-cookie:",
            Purpose::RegistrationToken => b"registration-token:",
            Purpose::InitialAccessToken => b"initial-access-token:",
            Purpose::ClientAuthThrottle => b"client-auth-throttle:",
        }
    }
}

pub struct KeyedHasher {
    keys: Vec<Vec<u8>>,
}

impl KeyedHasher {
    pub fn new(secrets: &SecretList) -> Self {
        KeyedHasher {
            keys: secrets
                .all()
                .iter()
                .map(|s| s.expose().as_bytes().to_vec())
                .collect(),
        }
    }

    fn mac(key: &[u8], purpose: Purpose, value: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
        mac.update(purpose.tag());
        mac.update(value.as_bytes());
        mac
    }

    /// The stored form under the current secret: base64url of the HMAC.
    pub fn hash(&self, purpose: Purpose, value: &str) -> String {
        URL_SAFE_NO_PAD.encode(
            Self::mac(&self.keys[0], purpose, value)
                .finalize()
                .into_bytes(),
        )
    }

    /// The stored forms under every configured secret, current first, for lookups.
    pub fn candidates(&self, purpose: Purpose, value: &str) -> Vec<String> {
        self.keys
            .iter()
            .map(|key| {
                URL_SAFE_NO_PAD.encode(Self::mac(key, purpose, value).finalize().into_bytes())
            })
            .collect()
    }

    /// Which configured secret (0 = current) made `stored` from `value`, compared in constant
    /// time; a match under an older secret tells the caller to re-hash under the current one.
    pub fn verify(&self, purpose: Purpose, value: &str, stored: &str) -> Option<usize> {
        let stored = URL_SAFE_NO_PAD.decode(stored).ok()?;
        self.keys
            .iter()
            .position(|key| Self::mac(key, purpose, value).verify_slice(&stored).is_ok())
    }
}

/// A new bearer value: a prefix naming its kind (`oly_ac_`, `oly_at_`, …) and 40 random
/// alphanumerics (238 bits).
pub fn new_token(prefix: &str) -> String {
    let body: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    format!("{prefix}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use service_kit::settings::Secret;

    #[test]
    fn verifies_under_current_and_rotated_secrets() {
        let old = KeyedHasher::new(&SecretList::new([Secret::new("o".repeat(32))]));
        let stored = old.hash(Purpose::ClientSecret, "client-secret");
        let rotated = KeyedHasher::new(&SecretList::new([
            Secret::new("n".repeat(32)),
            Secret::new("o".repeat(32)),
        ]));
        assert_eq!(
            rotated.verify(Purpose::ClientSecret, "client-secret", &stored),
            Some(1)
        );
        let fresh = rotated.hash(Purpose::ClientSecret, "client-secret");
        assert_eq!(
            rotated.verify(Purpose::ClientSecret, "client-secret", &fresh),
            Some(0)
        );
        assert_eq!(
            rotated.verify(Purpose::ClientSecret, "wrong", &stored),
            None
        );
        assert!(
            rotated
                .candidates(Purpose::ClientSecret, "client-secret")
                .contains(&stored)
        );
        assert!(!stored.contains("client-secret"));
    }

    #[test]
    fn purposes_do_not_collide() {
        let hasher = KeyedHasher::new(&SecretList::new([Secret::new("k".repeat(32))]));
        assert_ne!(
            hasher.hash(Purpose::AccessToken, "x"),
            hasher.hash(Purpose::Challenge, "x")
        );
    }

    #[test]
    fn tokens_carry_their_prefix_and_entropy() {
        let (a, b) = (new_token("oly_ac_"), new_token("oly_ac_"));
        assert!(a.starts_with("oly_ac_") && a.len() == 47);
        assert_ne!(a, b);
    }
}
