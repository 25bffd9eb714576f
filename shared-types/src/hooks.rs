//! The identity lifecycle web hook: identity-svc's notice that an identity ended, POSTed as JSON
//! to `hooks.identity_lifecycle.url` with an HMAC signature, and read by its receiver (login-ui's
//! `POST /hooks/identity-lifecycle`). Olympus' own shape: Kratos has no such hook.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `sha256=<hex of HMAC-SHA256(secret, body)>`, over the body's exact bytes.
pub const SIGNATURE_HEADER: &str = "X-Olympus-Signature";

/// The prefix of the signature header's value (the MAC algorithm).
pub const SIGNATURE_PREFIX: &str = "sha256=";

/// The identity was deleted.
pub const IDENTITY_DELETED: &str = "identity.deleted";

/// The identity was deactivated (`state: inactive`). Receivers handle it; identity-svc does not
/// send it yet, having no way to change an identity's state.
pub const IDENTITY_DEACTIVATED: &str = "identity.deactivated";

/// The body of one notice. Receivers ignore events they do not know (answering success), so
/// that new events can be added without breaking them; unknown fields are ignored too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityLifecycleEvent {
    /// [`IDENTITY_DELETED`] or [`IDENTITY_DEACTIVATED`].
    pub event: String,
    pub identity_id: Uuid,
    /// When the change happened (not when this notice was sent: deliveries are retried).
    pub occurred_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_the_documented_shape() {
        let text = r#"{"event":"identity.deleted","identity_id":"01890a5d-ac96-774b-bcce-b302099a8057","occurred_at":"2026-12-01T10:00:00Z","later":1}"#;
        let event: IdentityLifecycleEvent = serde_json::from_str(text).unwrap();
        assert_eq!(event.event, IDENTITY_DELETED);
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            serde_json::json!({"event": "identity.deleted",
                "identity_id": "01890a5d-ac96-774b-bcce-b302099a8057",
                "occurred_at": "2026-12-01T10:00:00Z"})
        );
        let bad = r#"{"event":"identity.deleted","identity_id":"nope","occurred_at":"2026-12-01T10:00:00Z"}"#;
        assert!(serde_json::from_str::<IdentityLifecycleEvent>(bad).is_err());
    }
}
