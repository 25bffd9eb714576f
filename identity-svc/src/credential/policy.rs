//! The password policy (IF-09): a minimum length in characters, a maximum in bytes, not similar
//! to the identity's identifiers (Kratos' rule), and not on the bundled list of common passwords
//! (checked offline; no password or hash of one ever leaves the service). No composition rules.
//! The password is judged and hashed exactly as given: no trimming, case folding, truncation or
//! Unicode normalisation (IF-10), so that imported hashes made from the raw bytes keep verifying.

use std::collections::HashSet;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use service_kit::settings::SettingsError;
use shared_types::flow::UiText;

use super::MAX_PASSWORD_BYTES;
use crate::flow::text;

/// Kratos' floor for `min_password_length`.
const LOWEST_MIN_LENGTH: usize = 6;
/// Kratos' similarity thresholds (`selfservice/strategy/password/validator.go`): too similar when
/// the edit distance to an identifier is below 5, or when the longest substring shared with it is
/// more than half the password.
const MIN_IDENTIFIER_DISTANCE: usize = 5;
const MAX_SHARED_SUBSTRING_RATIO: f64 = 0.5;
/// Compared characters of an identifier: bounds the quadratic comparisons.
const MAX_COMPARED_CHARS: usize = 1024;

/// Lowercased; see the file's header for its origin and licence.
const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

/// Parsed once per process: it is compiled-in data, not configuration.
static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    let (_header, list) = COMMON_PASSWORDS
        .split_once("\n\n")
        .expect("the list has a header ending in an empty line");
    list.lines().collect()
});

/// `selfservice.methods.password.*` (Kratos' keys).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct PasswordMethodSettings {
    pub config: PasswordPolicySettings,
}

/// `selfservice.methods.password.config.*`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicySettings {
    /// In characters (Unicode scalar values).
    pub min_password_length: usize,
    pub identifier_similarity_check_enabled: bool,
    /// Refuse passwords on the bundled list of common passwords (Olympus' offline stand-in for
    /// Kratos' `haveibeenpwned_enabled`).
    pub common_password_check_enabled: bool,
}

impl Default for PasswordPolicySettings {
    fn default() -> Self {
        PasswordPolicySettings {
            min_password_length: super::MIN_PASSWORD_CHARS,
            identifier_similarity_check_enabled: true,
            common_password_check_enabled: true,
        }
    }
}

impl PasswordPolicySettings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        let most = MAX_PASSWORD_BYTES / 4;
        if !(LOWEST_MIN_LENGTH..=most).contains(&self.min_password_length) {
            return Err(SettingsError::invalid(
                "selfservice.methods.password.config.min_password_length",
                format_args!("must be between {LOWEST_MIN_LENGTH} and {most}"),
            ));
        }
        Ok(())
    }
}

/// Why a password was refused; `message()` is the Kratos UI text for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    #[error("the password must be at least {min} characters long, but got {actual}")]
    TooShort { min: usize, actual: usize },
    #[error("the password must be at most {max} bytes long, but got {actual}")]
    TooLong { max: usize, actual: usize },
    #[error("the password can not be used because it is too similar to the identifier")]
    TooSimilar,
    #[error("the password has been found in data breaches and must no longer be used")]
    Common,
}

impl PolicyViolation {
    /// Kratos' message (4000032, 4000033, 4000031 or 4000034) for a form node.
    pub fn message(&self) -> UiText {
        match self {
            PolicyViolation::TooShort { min, actual } => text::password_too_short(*min, *actual),
            PolicyViolation::TooLong { max, actual } => text::password_too_long(*max, *actual),
            PolicyViolation::TooSimilar => text::password_too_similar(),
            PolicyViolation::Common => text::password_breached(),
        }
    }
}

/// The configured policy. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PasswordPolicy {
    min_chars: usize,
    similarity_check: bool,
    common: Option<&'static HashSet<&'static str>>,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy::new(&PasswordPolicySettings::default())
    }
}

impl PasswordPolicy {
    /// From settings that passed `validate` (the list is parsed here, once per process).
    pub fn new(settings: &PasswordPolicySettings) -> Self {
        PasswordPolicy {
            min_chars: settings.min_password_length,
            similarity_check: settings.identifier_similarity_check_enabled,
            common: settings.common_password_check_enabled.then(|| &*COMMON),
        }
    }

    /// Checks `password` for an identity with these (normalised) password identifiers.
    pub fn check(&self, password: &str, identifiers: &[String]) -> Result<(), PolicyViolation> {
        let chars = password.chars().count();
        if chars < self.min_chars {
            return Err(PolicyViolation::TooShort {
                min: self.min_chars,
                actual: chars,
            });
        }
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(PolicyViolation::TooLong {
                max: MAX_PASSWORD_BYTES,
                actual: password.len(),
            });
        }
        if self.similarity_check && identifiers.iter().any(|i| too_similar(i, password)) {
            return Err(PolicyViolation::TooSimilar);
        }
        if self
            .common
            .is_some_and(|list| list.contains(password.to_lowercase().as_str()))
        {
            return Err(PolicyViolation::Common);
        }
        Ok(())
    }
}

