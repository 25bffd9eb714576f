//! Password hashing: argon2id with the configured cost, run off the async workers behind a
//! semaphore with a bounded wait queue, and a dummy hash for unknown identifiers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::anyhow;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::password_hash::{PasswordHasher as _, generate_salt};
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};
use service_kit::settings::{Secret, SettingsError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::hashes::StoredHash;

/// What a caller turned away by a full queue is told to wait.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// `hashers.*` (Kratos' key; only argon2 so far).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct HashersSettings {
    pub argon2: Argon2Settings,
}

/// `hashers.argon2.*`: Kratos' cost keys plus Olympus' concurrency limits.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Argon2Settings {
    /// Memory per hash, a size like `19MiB`, `19456KiB` or `128MB` (binary units, as in Kratos).
    pub memory: String,
    pub iterations: u32,
    pub parallelism: u32,
    /// Hashes computed at once; defaults to the number of cores.
    pub max_concurrent: Option<usize>,
    /// Callers that may wait for a free slot; past that, 503 with `Retry-After`.
    pub queue_depth: usize,
}

impl Default for Argon2Settings {
    fn default() -> Self {
        Argon2Settings {
            memory: "19MiB".into(),
            iterations: 2,
            parallelism: 1,
            max_concurrent: None,
            queue_depth: 64,
        }
    }
}

impl Argon2Settings {
    fn params(&self) -> Result<Params, SettingsError> {
        let key = |k: &str| format!("hashers.argon2.{k}");
        let memory =
            parse_kib(&self.memory).map_err(|e| SettingsError::invalid(key("memory"), e))?;
        Params::new(memory, self.iterations, self.parallelism, None).map_err(|e| {
            let name = match e {
                argon2::Error::TimeTooSmall => "iterations",
                argon2::Error::ThreadsTooFew | argon2::Error::ThreadsTooMany => "parallelism",
                _ => "memory",
            };
            SettingsError::invalid(key(name), format!("is not usable for argon2: {e}"))
        })
    }

    fn max_concurrent(&self) -> Result<usize, SettingsError> {
        match self.max_concurrent {
            Some(0) => Err(SettingsError::invalid(
                "hashers.argon2.max_concurrent",
                "must be at least 1",
            )),
            Some(n) => Ok(n),
            None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
        }
    }
}

/// A size like Kratos' (`19MiB`, `19456KiB`, `128MB`), in KiB. `KB`/`MB`/`GB` are binary, as in
/// Kratos; a bare number is refused because bytes and KiB are both plausible readings.
fn parse_kib(text: &str) -> Result<u32, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size like 19MiB or 19456KiB"))?;
    let bytes_per_unit: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "" => return Err(format!("`{text}` needs a unit, like 19MiB or 19456KiB")),
        other => return Err(format!("`{text}` has an unknown unit `{other}`")),
    };
    let bytes = number
        .checked_mul(bytes_per_unit)
        .ok_or_else(|| format!("`{text}` is too large"))?;
    if !bytes.is_multiple_of(1024) {
        return Err(format!("`{text}` is not a whole number of KiB"));
    }
    u32::try_from(bytes / 1024).map_err(|_| format!("`{text}` is too large"))
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("too many password checks in progress")]
    Busy { retry_after: Duration },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Hashes and verifies passwords. Cheap to clone: all clones share one semaphore and queue.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
    /// The policy new passwords must meet; travels with the hasher so that every place that
    /// hashes a new password checks the configured one.
    policy: super::PasswordPolicy,
    /// Counts argon2 computations for `/metrics` (`password_hashes_total`), when registered.
    hashes: Option<prometheus::IntCounter>,
}

