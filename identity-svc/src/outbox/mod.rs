//! The transactional outbox: notices to other systems, written in the same transaction as the
//! change that causes them and delivered by a background worker in every replica, so that
//! nothing is lost while the receiver is down or identity-svc restarts. Today it carries the
//! identity lifecycle web hook ([`crate::hooks`]). The same [`Worker`] (through [`Queue`]) also
//! drains the courier's `courier_messages` ([`crate::courier`]), with the same counters.
//!
//! A message is `pending` until a delivery succeeds (`delivered`) or `outbox.max_attempts`
//! deliveries have failed (`abandoned`, kept for the operator with its last error). Between
//! attempts it waits with exponential backoff. A worker claims a batch by leasing it
//! (`locked_until`, `locked_by`; `FOR UPDATE SKIP LOCKED` on PostgreSQL), so replicas never
//! deliver one message at the same time, and a lease left by a stopped replica simply runs out.
//! A message can still be delivered twice (a replica stopping between the delivery and its
//! record), so deliveries must be idempotent.

pub mod store;
mod worker;

use std::time::Duration;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use service_kit::db::{Id, Json};
use service_kit::settings::{SettingsError, duration};

pub use store::MessageRow;
pub use worker::{CALL_TIMEOUT, Counters, Queue, Report, Topic, Waker, Worker};

/// The states a message goes through (`status`).
pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const ABANDONED: &str = "abandoned";

/// `outbox.*`: how the background worker delivers.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OutboxSettings {
    /// How often each replica looks for messages that are due (a new message is sent at once
    /// by the replica that wrote it).
    #[serde(with = "duration")]
    pub interval: Duration,
    /// Messages claimed per transaction.
    pub batch_size: u32,
    /// Deliveries tried before a message is abandoned.
    pub max_attempts: u32,
    /// The wait after the first failure; it doubles after each further failure…
    #[serde(with = "duration")]
    pub backoff: Duration,
    /// …up to this.
    #[serde(with = "duration")]
    pub max_backoff: Duration,
    /// How long a claimed batch is reserved for the replica that claimed it.
    #[serde(with = "duration")]
    pub lease: Duration,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        OutboxSettings {
            interval: Duration::from_secs(5),
            batch_size: 100,
            max_attempts: 20,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(3600),
            lease: Duration::from_secs(60),
        }
    }
}

impl OutboxSettings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        let invalid = SettingsError::invalid;
        if self.interval < Duration::from_millis(100) {
            return Err(invalid("outbox.interval", "must be at least 100ms"));
        }
        if !(1..=10_000).contains(&self.batch_size) {
            return Err(invalid("outbox.batch_size", "must be between 1 and 10000"));
        }
        if self.max_attempts == 0 {
            return Err(invalid("outbox.max_attempts", "must be at least 1"));
        }
        if self.backoff < Duration::from_millis(100) {
            return Err(invalid("outbox.backoff", "must be at least 100ms"));
        }
        if self.max_backoff < self.backoff {
            return Err(invalid(
                "outbox.max_backoff",
                "must be at least outbox.backoff",
            ));
        }
        // One delivery may take a few requests of up to `CALL_TIMEOUT` each.
        if self.lease < 3 * CALL_TIMEOUT {
            return Err(invalid(
                "outbox.lease",
                &format!("must be at least {}", duration::format(&(3 * CALL_TIMEOUT))),
            ));
        }
        Ok(())
    }

    /// The wait before the next attempt after `failures` failed ones (1 or more).
    pub fn retry_delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff)
    }
}

/// A new pending message of `topic`, due at once.
pub fn message(topic: &str, payload: serde_json::Value, now: NaiveDateTime) -> MessageRow {
    MessageRow {
        id: Id::new_v7(),
        topic: topic.to_string(),
        payload: Json(payload),
        status: PENDING.into(),
        attempts: 0,
        next_attempt_at: now,
        locked_until: None,
        locked_by: None,
        last_error: None,
        delivered_at: None,
        created_at: now,
        updated_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_the_maximum() {
        let settings = OutboxSettings {
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            ..Default::default()
        };
        let delays: Vec<u64> = (1..=8).map(|n| settings.retry_delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(settings.retry_delay(1000), Duration::from_secs(60));
    }

    #[test]
    fn settings_are_validated_by_key() {
        assert!(OutboxSettings::default().validate().is_ok());
        let cases = [
            (
                OutboxSettings {
                    batch_size: 0,
                    ..Default::default()
                },
                "outbox.batch_size",
            ),
            (
                OutboxSettings {
                    max_attempts: 0,
                    ..Default::default()
                },
                "outbox.max_attempts",
            ),
            (
                OutboxSettings {
                    max_backoff: Duration::from_millis(500),
                    ..Default::default()
                },
                "outbox.max_backoff",
            ),
            (
                OutboxSettings {
                    lease: Duration::from_secs(5),
                    ..Default::default()
                },
                "outbox.lease",
            ),
        ];
        for (settings, key) in cases {
            let err = settings.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
    }
}
