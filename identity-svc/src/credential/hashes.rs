//! Stored password hashes: Olympus' own argon2id, and the formats Kratos imports from other
//! systems (`K:hash/hash_comparator.go`): argon2i, bcrypt, PBKDF2-HMAC-SHA-2 and scrypt. An
//! imported hash is verified with its own algorithm and cost, and replaced by argon2id at the
//! next successful sign-in (see `crate::flow::login`).
//!
//! Errors name the problem, never the hash.

use argon2::password_hash::PasswordVerifier as _;
use argon2::password_hash::phc::PasswordHash;
use argon2::{ARGON2ID_IDENT, Argon2, Params};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::{Sha256, Sha512};

/// Caps on an imported hash's cost: verifying runs with the hash's own parameters, so one
/// careless import must not make every sign-in of that identity take minutes or gigabytes.
const MAX_ARGON2_MEMORY_KIB: u32 = 1024 * 1024;
const MAX_ARGON2_ITERATIONS: u32 = 32;
const MAX_ARGON2_PARALLELISM: u32 = 16;
const MAX_BCRYPT_COST: u32 = 16;
const MAX_PBKDF2_ITERATIONS: u32 = 5_000_000;
/// scrypt memory is 128·N·r bytes; at most 1 GiB, like argon2 above.
const MAX_SCRYPT_MEMORY: u64 = 1 << 30;
const MAX_SCRYPT_PARALLELISM: u32 = 16;
/// What bcrypt reads of a password.
const BCRYPT_MAX_BYTES: usize = 72;
/// Derived keys and salts of any format: long enough for every real system, short enough that
/// a hostile import cannot ask for megabytes of output.
const MAX_KEY_BYTES: usize = 128;

/// A parsed stored hash, ready to verify a password against.
#[derive(Clone)]
pub enum StoredHash {
    /// argon2id or argon2i (a PHC string).
    Argon2(Box<PasswordHash>),
    /// `$2a$`, `$2b$`, `$2x$` or `$2y$` (60 characters).
    Bcrypt { hash: String, cost: u32 },
    /// `$pbkdf2-sha256$i=…,l=…$salt$hash` (unpadded standard base64, as Kratos writes it).
    Pbkdf2 {
        digest: Pbkdf2Digest,
        iterations: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    /// `$scrypt$ln=N,r=…,p=…$salt$hash`: Kratos writes the cost N itself (not its logarithm)
    /// under `ln`, and padded standard base64.
    Scrypt {
        log_n: u8,
        r: u32,
        p: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pbkdf2Digest {
    Sha256,
    Sha512,
}

impl StoredHash {
    /// Parses any supported format and checks that its cost is within what Olympus verifies.
    pub fn parse(stored: &str) -> Result<StoredHash, String> {
        let hash = if stored.starts_with("$argon2") {
            StoredHash::Argon2(Box::new(parse_argon2(stored)?))
        } else if stored.starts_with("$2") {
            parse_bcrypt(stored)?
        } else if stored.starts_with("$pbkdf2-") {
            parse_pbkdf2(stored)?
        } else if stored.starts_with("$scrypt$") {
            parse_scrypt(stored)?
        } else {
            return Err(
                "is not a supported hash format (argon2id, argon2i, bcrypt, \
                        pbkdf2-sha256, pbkdf2-sha512 or scrypt)"
                    .into(),
            );
        };
        hash.check_cost()?;
        Ok(hash)
    }

    /// The algorithm's name, for logs.
    pub fn algorithm(&self) -> &'static str {
        match self {
            StoredHash::Argon2(h) if h.algorithm == ARGON2ID_IDENT => "argon2id",
            StoredHash::Argon2(_) => "argon2i",
            StoredHash::Bcrypt { .. } => "bcrypt",
            StoredHash::Pbkdf2 { .. } => "pbkdf2",
            StoredHash::Scrypt { .. } => "scrypt",
        }
    }

    /// Whether this is argon2id with exactly `params`: anything else is rehashed at the next
    /// successful sign-in.
    pub fn is_current(&self, params: &Params) -> bool {
        match self {
            StoredHash::Argon2(hash) if hash.algorithm == ARGON2ID_IDENT => {
                Params::try_from(&**hash).is_ok_and(|p| {
                    p.m_cost() == params.m_cost()
                        && p.t_cost() == params.t_cost()
                        && p.p_cost() == params.p_cost()
                })
            }
            _ => false,
        }
    }

    /// Checks `password` (the bytes as given) against the hash; blocking and as slow as the
    /// hash's cost.
    pub fn verify(&self, password: &[u8]) -> anyhow::Result<bool> {
        match self {
            StoredHash::Argon2(hash) => {
                // `Argon2::default()` takes algorithm, version and cost from the stored hash.
                match Argon2::default().verify_password(password, &**hash) {
                    Ok(()) => Ok(true),
                    Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
                    Err(e) => Err(anyhow::anyhow!("argon2 verification failed: {e}")),
                }
            }
            // bcrypt reads only the first 72 bytes; a longer password is refused rather than
            // truncated, so that a prefix of it never signs in (IF-10), as Kratos does.
            StoredHash::Bcrypt { .. } if password.len() > BCRYPT_MAX_BYTES => Ok(false),
            StoredHash::Bcrypt { hash, .. } => bcrypt::verify(password, hash)
                .map_err(|e| anyhow::anyhow!("bcrypt verification failed: {e}")),
            StoredHash::Pbkdf2 {
                digest,
                iterations,
                salt,
                hash,
            } => {
                let mut derived = vec![0u8; hash.len()];
                match digest {
                    Pbkdf2Digest::Sha256 => {
                        pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, *iterations, &mut derived)
                    }
                    Pbkdf2Digest::Sha512 => {
                        pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, *iterations, &mut derived)
                    }
                }
                Ok(constant_time_eq(&derived, hash))
            }
            StoredHash::Scrypt {
                log_n,
                r,
                p,
                salt,
                hash,
            } => {
                let params = scrypt::Params::new(*log_n, *r, *p, 32)
                    .map_err(|e| anyhow::anyhow!("scrypt parameters: {e}"))?;
                let mut derived = vec![0u8; hash.len()];
                scrypt::scrypt(password, salt, &params, &mut derived)
                    .map_err(|e| anyhow::anyhow!("scrypt failed: {e}"))?;
                Ok(constant_time_eq(&derived, hash))
            }
        }
    }