/// Kratos' rule, case-folded, counted in characters.
fn too_similar(identifier: &str, password: &str) -> bool {
    let identifier: Vec<char> = identifier
        .to_lowercase()
        .chars()
        .take(MAX_COMPARED_CHARS)
        .collect();
    let password: Vec<char> = password.to_lowercase().chars().collect();
    if identifier.is_empty() || password.is_empty() {
        return false;
    }
    let shared = longest_common_substring(&identifier, &password) as f64 / password.len() as f64;
    levenshtein(&identifier, &password) < MIN_IDENTIFIER_DISTANCE
        || shared > MAX_SHARED_SUBSTRING_RATIO
}

fn levenshtein(a: &[char], b: &[char]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, x) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(x != y);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

fn longest_common_substring(a: &[char], b: &[char]) -> usize {
    let mut previous = vec![0usize; b.len() + 1];
    let mut current = vec![0usize; b.len() + 1];
    let mut longest = 0;
    for x in a {
        for (j, y) in b.iter().enumerate() {
            current[j + 1] = if x == y { previous[j] + 1 } else { 0 };
            longest = longest.max(current[j + 1]);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn lengths_count_characters_up_to_a_byte_maximum() {
        let policy = PasswordPolicy::default();
        assert_eq!(
            policy.check("x7#kq2!", &[]),
            Err(PolicyViolation::TooShort { min: 8, actual: 7 })
        );
        assert!(
            policy.check("çñøßþæðœ", &[]).is_ok(),
            "8 characters, 16 bytes"
        );
        let long: String = "tz9q".repeat(MAX_PASSWORD_BYTES / 4);
        assert!(policy.check(&long, &[]).is_ok());
        let too_long = format!("{long}x");
        assert_eq!(
            policy.check(&too_long, &[]),
            Err(PolicyViolation::TooLong {
                max: 4096,
                actual: 4097
            })
        );
        let stricter = PasswordPolicy::new(&PasswordPolicySettings {
            min_password_length: 12,
            ..Default::default()
        });
        assert!(matches!(
            stricter.check("eleven char", &[]),
            Err(PolicyViolation::TooShort { min: 12, .. })
        ));
    }

    #[test]
    fn passwords_like_an_identifier_are_refused_as_kratos_does() {
        let policy = PasswordPolicy::default();
        let ids = ids(&["ann.lee1@example.com", "annannann@example.com"]);
        for similar in [
            "ANN.LEE1@example.com",
            " ann.lee1@example.com",
            "ann.lee1",
            "Ann.Lee1!",
            "AnnAnnAnn",
            "ann.lee1@example.co",
        ] {
            assert_eq!(
                policy.check(similar, &ids),
                Err(PolicyViolation::TooSimilar),
                "{similar}"
            );
        }
        // Sharing a little with the identifier is fine.
        assert!(policy.check("annual report of lee", &ids).is_ok());
        assert!(
            policy
                .check("my address is ann.lee1@example.com, write me", &ids)
                .is_ok(),
            "the shared part is less than half"
        );
        let off = PasswordPolicy::new(&PasswordPolicySettings {
            identifier_similarity_check_enabled: false,
            ..Default::default()
        });
        assert!(off.check("ann.lee1@example.com", &ids).is_ok());
    }

    #[test]
    fn common_passwords_are_refused_in_any_case() {
        let policy = PasswordPolicy::default();
        assert!(COMMON.len() > 19_000, "{}", COMMON.len());
        for common in [
            "password",
            "Password1!",
            "password123",
            "QWERTYUIOP",
            "iloveyou",
        ] {
            assert_eq!(
                policy.check(common, &[]),
                Err(PolicyViolation::Common),
                "{common}"
            );
        }
        for fine in ["correct horse battery staple", "пароль-密码-🔑-parolă"] {
            assert!(policy.check(fine, &[]).is_ok(), "{fine}");
        }
        let off = PasswordPolicy::new(&PasswordPolicySettings {
            common_password_check_enabled: false,
            ..Default::default()
        });
        assert!(off.check("password123", &[]).is_ok());
    }

    #[test]
    fn violations_carry_kratos_message_ids() {
        let id = |v: PolicyViolation| v.message().id;
        assert_eq!(id(PolicyViolation::TooShort { min: 8, actual: 3 }), 4000032);
        assert_eq!(id(PolicyViolation::TooLong { max: 1, actual: 2 }), 4000033);
        assert_eq!(id(PolicyViolation::TooSimilar), 4000031);
        assert_eq!(id(PolicyViolation::Common), 4000034);
        let short = PolicyViolation::TooShort { min: 8, actual: 3 }.message();
        assert_eq!(
            short.context,
            Some(serde_json::json!({"min_length": 8, "actual_length": 3}))
        );
    }

    #[test]
    fn the_minimum_length_setting_is_bounded() {
        for bad in [5, 1025] {
            let settings = PasswordPolicySettings {
                min_password_length: bad,
                ..Default::default()
            };
            let err = settings.validate().unwrap_err().to_string();
            assert!(err.contains("min_password_length"), "{err}");
        }
    }

    #[test]
    fn distances() {
        let c = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(levenshtein(&c("kitten"), &c("sitting")), 3);
        assert_eq!(levenshtein(&c(""), &c("abc")), 3);
        assert_eq!(longest_common_substring(&c("xabcdy"), &c("zzabcd")), 4);
    }
}
