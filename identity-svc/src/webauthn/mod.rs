//! Passkeys (Kratos' `passkey` method: passwordless, aal1) and WebAuthn security keys (the
//! `webauthn` method: a second factor, aal2), verified by webauthn-rs. This module owns their
//! settings, the relying party, the sealing of ceremony state into a flow's `internal_context`
//! and the stored credential `config`; `settings` and `login` hook the ceremonies into the flows.

pub mod login;
pub mod nodes;
pub mod script;
pub mod settings;
pub mod store;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use service_kit::cipher::KeyCipher;
use service_kit::db::Id;
use service_kit::settings::SettingsError;
use url::Url;
use webauthn_rs::prelude::{Passkey, Webauthn, WebauthnBuilder};

use crate::error::ApiError;
use crate::state::AppState;

const CIPHER_SALT: &[u8] = b"olympus/identity-svc/webauthn";

/// `selfservice.methods.passkey.*` (Kratos' keys).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct PasskeyMethodSettings {
    pub enabled: bool,
    pub config: PasskeyConfig,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct PasskeyConfig {
    pub rp: RpSettings,
}

/// `selfservice.methods.webauthn.*` (Kratos' keys).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct WebauthnMethodSettings {
    pub enabled: bool,
    pub config: WebauthnConfig,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct WebauthnConfig {
    /// Kratos' passwordless WebAuthn; Olympus offers passwordless sign-in as `passkey` only.
    pub passwordless: bool,
    pub rp: RpSettings,
}

/// The relying party: the domain credentials are bound to and the origins pages run on.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct RpSettings {
    pub id: Option<String>,
    pub display_name: Option<String>,
    pub origins: Vec<String>,
}

impl RpSettings {
    fn relying_party(&self, key: &str) -> Result<Webauthn, SettingsError> {
        let id = self
            .id
            .as_deref()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| SettingsError::invalid(format!("{key}.id"), "is required"))?;
        let origins = self
            .origins
            .iter()
            .enumerate()
            .map(|(i, raw)| {
                Url::parse(raw)
                    .map_err(|e| SettingsError::invalid(format!("{key}.origins[{i}]"), e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let Some((first, rest)) = origins.split_first() else {
            return Err(SettingsError::invalid(
                format!("{key}.origins"),
                "needs at least one origin",
            ));
        };
        let name = self.display_name.as_deref().unwrap_or(id);
        let mut builder = WebauthnBuilder::new(id, first)
            .map_err(|e| SettingsError::invalid(key, e))?
            .rp_name(name);
        for origin in rest {
            builder = builder.append_allowed_origin(origin);
        }
        builder.build().map_err(|e| SettingsError::invalid(key, e))
    }
}

impl PasskeyMethodSettings {
    /// An enabled method needs a relying party id and origins (the service refuses to start).
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.enabled {
            self.config
                .rp
                .relying_party("selfservice.methods.passkey.config.rp")?;
        }
        Ok(())
    }
}

impl WebauthnMethodSettings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        if !self.enabled {
            return Ok(());
        }
        if self.config.passwordless {
            return Err(SettingsError::invalid(
                "selfservice.methods.webauthn.config.passwordless",
                "is not supported: enable selfservice.methods.passkey for passwordless sign-in",
            ));
        }
        self.config
            .rp
            .relying_party("selfservice.methods.webauthn.config.rp")
            .map(|_| ())
    }
}

/// The two methods share the ceremonies and differ in their names and assurance level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Passkey,
    Webauthn,
}

impl Method {
    pub const ALL: [Method; 2] = [Method::Passkey, Method::Webauthn];

    /// The method, the credential type, the node group and the `internal_context` key.
    pub fn name(self) -> &'static str {
        match self {
            Method::Passkey => "passkey",
            Method::Webauthn => "webauthn",
        }
    }

    /// The relying party when the method is enabled.
    pub fn relying_party(self, state: &AppState) -> Option<Webauthn> {
        let methods = &state.settings.settings.selfservice.methods;
        let (enabled, rp, key) = match self {
            Method::Passkey => (
                methods.passkey.enabled,
                &methods.passkey.config.rp,
                "passkey",
            ),
            Method::Webauthn => (
                methods.webauthn.enabled,
                &methods.webauthn.config.rp,
                "webauthn",
            ),
        };
        // Validated at start, so building again cannot fail; a failure reads as disabled.
        enabled.then(|| rp.relying_party(key).ok()).flatten()
    }
}

/// Ceremony state sealed under `secrets.cipher`, bound to the flow and the method.
pub fn seal(
    state: &AppState,
    flow: Id,
    method: Method,
    ceremony: &Value,
) -> Result<Value, ApiError> {
    let cipher = KeyCipher::new(&state.settings.settings.secrets.cipher, CIPHER_SALT);
    let plain = serde_json::to_vec(ceremony).map_err(anyhow::Error::from)?;
    let sealed = cipher.seal(&plain, &aad(flow, method))?;
    Ok(json!({"fp": sealed.fingerprint, "ct": sealed.ciphertext}))
}

/// Opens what [`seal`] made for this flow and method; `None` if it does not authenticate.
pub fn open<T: serde::de::DeserializeOwned>(
    state: &AppState,
    flow: Id,
    method: Method,
    sealed: &Value,
) -> Option<T> {
    let cipher = KeyCipher::new(&state.settings.settings.secrets.cipher, CIPHER_SALT);
    let (fp, ct) = (sealed["fp"].as_str()?, sealed["ct"].as_str()?);
    let (plain, _) = cipher.open(fp, ct, &aad(flow, method))?;
    serde_json::from_slice(&plain).ok()
}

fn aad(flow: Id, method: Method) -> Vec<u8> {
    format!("{}/{}", method.name(), flow.0).into_bytes()
}

/// The stored `config` of a passkey or webauthn credential (Kratos' shape: `credentials` and
/// `user_handle`), each entry holding webauthn-rs' credential (public key and counter).
#[derive(Serialize, Deserialize, Default, Clone)]
pub struct CredentialsConfig {
    pub user_handle: String,
    pub credentials: Vec<StoredKey>,
}

#[derive(Serialize, Deserialize, Clone)]
pub struct StoredKey {
    /// The credential id, base64url.
    pub id: String,
    pub display_name: String,
    pub added_at: chrono::DateTime<chrono::Utc>,
    pub key: Passkey,
}

impl CredentialsConfig {
    pub fn from_json(config: Option<&Value>) -> Option<CredentialsConfig> {
        config.and_then(|c| serde_json::from_value(c.clone()).ok())
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// A credential id as the wire and the config name it: base64url without padding.
pub fn credential_id(key: &Passkey) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.cred_id().as_slice())
}
