//! The device authorization grant (RFC 8628): `POST /oauth2/device/auth` hands a device a
//! device code and a user code; the user enters the user code in a browser (a device challenge,
//! answered by the UI on the admin API), goes through the normal login and consent challenges,
//! and the device, polling the token endpoint, gets its tokens once.
//!
//! Device codes (`oly_dc_…`, 238 bits) and user codes are stored only as keyed hashes. User
//! codes are 8 letters from a 20-letter alphabet without vowels or look-alikes (34.5 bits),
//! shown as `XXXX-XXXX` and compared after normalisation. Guessing is bounded by attempt
//! counting: a device challenge dies after [`MAX_USER_CODE_ATTEMPTS`] wrong user codes, every
//! challenge needs a browser round trip to the public listener, and a user code lives
//! `ttl.device_user_code` and works once.

pub mod authorization;
mod decide;
pub mod error;
pub mod handlers;
pub mod poll;
pub mod store;
mod verify;

use rand::Rng;
use serde::{Deserialize, Serialize};

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
pub const DEVICE_CODE_PREFIX: &str = "oly_dc_";
pub const DEVICE_CHALLENGE_PREFIX: &str = "oly_dch_";
pub const DEVICE_VERIFIER_PREFIX: &str = "oly_dvf_";

/// Consonants without the look-alikes of digits and of each other (RFC 8628 §6.1's example set).
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
const USER_CODE_LEN: usize = 8;
/// Wrong user codes a device challenge tolerates before it is spent.
pub const MAX_USER_CODE_ATTEMPTS: i32 = 5;
/// RFC 8628 §3.5: each `slow_down` adds this to the interval.
pub const SLOW_DOWN_STEP_SECS: i32 = 5;

/// Device code states.
pub const PENDING: &str = "pending";
pub const CLAIMED: &str = "claimed";
pub const APPROVED: &str = "approved";
pub const DENIED: &str = "denied";
pub const USED: &str = "used";

/// Device challenge states.
pub const CHALLENGE_OPEN: &str = "open";
pub const CHALLENGE_DECIDED: &str = "decided";
pub const CHALLENGE_USED: &str = "used";
/// Too many wrong user codes.
pub const CHALLENGE_SPENT: &str = "spent";

/// What a device asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceRequest {
    pub scope: Vec<String>,
    pub audience: Vec<String>,
}

/// A new user code, formatted `XXXX-XXXX`.
pub fn new_user_code() -> String {
    let mut rng = rand::rng();
    let letters: String = (0..USER_CODE_LEN)
        .map(|_| USER_CODE_ALPHABET[rng.random_range(0..USER_CODE_ALPHABET.len())] as char)
        .collect();
    format!("{}-{}", &letters[..4], &letters[4..])
}

/// The canonical form of a user code as typed: upper case, without separators and spaces;
/// `None` when it cannot be a user code (so nothing is looked up).
pub fn normalise_user_code(typed: &str) -> Option<String> {
    if typed.len() > 64 {
        return None;
    }
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)))
        .then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_short_unambiguous_and_normalised() {
        let code = new_user_code();
        assert_eq!(code.len(), 9);
        assert_eq!(&code[4..5], "-");
        let normal = normalise_user_code(&code).unwrap();
        assert_eq!(normal, code.replace('-', ""));
        assert_eq!(
            normalise_user_code(&code.to_lowercase().replace('-', " ")),
            Some(normal)
        );
        for bad in [
            "",
            "BCDF-GHJ",
            "BCDF-GHJKL",
            "ABCD-EFGH",
            "BCDF-GHJ0",
            "BCDF-GHJ\u{0}",
        ] {
            assert_eq!(normalise_user_code(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn user_codes_differ() {
        let codes: std::collections::HashSet<String> = (0..50).map(|_| new_user_code()).collect();
        assert!(codes.len() > 45);
    }
}
