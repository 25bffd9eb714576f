//! Credentials an identity signs in with. So far the password: hashing (`password`), the policy
//! a new password must meet, and the password a caller hands to admin create (plaintext or an
//! imported hash).

pub mod password;

use argon2::Params;
use serde::{Deserialize, Serialize};
use service_kit::db::Json;
use service_kit::settings::Secret;
use shared_types::identity::IdentityWithCredentials;

use crate::error::ApiError;
pub use password::{Argon2Settings, HashError, HashersSettings, PasswordHasher};

/// Counted in characters, not bytes: a short passphrase of multi-byte letters is still short.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Bounds the hashing input (argon2 itself has no practical limit); documented for users.
pub const MAX_PASSWORD_BYTES: usize = 4096;

/// Caps on an imported hash's cost: verifying runs with the hash's own parameters, so one
/// careless import must not make every login of that identity take minutes or gigabytes.
const MAX_IMPORT_MEMORY_KIB: u32 = 1024 * 1024;
const MAX_IMPORT_ITERATIONS: u32 = 32;
const MAX_IMPORT_PARALLELISM: u32 = 16;

const PASSWORD_FIELD: &str = "credentials.password.config.password";
const HASHED_FIELD: &str = "credentials.password.config.hashed_password";

/// The stored `config` of a password credential (Kratos' shape).
#[derive(Serialize, Deserialize)]
pub struct PasswordConfig {
    pub hashed_password: String,
}

impl PasswordConfig {
    pub fn to_json(&self) -> Json {
        Json(serde_json::json!({ "hashed_password": self.hashed_password }))
    }

    /// The hash in a stored `config`, if it holds one.
    pub fn hashed_password(config: Option<Json>) -> Option<String> {
        config
            .and_then(|c| serde_json::from_value::<PasswordConfig>(c.0).ok())
            .map(|c| c.hashed_password)
    }
}

/// A password given with a new identity.
pub enum NewPassword {
    Plain(Secret),
    /// An argon2id/argon2i PHC string, already checked.
    Hashed(String),
}

impl NewPassword {
    /// Reads Kratos' `credentials`. Types Olympus cannot import yet are refused rather than
    /// dropped: an identity created without the credential it was sent with would look fine
    /// and fail at the first sign-in.
    pub fn from_credentials(
        credentials: Option<IdentityWithCredentials>,
    ) -> Result<Option<NewPassword>, ApiError> {
        let Some(credentials) = credentials else {
            return Ok(None);
        };
        if let Some(kind) = credentials.unsupported_types().first() {
            return Err(ApiError::BadRequest(format!(
                "importing {kind} credentials is not supported yet"
            )));
        }
        let Some(config) = credentials.password.and_then(|p| p.config) else {
            return Ok(None);
        };
        if config.use_password_migration_hook == Some(true) {
            return Err(ApiError::BadRequest(
                "credentials.password.config.use_password_migration_hook is not supported yet"
                    .into(),
            ));
        }
        match (config.password, config.hashed_password) {
            (Some(_), Some(_)) => Err(ApiError::BadRequest(format!(
                "give either {PASSWORD_FIELD} or {HASHED_FIELD}, not both"
            ))),
            (Some(plain), None) => Ok(Some(NewPassword::Plain(Secret::new(plain)))),
            (None, Some(hashed)) => {
                check_import(&hashed)
                    .map_err(|reason| ApiError::BadRequest(format!("{HASHED_FIELD} {reason}")))?;
                Ok(Some(NewPassword::Hashed(hashed)))
            }
            (None, None) => Err(ApiError::BadRequest(format!(
                "credentials.password.config needs {PASSWORD_FIELD} or {HASHED_FIELD}"
            ))),
        }
    }

    /// The PHC string to store: a plaintext password must meet the policy for `identifiers`
    /// (the identity's normalised password identifiers) and is hashed; a hash is kept as given.
    pub async fn into_hash(
        self,
        identifiers: &[String],
        hasher: &PasswordHasher,
    ) -> Result<String, ApiError> {
        match self {
            NewPassword::Hashed(hashed) => Ok(hashed),
            NewPassword::Plain(plain) => {
                check_policy(plain.expose(), identifiers).map_err(|reason| {
                    ApiError::BadRequest(format!("{PASSWORD_FIELD}: {reason}"))
                })?;
                Ok(hasher.hash(plain).await?)
            }
        }
    }
}

