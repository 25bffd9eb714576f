//! Credentials an identity signs in with. So far the password: hashing (`password`), the policy
//! a new password must meet, and the password a caller hands to admin create (plaintext or an
//! imported hash).

pub mod hashes;
pub mod password;
pub mod policy;

use serde::{Deserialize, Serialize};
use service_kit::db::Json;
use service_kit::settings::Secret;
use shared_types::identity::IdentityWithCredentials;

use crate::error::ApiError;
pub use password::{Argon2Settings, HashError, HashersSettings, PasswordHasher};
pub use policy::{PasswordMethodSettings, PasswordPolicy, PolicyViolation};

/// The default `min_password_length`, counted in characters, not bytes: a short passphrase of
/// multi-byte letters is still short.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Bounds the hashing input (argon2 itself has no practical limit); documented for users.
pub const MAX_PASSWORD_BYTES: usize = 4096;

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
    /// An imported hash in a format [`hashes::StoredHash`] reads, already checked.
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
                hasher
                    .policy()
                    .check(plain.expose(), identifiers)
                    .map_err(|reason| {
                        ApiError::BadRequest(format!("{PASSWORD_FIELD}: {reason}"))
                    })?;
                Ok(hasher.hash(plain).await?)
            }
        }
    }
}

/// The password policy with its default settings (Kratos' defaults and the bundled list of
/// common passwords), as text. Handlers check against the configured policy instead:
/// `state.passwords.policy().check(…)`, whose [`PolicyViolation::message`] is the Kratos message.
pub fn check_policy(password: &str, identifiers: &[String]) -> Result<(), String> {
    PasswordPolicy::default()
        .check(password, identifiers)
        .map_err(|violation| violation.to_string())
}

/// An imported hash: one of the formats [`hashes::StoredHash`] verifies, with a cost a sign-in
/// can afford.
fn check_import(stored: &str) -> Result<(), String> {
    hashes::StoredHash::parse(stored).map(|_| ())
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
    fn the_default_policy_answers_in_text() {
        let ids = ["ann@example.com".to_string()];
        let short = check_policy("1234567", &ids).unwrap_err();
        assert!(short.contains("at least 8"), "{short}");
        let too_long = check_policy(&"x".repeat(MAX_PASSWORD_BYTES + 1), &ids).unwrap_err();
        assert!(too_long.contains("at most 4096 bytes"), "{too_long}");
        let similar = check_policy("ANN@example.com", &ids).unwrap_err();
        assert!(similar.contains("too similar"), "{similar}");
        assert!(check_policy("correct horse battery", &ids).is_ok());
    }

    #[test]
    fn imports_accept_the_supported_formats_within_limits_only() {
        let ok = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$\
                  YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXphYmNkZWY";
        assert!(check_import(ok).is_ok());
        assert!(check_import(&ok.replace("argon2id", "argon2i")).is_ok());
        assert!(
            check_import("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW").is_ok()
        );
        let huge = ok.replace("m=19456", "m=4194304");
        assert!(check_import(&huge).unwrap_err().contains("cost"));
        for refused in [&ok.replace("argon2id", "argon2d"), "plain text"] {
            assert!(check_import(refused).is_err(), "{refused}");
        }
    }
}
