//! Secrets in settings: values that never print, and the rotating lists of signing keys.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::SettingsError;

/// A secret value: never printed by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Serialised only so that layered loading can merge defaults; never written anywhere.
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// A rotating secret: the first value signs or encrypts, the others still verify.
/// Given as a list, or as one string (one secret).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct SecretList(Vec<Secret>);

pub const MIN_SECRET_LEN: usize = 32;

impl SecretList {
    pub fn new(values: impl IntoIterator<Item = Secret>) -> Self {
        SecretList(values.into_iter().collect())
    }
    /// The secret that signs and encrypts new values.
    pub fn current(&self) -> &Secret {
        &self.0[0]
    }
    pub fn all(&self) -> &[Secret] {
        &self.0
    }
    /// At least one secret, each at least [`MIN_SECRET_LEN`] characters; there are no defaults.
    pub fn validate(&self, key: &str) -> Result<(), SettingsError> {
        if self.0.is_empty() {
            return Err(SettingsError::invalid(
                key,
                "is required (a list of secrets; the first signs, the rest verify)",
            ));
        }
        match self
            .0
            .iter()
            .position(|s| s.expose().chars().count() < MIN_SECRET_LEN)
        {
            Some(i) => Err(SettingsError::invalid(
                format!("{key}[{i}]"),
                format_args!("must be at least {MIN_SECRET_LEN} characters"),
            )),
            None => Ok(()),
        }
    }
}

impl<'de> Deserialize<'de> for SecretList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(Secret),
            Many(Vec<Secret>),
        }
        Ok(match OneOrMany::deserialize(d)? {
            OneOrMany::One(s) => SecretList(vec![s]),
            OneOrMany::Many(v) => SecretList(v),
        })
    }
}
