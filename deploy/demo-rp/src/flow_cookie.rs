//! The sign-in in progress (state, nonce, PKCE verifier) carried between `/login` and
//! `/callback` in one cookie, HMAC-signed with a key that lives only as long as the process.
//! Nothing is stored server-side, so a restart simply makes the user start again.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub const COOKIE_NAME: &str = "olympus_demo_rp_flow";

/// How long a sign-in may take before the cookie is refused.
pub const MAX_AGE_SECS: i64 = 15 * 60;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingSignIn {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// Unix seconds when `/login` made it.
    pub created_at: i64,
}

pub struct FlowCookieKey(Vec<u8>);

impl FlowCookieKey {
    /// 32 random bytes, new for every process.
    pub fn random() -> Self {
        FlowCookieKey(rand::random::<[u8; 32]>().to_vec())
    }

    fn mac(&self) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"olympus-demo-rp-flow:");
        mac
    }

    /// `base64url(json).base64url(hmac)`.
    pub fn seal(&self, pending: &PendingSignIn) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(pending).expect("serialisable"));
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{payload}.{tag}")
    }

    /// The pending sign-in when the signature holds and it is not older than
    /// [`MAX_AGE_SECS`] at `now`.
    pub fn open(&self, value: &str, now: i64) -> Option<PendingSignIn> {
        let (payload, tag) = value.split_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        mac.verify_slice(&tag).ok()?;
        let pending: PendingSignIn =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        let age = now - pending.created_at;
        (0..=MAX_AGE_SECS).contains(&age).then_some(pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending() -> PendingSignIn {
        PendingSignIn {
            state: "s".into(),
            nonce: "n".into(),
            pkce_verifier: "v".into(),
            created_at: 1_000,
        }
    }

    #[test]
    fn a_sealed_value_opens_with_the_same_key_only() {
        let key = FlowCookieKey::random();
        let sealed = key.seal(&pending());
        assert_eq!(key.open(&sealed, 1_010), Some(pending()));
        assert_eq!(FlowCookieKey::random().open(&sealed, 1_010), None);
    }

    #[test]
    fn a_tampered_or_expired_value_is_refused() {
        let key = FlowCookieKey::random();
        let sealed = key.seal(&pending());
        let (payload, tag) = sealed.split_once('.').unwrap();
        let mut other = pending();
        other.state = "attacker".into();
        let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&other).unwrap());
        assert_eq!(key.open(&format!("{forged}.{tag}"), 1_010), None);
        assert_eq!(key.open(payload, 1_010), None);
        assert_eq!(key.open(&sealed, 1_000 + MAX_AGE_SECS + 1), None);
    }
}
