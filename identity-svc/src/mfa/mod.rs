//! Second factors and authenticator assurance levels: TOTP (`totp`) and recovery codes
//! (`lookup_secret`, Kratos' lookup secrets), their settings (`settings`), the aal2 login flow
//! that upgrades a session (`login`), and the rules that ask an aal1 session for a second factor
//! (`aal`: whoami, settings, the end of a password sign-in).
//!
//! Secrets at rest: a TOTP secret is kept as its `otpauth://` URL sealed under `secrets.cipher`
//! (the credential's `config`); recovery codes as keyed hashes (to find and consume one with a
//! single conditional UPDATE) beside the codes sealed under `secrets.cipher` (to reveal them to
//! their owner). A database dump shows neither.

pub mod aal;
pub mod admin;
pub mod login;
pub mod lookup;
pub mod nodes;
pub mod settings;
pub mod store;
pub mod text;
pub mod totp;
pub mod verify;

use serde::{Deserialize, Serialize};
use service_kit::cipher::KeyCipher;
use service_kit::db::Id;

use crate::error::ApiError;
use crate::state::AppState;

pub const TOTP: &str = "totp";
pub const LOOKUP: &str = "lookup_secret";
/// WebAuthn security keys (src/webauthn/) are a second factor too.
pub const WEBAUTHN: &str = "webauthn";

/// `selfservice.methods.totp.*` (Kratos' keys).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct TotpMethodSettings {
    pub enabled: bool,
    pub config: TotpConfig,
}

/// `selfservice.methods.totp.config.*`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TotpConfig {
    /// The issuer authenticator apps show beside the account name.
    pub issuer: String,
}

impl Default for TotpConfig {
    fn default() -> Self {
        TotpConfig {
            issuer: "Olympus".into(),
        }
    }
}

/// `selfservice.methods.lookup_secret.*` (Kratos' keys).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct LookupSecretMethodSettings {
    pub enabled: bool,
}

/// `required_aal` of whoami and of the settings flow (Kratos' values).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum RequiredAal {
    /// An identity with a second factor needs an aal2 session ("strict", the default).
    #[default]
    HighestAvailable,
    /// Any session will do ("lax").
    Aal1,
}

/// What the service keeps for the second factors: the ciphers and the enabled methods.
pub struct Mfa {
    pub totp: Option<TotpConfig>,
    pub lookup: bool,
    /// `selfservice.methods.webauthn.enabled`: security keys count as a second factor.
    pub webauthn: bool,
    /// Seals TOTP URLs (in credentials and in settings flows).
    pub totp_cipher: KeyCipher,
    /// Seals recovery codes and keys their hashes.
    pub lookup_cipher: KeyCipher,
    /// Key the hashes recovery codes are found by.
    pub lookup_hash_keys: Vec<Vec<u8>>,
}

impl Mfa {
    pub fn new(settings: &crate::config::Settings) -> Self {
        let methods = &settings.selfservice.methods;
        let cipher = &settings.secrets.cipher;
        Mfa {
            totp: methods.totp.enabled.then(|| methods.totp.config.clone()),
            lookup: methods.lookup_secret.enabled,
            webauthn: methods.webauthn.enabled,
            totp_cipher: KeyCipher::new(cipher, b"olympus/identity-svc/totp"),
            lookup_cipher: KeyCipher::new(cipher, b"olympus/identity-svc/lookup_secret"),
            lookup_hash_keys: lookup::hash_keys(cipher),
        }
    }

    /// The enabled second-factor methods, in the order the UI shows them.
    pub fn enabled(&self) -> Vec<&'static str> {
        let mut methods = Vec::new();
        if self.totp.is_some() {
            methods.push(TOTP);
        }
        if self.lookup {
            methods.push(LOOKUP);
        }
        if self.webauthn {
            methods.push(WEBAUTHN);
        }
        methods
    }
}

/// The second factors `identity_id` has among the enabled methods (empty: aal1 is the highest
/// it can reach).
pub async fn second_factors(state: &AppState, identity_id: Id) -> Result<Vec<String>, ApiError> {
    let types: Vec<String> = state.mfa.enabled().iter().map(|m| m.to_string()).collect();
    if types.is_empty() {
        return Ok(Vec::new());
    }
    state
        .db
        .read(move |c| store::credential_types(c, identity_id, &types).map_err(ApiError::from))
        .await
}