/// The password policy (IF-09): a minimum length, a documented maximum, and not the identifier
/// (nor an e-mail identifier's local part) in any case. No composition rules. The password is
/// judged as given: no trimming or normalisation (IF-10).
pub fn check_policy(password: &str, identifiers: &[String]) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(format!(
            "the password must be at least {MIN_PASSWORD_CHARS} characters long, but got {chars}"
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!(
            "the password must be at most {MAX_PASSWORD_BYTES} bytes long, but got {}",
            password.len()
        ));
    }
    let lowered = password.to_lowercase();
    let too_similar = identifiers.iter().any(|identifier| {
        let identifier = identifier.to_lowercase();
        let local_part = identifier.split_once('@').map(|(local, _)| local);
        lowered == identifier || local_part == Some(lowered.as_str())
    });
    if too_similar {
        return Err(
            "the password can not be used because it is too similar to the identifier".into(),
        );
    }
    Ok(())
}

/// An imported hash: argon2id or argon2i for now, with a cost a login can afford.
fn check_import(phc: &str) -> Result<(), String> {
    let hash = password::parse_argon2(phc).map_err(|reason| {
        format!(
            "must be an argon2id or argon2i PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash): \
             {reason}; other formats (bcrypt, pbkdf2, scrypt, …) are not supported yet"
        )
    })?;
    let params = Params::try_from(&hash).map_err(|e| format!("has invalid parameters: {e}"))?;
    if params.m_cost() > MAX_IMPORT_MEMORY_KIB
        || params.t_cost() > MAX_IMPORT_ITERATIONS
        || params.p_cost() > MAX_IMPORT_PARALLELISM
    {
        return Err(format!(
            "has a cost beyond what Olympus verifies (at most m={MAX_IMPORT_MEMORY_KIB}, \
             t={MAX_IMPORT_ITERATIONS}, p={MAX_IMPORT_PARALLELISM})"
        ));
    }
    Ok(())
}

impl From<HashError> for ApiError {
    fn from(err: HashError) -> Self {
        match err {
            HashError::Busy { retry_after } => ApiError::Busy { retry_after },
            HashError::Internal(e) => ApiError::Internal(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_counts_characters_and_refuses_the_identifier() {
        let ids = ["ann@example.com".to_string()];
        assert!(
            check_policy("1234567", &ids)
                .unwrap_err()
                .contains("at least 8")
        );
        assert!(
            check_policy("çççççççç", &ids).is_ok(),
            "8 characters, 16 bytes"
        );
        assert!(check_policy(&"x".repeat(MAX_PASSWORD_BYTES), &ids).is_ok());
        let too_long = check_policy(&"x".repeat(MAX_PASSWORD_BYTES + 1), &ids).unwrap_err();
        assert!(too_long.contains("at most 4096 bytes"), "{too_long}");
        for similar in ["ANN@example.com", "ann@example.com", "AnnAnnAnn"] {
            let ids = ["annannann@example.com".to_string(), ids[0].clone()];
            let err = check_policy(similar, &ids).unwrap_err();
            assert!(err.contains("too similar"), "{similar}: {err}");
        }
        assert!(
            check_policy(" ann@example.com", &ids).is_ok(),
            "not trimmed"
        );
        assert!(check_policy("correct horse battery", &ids).is_ok());
    }

    #[test]
    fn imports_accept_argon2_within_limits_only() {
        let ok = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$\
                  YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXphYmNkZWY";
        assert!(check_import(ok).is_ok());
        let argon2i = ok.replace("argon2id", "argon2i");
        assert!(check_import(&argon2i).is_ok());
        let huge = ok.replace("m=19456", "m=4194304");
        assert!(check_import(&huge).unwrap_err().contains("cost"));
        for refused in [
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            &ok.replace("argon2id", "argon2d"),
            "$pbkdf2-sha256$i=1000,l=32$c2FsdA$aGFzaA",
            "plain text",
        ] {
            let err = check_import(refused).unwrap_err();
            assert!(err.contains("argon2id or argon2i PHC"), "{refused}: {err}");
        }
    }
}
