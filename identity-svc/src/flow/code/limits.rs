//! Limits on the codes the recovery and verification flows send (mail bombing, and code
//! guessing by asking for code after code). Each request for a code counts against two keys: the
//! address as typed (normalised as the lookup does) and the flow; past either limit within
//! `window`, the flow answers with message [`too_many_codes`] (4000920) and sends nothing. The count
//! is the same whether or not an account has the address, and so is the answer: nothing tells
//! them apart. Counted in the database (table `code_send_limits`, keyed hashes only), so every
//! replica shares the counts.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use service_kit::db::{AnyConnection, Id};
use service_kit::settings::{SettingsError, duration};
use sha2::Sha256;
use shared_types::flow::UiText;

use super::Kind;
use crate::db::schema_code_limits::code_send_limits as limits;
use crate::error::ApiError;
use crate::state::AppState;

/// `selfservice.flows.{recovery,verification}.send_limits.*` (Olympus' own; Kratos leaves this
/// to a rate-limiting proxy).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CodeSendLimits {
    /// Codes one address may be sent within `window`, over all flows; 0 turns the limit off.
    pub max_per_address: u32,
    /// Codes one flow may send within `window` (the first and each "send again"); 0: off.
    pub max_per_flow: u32,
    #[serde(with = "duration")]
    pub window: Duration,
}

impl Default for CodeSendLimits {
    fn default() -> Self {
        CodeSendLimits {
            max_per_address: 5,
            max_per_flow: 3,
            window: Duration::from_secs(3600),
        }
    }
}

impl CodeSendLimits {
    pub fn validate(&self, kind: Kind) -> Result<(), SettingsError> {
        if self.window < Duration::from_secs(1) || self.window > Duration::from_secs(7 * 24 * 3600)
        {
            return Err(SettingsError::invalid(
                format!("selfservice.flows.{}.send_limits.window", kind.name()),
                "must be between 1s and 168h",
            ));
        }
        Ok(())
    }
}

/// Olympus' own id (Kratos leaves this to a proxy): no code was sent because too many were.
/// The same whether or not an account has the address.
pub fn too_many_codes(minutes: i64) -> UiText {
    let unit = if minutes == 1 { "minute" } else { "minutes" };
    UiText {
        id: 4000920,
        text: format!("Too many codes were sent; try again in {minutes} {unit}."),
        kind: "error".into(),
        context: Some(serde_json::json!({ "retry_after_minutes": minutes })),
    }
}

fn key(secret: &[u8], kind: Kind, what: &str, value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(b"code-send:");
    mac.update(kind.name().as_bytes());
    mac.update(b":");
    mac.update(what.as_bytes());
    mac.update(b":");
    mac.update(value.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Counts a request for a code to `address` in `flow`. `Some(minutes)` when a limit is
/// reached: the caller sends nothing and says to try again in that many minutes.
pub async fn count_send(
    state: &AppState,
    kind: Kind,
    flow: Id,
    address: &str,
    now: DateTime<Utc>,
) -> Result<Option<i64>, ApiError> {
    let config = &super::handlers::config(state, kind).send_limits;
    let secret = state.settings.settings.secrets.cookie.current().expose();
    let address = crate::identity::normalize_identifier(address);
    let mut keys: Vec<(String, i32)> = Vec::new();
    let limit = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    if config.max_per_address > 0 {
        let k = key(secret.as_bytes(), kind, "address", &address);
        keys.push((k, limit(config.max_per_address)));
    }
    if config.max_per_flow > 0 {
        let k = key(secret.as_bytes(), kind, "flow", &flow.0.to_string());
        keys.push((k, limit(config.max_per_flow)));
    }
    if keys.is_empty() {
        return Ok(None);
    }
    // One order for every transaction, so that two never wait on each other's rows.
    keys.sort();
    let window = chrono::Duration::from_std(config.window).unwrap_or(chrono::Duration::MAX);
    let at = now.naive_utc();
    state
        .db
        .write(move |c| {
            c.transaction(|c| {
                let mut wait: Option<i64> = None;
                for (key, max) in &keys {
                    let (start, sends) = count(c, key, at, window)?;
                    if sends > *max {
                        let left = (start + window - at).num_seconds().max(1);
                        let minutes = (left + 59) / 60;
                        wait = Some(wait.map_or(minutes, |w| w.max(minutes)));
                    }
                }
                Ok::<_, diesel::result::Error>(wait)
            })
            .map_err(ApiError::from)
        })
        .await
}

/// Adds one send to `key` (inside a transaction), starting a new window when the last one is
/// over; answers the window's start and its count with this send.
fn count(
    c: &mut AnyConnection,
    key: &str,
    at: NaiveDateTime,
    window: chrono::Duration,
) -> QueryResult<(NaiveDateTime, i32)> {
    let row = (
        limits::key_hash.eq(key),
        limits::window_start.eq(at),
        limits::sends.eq(0),
    );
    // diesel's ON CONFLICT clauses are per backend, so the query is built for each.
    match c {
        AnyConnection::Postgresql(c) => diesel::insert_into(limits::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
        AnyConnection::Sqlite(c) => diesel::insert_into(limits::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    diesel::update(
        limits::table
            .find(key)
            .filter(limits::window_start.le(at - window)),
    )
    .set((limits::window_start.eq(at), limits::sends.eq(0)))
    .execute(c)?;
    diesel::update(limits::table.find(key))
        .set(limits::sends.eq(limits::sends + 1))
        .returning((limits::window_start, limits::sends))
        .get_result(c)
}

/// For the janitor: rows whose window began before `window_cutoff`. Keys are selected with LIMIT
/// and deleted by key (portable).
pub fn delete_stale(
    c: &mut AnyConnection,
    limit: i64,
    window_cutoff: NaiveDateTime,
) -> QueryResult<usize> {
    let keys: Vec<String> = limits::table
        .filter(limits::window_start.lt(window_cutoff))
        .select(limits::key_hash)
        .limit(limit)
        .load(c)?;
    diesel::delete(limits::table.filter(limits::key_hash.eq_any(&keys))).execute(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_keyed_hashes_apart_by_kind_and_what() {
        let a = key(b"secret", Kind::Recovery, "address", "ada@example.com");
        assert!(!a.contains("ada"));
        assert_ne!(
            a,
            key(b"secret", Kind::Verification, "address", "ada@example.com")
        );
        assert_ne!(a, key(b"secret", Kind::Recovery, "flow", "ada@example.com"));
        assert_ne!(
            a,
            key(b"other", Kind::Recovery, "address", "ada@example.com")
        );
    }

    #[test]
    fn the_window_is_bounded() {
        let mut limits = CodeSendLimits::default();
        assert!(limits.validate(Kind::Recovery).is_ok());
        limits.window = Duration::ZERO;
        let err = limits.validate(Kind::Recovery).unwrap_err().to_string();
        assert!(
            err.contains("selfservice.flows.recovery.send_limits.window"),
            "{err}"
        );
    }
}