struct Inner {
    params: Params,
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue_depth: usize,
    /// Verified against when the identifier is unknown (or its hash unusable).
    dummy: PasswordHash,
    /// argon2 computations started; lets tests see that the dummy path does real work.
    runs: AtomicU64,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.inner.params)
            .field("permits", &self.inner.permits.available_permits())
            .field("queue_depth", &self.inner.queue_depth)
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    pub fn new(settings: &Argon2Settings) -> Result<Self, SettingsError> {
        let params = settings.params()?;
        let permits = settings.max_concurrent()?;
        Ok(PasswordHasher {
            inner: Arc::new(Inner {
                dummy: dummy_hash(&params),
                params,
                permits: Arc::new(Semaphore::new(permits)),
                waiting: AtomicUsize::new(0),
                queue_depth: settings.queue_depth,
                runs: AtomicU64::new(0),
            }),
            policy: super::PasswordPolicy::default(),
            hashes: None,
        })
    }

    /// This hasher counting its computations on `counter`.
    pub fn with_counter(self, counter: prometheus::IntCounter) -> Self {
        PasswordHasher {
            hashes: Some(counter),
            ..self
        }
    }

    /// This hasher with `policy` instead of the default one.
    pub fn with_policy(self, policy: super::PasswordPolicy) -> Self {
        PasswordHasher { policy, ..self }
    }

    /// The policy new passwords must meet.
    pub fn policy(&self) -> &super::PasswordPolicy {
        &self.policy
    }

    /// argon2id PHC string with a fresh random salt.
    pub async fn hash(&self, password: Secret) -> Result<String, HashError> {
        let argon2 = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            self.inner.params.clone(),
        );
        self.run(move || {
            // The bytes as given: no trimming, case folding or truncation (IF-10).
            let hash = argon2
                .hash_password(password.expose().as_bytes())
                .map_err(|e| anyhow!("argon2 hashing failed: {e}"))?;
            Ok(hash.to_string())
        })
        .await
    }

    /// Verifies against `stored` (a PHC string); with `None` (unknown identifier) verifies against a
    /// dummy hash made at start with the same parameters and returns Ok(false), so timing does not
    /// reveal whether the identifier exists. A stored hash that does not parse returns Ok(false)
    /// and logs a warning.
    pub async fn verify(
        &self,
        password: Secret,
        stored: Option<String>,
    ) -> Result<bool, HashError> {
        let dummy = || StoredHash::Argon2(Box::new(self.inner.dummy.clone()));
        let (target, real) = match stored.as_deref().map(StoredHash::parse) {
            Some(Ok(hash)) => (hash, true),
            Some(Err(reason)) => {
                // The reason names the format only; the hash itself is never logged.
                tracing::warn!(%reason, "a stored password hash is unusable; treating as a mismatch");
                (dummy(), false)
            }
            None => (dummy(), false),
        };
        // Imported hashes (bcrypt, PBKDF2, scrypt, argon2i) verify with their own algorithm.
        self.run(move || Ok(target.verify(password.expose().as_bytes())? && real))
            .await
    }

    /// Whether `stored` is argon2id with the configured cost; anything else (an imported hash,
    /// or a cost changed since) is rehashed at the next successful sign-in.
    pub fn is_current(&self, stored: &str) -> bool {
        StoredHash::parse(stored).is_ok_and(|hash| hash.is_current(&self.inner.params))
    }

    /// How many argon2 computations this hasher (and its clones) started.
    #[cfg(test)]
    fn runs(&self) -> u64 {
        self.inner.runs.load(Ordering::SeqCst)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, HashError> {
        let permit = self.permit().await?;
        let inner = self.inner.clone();
        let counter = self.hashes.clone();
        let task = tokio::task::spawn_blocking(move || {
            // The permit moves into the task: a caller that gives up (a request timeout) must
            // not free the slot while the computation still occupies a core.
            let _permit = permit;
            inner.runs.fetch_add(1, Ordering::SeqCst);
            if let Some(counter) = counter {
                counter.inc();
            }
            work()
        });
        let result = task
            .await
            .map_err(|e| anyhow!("the password hashing task failed: {e}"))?;
        Ok(result?)
    }

    /// A free slot, after waiting in the queue if it has room; never an unbounded wait list.
    async fn permit(&self) -> Result<OwnedSemaphorePermit, HashError> {
        let permits = self.inner.permits.clone();
        if let Ok(permit) = permits.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let _slot = QueueSlot::take(&self.inner.waiting, self.inner.queue_depth).ok_or(
            HashError::Busy {
                retry_after: RETRY_AFTER,
            },
        )?;
        permits
            .acquire_owned()
            .await
            .map_err(|_| HashError::Internal(anyhow!("the password hashing semaphore is closed")))
    }
}

/// A place in the wait queue, given back on drop (also when the waiting caller is cancelled).
struct QueueSlot<'a>(&'a AtomicUsize);

impl<'a> QueueSlot<'a> {
    fn take(waiting: &'a AtomicUsize, depth: usize) -> Option<Self> {
        waiting
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < depth).then_some(n + 1)
            })
            .ok()
            .map(|_| QueueSlot(waiting))
    }
}

impl Drop for QueueSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An argon2id PHC string with the configured cost and random salt and output: verifying any
/// password against it costs exactly what a real check costs, and nothing matches it.
fn dummy_hash(params: &Params) -> PasswordHash {
    let output: Vec<u8> = [generate_salt(), generate_salt()].concat();
    PasswordHash {
        algorithm: ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).expect("validated argon2 parameters encode"),
        salt: Some(Salt::new(&generate_salt()).expect("16 bytes are a valid salt")),
        hash: Some(Output::new(&output).expect("32 bytes are a valid output")),
    }
}

#[cfg(test)]
#[path = "password_tests.rs"]
mod tests;
