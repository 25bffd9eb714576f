//! Brute-force protection of password sign-in (IF-05), kept in the database so that it holds
//! across replicas. Each password check counts against two keys: the normalised identifier and
//! the client's address (the peer, or `X-Forwarded-For` when the peer is a trusted proxy). An
//! attempt counts as a failure until it succeeds, so a burst of concurrent guesses cannot slip
//! past the limit while their hashes run; a success clears the identifier's count and gives the
//! address its attempt back. Past a key's limit within `window` the key is locked for `lockout`:
//! every attempt under it is refused before any password hash runs, with the same answer whether
//! or not the identifier exists. Keys are stored as keyed hashes, never as identifiers or
//! addresses.

pub mod handlers;
pub mod store;

use std::net::IpAddr;

use service_kit::net::TrustedProxies;
use std::time::Duration;

use actix_web::HttpRequest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use service_kit::db::Db;
use service_kit::settings::{SettingsError, duration};
use sha2::Sha256;

use crate::error::ApiError;

const KEY: &str = "selfservice.flows.login.brute_force";

/// `selfservice.flows.login.brute_force.*` (Olympus' own; Kratos has no brute-force protection).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BruteForceSettings {
    /// Failed sign-ins for one identifier within `window` before it is locked; 0 turns this off.
    pub max_failures_per_identifier: u32,
    /// Failed sign-ins from one client address within `window` before it is locked; higher,
    /// because many people may share one address. 0 turns this off.
    pub max_failures_per_address: u32,
    #[serde(with = "duration")]
    pub window: Duration,
    #[serde(with = "duration")]
    pub lockout: Duration,
    /// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<String>,
}

impl Default for BruteForceSettings {
    fn default() -> Self {
        BruteForceSettings {
            max_failures_per_identifier: 10,
            max_failures_per_address: 100,
            window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(15 * 60),
            trusted_proxies: Vec::new(),
        }
    }
}

impl BruteForceSettings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        for (name, value) in [("window", self.window), ("lockout", self.lockout)] {
            if value < Duration::from_secs(1) || value > Duration::from_secs(7 * 24 * 3600) {
                return Err(SettingsError::invalid(
                    format!("{KEY}.{name}"),
                    "must be between 1s and 168h",
                ));
            }
        }
        self.proxies().map(|_| ())
    }

    fn proxies(&self) -> Result<TrustedProxies, SettingsError> {
        TrustedProxies::parse(&self.trusted_proxies, &format!("{KEY}.trusted_proxies"))
    }
}

/// The brute-force policy of this service, built from validated settings.
#[derive(Clone)]
pub struct Throttle {
    /// HMAC key of the stored key hashes.
    key: Vec<u8>,
    per_identifier: i32,
    per_address: i32,
    window: chrono::Duration,
    lockout: chrono::Duration,
    trusted: TrustedProxies,
}

impl Throttle {
    /// From settings that passed `Settings::validate`.
    pub fn new(settings: &crate::config::Settings) -> Self {
        let brute_force = &settings.selfservice.flows.login.brute_force;
        let limit = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        let span = |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        Throttle {
            key: settings
                .secrets
                .cookie
                .current()
                .expose()
                .as_bytes()
                .to_vec(),
            per_identifier: limit(brute_force.max_failures_per_identifier),
            per_address: limit(brute_force.max_failures_per_address),
            window: span(brute_force.window),
            lockout: span(brute_force.lockout),
            trusted: brute_force
                .proxies()
                .expect("trusted proxies are checked by Settings::validate"),
        }
    }

