//! Web hooks login-ui receives on its admin listener. Today one: identity-svc's identity
//! lifecycle hook (`POST /hooks/identity-lifecycle`). identity-svc knows nothing about OAuth2, so
//! login-ui, the glue, turns "this identity is gone" into oauth2-svc's revocation of that
//! subject (the subject at oauth2-svc is always the identity id: see the handoff).

pub mod handlers;

use hmac::{Hmac, Mac};
use service_kit::settings::SecretList;
use sha2::Sha256;
use shared_types::hooks::{IDENTITY_DEACTIVATED, IDENTITY_DELETED, SIGNATURE_PREFIX};

/// Whether `header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under any of `secrets`. The
/// MACs are compared in constant time (`Mac::verify_slice`).
pub fn signature_is_valid(secrets: &SecretList, header: Option<&str>, body: &[u8]) -> bool {
    let Some(signature) = header
        .and_then(|h| h.strip_prefix(SIGNATURE_PREFIX))
        .and_then(decode_hex)
    else {
        return false;
    };
    secrets.all().iter().any(|secret| {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(body);
        mac.verify_slice(&signature).is_ok()
    })
}

/// Lower- or upper-case hex of a SHA-256 MAC (32 bytes), or nothing.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Whether `event` ends the identity's OAuth2 grants. Events login-ui does not know are
/// acknowledged and ignored, so that identity-svc can add events before login-ui knows them.
pub fn ends_grants(event: &str) -> bool {
    matches!(event, IDENTITY_DELETED | IDENTITY_DEACTIVATED)
}

#[cfg(test)]
mod tests {
    use service_kit::settings::Secret;

    use super::*;

    fn sign(key: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(body);
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("sha256={hex}")
    }

    #[test]
    fn any_configured_secret_verifies_and_nothing_else_does() {
        let (old, new) = ("o".repeat(32), "n".repeat(32));
        let secrets = SecretList::new([Secret::new(new.clone()), Secret::new(old.clone())]);
        let body = br#"{"event":"identity.deleted"}"#;
        assert!(signature_is_valid(&secrets, Some(&sign(&new, body)), body));
        assert!(signature_is_valid(&secrets, Some(&sign(&old, body)), body));
        let upper = sign(&new, body).replace("sha256=", "").to_uppercase();
        assert!(signature_is_valid(
            &secrets,
            Some(&format!("sha256={upper}")),
            body
        ));

        let good = sign(&new, body);
        let mut last_wrong = good.clone();
        let flipped = if good.ends_with('0') { "1" } else { "0" };
        last_wrong.replace_range(good.len() - 1.., flipped);
        let rejected = [
            None,
            Some(String::new()),
            Some(sign(&"x".repeat(32), body)),
            Some(last_wrong),
            Some(good.replace("sha256=", "sha1=")),
            Some(good.replace("sha256=", "")),
            Some(good[..good.len() - 2].to_string()),
            Some(format!("{good}00")),
            Some(good.replace(&good[7..9], "zz")),
        ];
        for header in rejected {
            assert!(
                !signature_is_valid(&secrets, header.as_deref(), body),
                "{header:?}"
            );
        }
        assert!(
            !signature_is_valid(&secrets, Some(&good), b"{}"),
            "another body"
        );
        assert!(!signature_is_valid(
            &SecretList::default(),
            Some(&good),
            body
        ));
    }

    #[test]
    fn deletion_and_deactivation_end_grants() {
        assert!(ends_grants("identity.deleted"));
        assert!(ends_grants("identity.deactivated"));
        assert!(!ends_grants("identity.created"));
    }
}