    fn check_cost(&self) -> Result<(), String> {
        let too_costly = |limits: String| {
            Err(format!(
                "has a cost beyond what Olympus verifies (at most {limits})"
            ))
        };
        match self {
            StoredHash::Argon2(hash) => {
                let params = Params::try_from(&**hash)
                    .map_err(|e| format!("has invalid parameters: {e}"))?;
                if params.m_cost() > MAX_ARGON2_MEMORY_KIB
                    || params.t_cost() > MAX_ARGON2_ITERATIONS
                    || params.p_cost() > MAX_ARGON2_PARALLELISM
                {
                    return too_costly(format!(
                        "m={MAX_ARGON2_MEMORY_KIB}, t={MAX_ARGON2_ITERATIONS}, \
                         p={MAX_ARGON2_PARALLELISM}"
                    ));
                }
            }
            StoredHash::Bcrypt { cost, .. } if *cost > MAX_BCRYPT_COST => {
                return too_costly(format!("bcrypt cost {MAX_BCRYPT_COST}"));
            }
            StoredHash::Pbkdf2 { iterations, .. } if *iterations > MAX_PBKDF2_ITERATIONS => {
                return too_costly(format!("{MAX_PBKDF2_ITERATIONS} PBKDF2 iterations"));
            }
            StoredHash::Scrypt { log_n, r, p, .. } => {
                let memory = 128u64
                    .saturating_mul(1u64 << log_n)
                    .saturating_mul(u64::from(*r));
                if memory > MAX_SCRYPT_MEMORY || *p > MAX_SCRYPT_PARALLELISM {
                    return too_costly(format!(
                        "128·N·r = 1 GiB of memory and p={MAX_SCRYPT_PARALLELISM}"
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Parses an argon2id or argon2i PHC string with usable parameters.
pub fn parse_argon2(phc: &str) -> Result<PasswordHash, String> {
    let hash = PasswordHash::new(phc).map_err(|_| "is not a PHC string".to_string())?;
    if hash.algorithm != ARGON2ID_IDENT && hash.algorithm != argon2::ARGON2I_IDENT {
        return Err(format!("has an unsupported algorithm `{}`", hash.algorithm));
    }
    if hash.salt.is_none() || hash.hash.is_none() {
        return Err("has no salt or no hash".into());
    }
    Params::try_from(&hash).map_err(|e| format!("has invalid argon2 parameters: {e}"))?;
    Ok(hash)
}

fn parse_bcrypt(stored: &str) -> Result<StoredHash, String> {
    let bad = || "is not a bcrypt hash ($2b$<cost>$<53 characters>)".to_string();
    let bytes = stored.as_bytes();
    if stored.len() != 60 || !stored.is_ascii() || bytes[3] != b'$' || bytes[6] != b'$' {
        return Err(bad());
    }
    if !matches!(&stored[1..3], "2a" | "2b" | "2x" | "2y") {
        return Err(bad());
    }
    let cost: u32 = stored[4..6].parse().map_err(|_| bad())?;
    if !(4..=31).contains(&cost) {
        return Err(bad());
    }
    Ok(StoredHash::Bcrypt {
        hash: stored.to_string(),
        cost,
    })
}

/// The `$`-separated fields after the leading `$`: `[algorithm, params, salt, hash]`.
fn four_fields(stored: &str) -> Option<[&str; 4]> {
    let fields: Vec<&str> = stored.strip_prefix('$')?.split('$').collect();
    fields.try_into().ok()
}

fn parse_pbkdf2(stored: &str) -> Result<StoredHash, String> {
    let shape = "is not a PBKDF2 hash ($pbkdf2-sha256$i=<iterations>,l=<length>$<salt>$<hash>)";
    let [algorithm, params, salt, hash] = four_fields(stored).ok_or(shape)?;
    let digest = match algorithm {
        "pbkdf2-sha256" => Pbkdf2Digest::Sha256,
        "pbkdf2-sha512" => Pbkdf2Digest::Sha512,
        other => {
            return Err(format!(
                "uses {other:?}; PBKDF2 is supported with sha256 and sha512"
            ));
        }
    };
    let values = key_values(params, &["i", "l"]).ok_or(shape)?;
    let iterations = u32::try_from(values[0]).map_err(|_| shape.to_string())?;
    if iterations == 0 {
        return Err(shape.into());
    }
    Ok(StoredHash::Pbkdf2 {
        digest,
        iterations,
        salt: decode(&STANDARD_NO_PAD, salt, "salt")?,
        hash: decode(&STANDARD_NO_PAD, hash, "hash")?,
    })
}

fn parse_scrypt(stored: &str) -> Result<StoredHash, String> {
    let shape = "is not a scrypt hash ($scrypt$ln=<N>,r=<r>,p=<p>$<salt>$<hash>)";
    let [_, params, salt, hash] = four_fields(stored).ok_or(shape)?;
    let values = key_values(params, &["ln", "r", "p"]).ok_or(shape)?;
    let n = values[0];
    if n < 2 || !n.is_power_of_two() {
        return Err("has a scrypt cost N that is not a power of two".into());
    }
    let (r, p) = (
        u32::try_from(values[1]).map_err(|_| shape.to_string())?,
        u32::try_from(values[2]).map_err(|_| shape.to_string())?,
    );
    if r == 0 || p == 0 {
        return Err(shape.into());
    }
    Ok(StoredHash::Scrypt {
        log_n: n.trailing_zeros() as u8,
        r,
        p,
        salt: decode(&STANDARD, salt, "salt")?,
        hash: decode(&STANDARD, hash, "hash")?,
    })
}

/// `k1=v1,k2=v2` with exactly the keys `keys`, in order, as numbers.
fn key_values(text: &str, keys: &[&str]) -> Option<Vec<u64>> {
    let pairs: Vec<&str> = text.split(',').collect();
    if pairs.len() != keys.len() {
        return None;
    }
    pairs
        .iter()
        .zip(keys)
        .map(|(pair, key)| {
            let (k, v) = pair.split_once('=')?;
            (k == *key).then_some(())?;
            v.parse().ok()
        })
        .collect()
}

fn decode(engine: &impl Engine, text: &str, what: &str) -> Result<Vec<u8>, String> {
    let bytes = engine
        .decode(text)
        .map_err(|_| format!("has a {what} that is not valid base64"))?;
    if bytes.is_empty() || bytes.len() > MAX_KEY_BYTES {
        return Err(format!(
            "has a {what} of {} bytes (1 to {MAX_KEY_BYTES})",
            bytes.len()
        ));
    }
    Ok(bytes)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
#[path = "hashes_tests.rs"]
mod tests;