    fn hash(&self, kind: &str, value: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(b"login-throttle:");
        mac.update(kind.as_bytes());
        mac.update(b":");
        mac.update(value.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// The stored key of an identifier as typed at sign-in (normalised as sign-in looks it up).
    pub fn identifier_key(&self, identifier: &str) -> String {
        self.hash(
            "identifier",
            &crate::identity::normalize_identifier(identifier),
        )
    }

    pub fn address_key(&self, address: IpAddr) -> String {
        self.hash("address", &service_kit::net::counted(address))
    }

    /// The client address `req` counts against.
    pub fn client_address(&self, req: &HttpRequest) -> Option<IpAddr> {
        self.trusted.client_address(req)
    }

    /// A password check of `identifier` by the client of `req`, not yet counted.
    pub fn attempt(&self, req: &HttpRequest, identifier: &str) -> Attempt {
        let mut keys = Vec::new();
        if self.per_identifier > 0 {
            keys.push(Counted {
                key: self.identifier_key(identifier),
                max: self.per_identifier,
                identifier: true,
            });
        }
        if let Some(address) = self.client_address(req).filter(|_| self.per_address > 0) {
            keys.push(Counted {
                key: self.address_key(address),
                max: self.per_address,
                identifier: false,
            });
        }
        // One order for every transaction, so that two never wait on each other's rows.
        keys.sort_by(|a, b| a.key.cmp(&b.key));
        Attempt {
            keys,
            window: self.window,
            lockout: self.lockout,
        }
    }
}

#[derive(Clone)]
struct Counted {
    key: String,
    max: i32,
    identifier: bool,
}

/// One password check under the throttle: [`Attempt::begin`] before the hash, and
/// [`Attempt::succeeded`] when it signed someone in.
pub struct Attempt {
    keys: Vec<Counted>,
    window: chrono::Duration,
    lockout: chrono::Duration,
}

impl Attempt {
    /// Counts the attempt against its keys. `Some(until)` when a key is locked (or this attempt
    /// locks it): the caller refuses without checking the password.
    pub async fn begin(
        &self,
        db: &Db,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, ApiError> {
        if self.keys.is_empty() {
            return Ok(None);
        }
        let (keys, window, lockout) = (self.keys.clone(), self.window, self.lockout);
        let locks = db
            .write(move |c| {
                use diesel::Connection;
                c.transaction(|c| {
                    let mut locks = Vec::new();
                    for k in &keys {
                        if let Some(lock) =
                            store::count_attempt(c, &k.key, now, window, lockout, k.max)?
                        {
                            locks.push((lock, k.identifier));
                        }
                    }
                    Ok::<_, diesel::result::Error>(locks)
                })
                .map_err(ApiError::from)
            })
            .await?;
        for (lock, identifier) in &locks {
            if lock.started {
                // Neither the identifier nor the address is logged: the key is enough to act.
                let key = if *identifier { "identifier" } else { "address" };
                tracing::warn!(key, until = %lock.until.and_utc(), "sign-in locked after repeated failures");
            }
        }
        Ok(locks.iter().map(|(lock, _)| lock.until.and_utc()).max())
    }

    /// Clears the identifier's count and gives the address back this attempt. A failure here is
    /// logged, not answered: the person did sign in.
    pub async fn succeeded(self, db: &Db) {
        let keys = self.keys;
        if keys.is_empty() {
            return;
        }
        let result = db
            .write(move |c| {
                use diesel::Connection;
                c.transaction(|c| {
                    for k in &keys {
                        if k.identifier {
                            store::delete(c, std::slice::from_ref(&k.key))?;
                        } else {
                            store::give_back(c, &k.key)?;
                        }
                    }
                    Ok::<_, diesel::result::Error>(())
                })
                .map_err(ApiError::from)
            })
            .await;
        if let Err(error) = result {
            tracing::warn!(%error, "could not reset the brute-force counters after a sign-in");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_by_key() {
        let mut settings = BruteForceSettings {
            trusted_proxies: vec!["10.0.0.0/8".into(), "proxy.internal".into()],
            ..Default::default()
        };
        let err = settings.validate().unwrap_err().to_string();
        assert!(err.contains("brute_force.trusted_proxies[1]"), "{err}");
        settings.trusted_proxies.pop();
        assert!(settings.validate().is_ok());
        settings.lockout = Duration::ZERO;
        let err = settings.validate().unwrap_err().to_string();
        assert!(err.contains("brute_force.lockout"), "{err}");
    }
}
