//! identity-svc settings. Keys follow Ory Kratos' names where the concept is the same; see
//! docs/configuration.md for the full list. Environment variables use the `IDENTITY_` prefix.

use std::path::Path;

use serde::{Deserialize, Serialize};
use service_kit::db::{DatabaseSettings, Dsn};
use service_kit::settings::{self, LogSettings, SecretList, ServeSettings, SettingsError};
use url::Url;

pub const ENV_PREFIX: &str = "IDENTITY_";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `postgres://…` or `sqlite://path`.
    pub dsn: String,
    pub database: DatabaseSettings,
    pub serve: ServeSettings,
    pub log: LogSettings,
    pub secrets: Secrets,
    pub urls: Urls,
    pub identity: IdentitySettings,
    /// Password hashing (Kratos' `hashers.*`).
    pub hashers: crate::credential::HashersSettings,
    pub selfservice: crate::flow::SelfServiceSettings,
    pub session: crate::session::SessionSettings,
    /// `janitor.*`: deletion of expired rows (see docs/operations.md).
    pub janitor: service_kit::janitor::JanitorSettings,
    /// `hooks.*`: web hooks told when an identity ends (off unless a URL is set).
    pub hooks: crate::hooks::HooksSettings,
    /// `outbox.*`: delivery of notices to other systems (retries, batches, leases).
    pub outbox: crate::outbox::OutboxSettings,
    /// `courier.*`: outgoing mail (SMTP, templates, retries) of the verification and recovery flows.
    pub courier: crate::courier::CourierSettings,
    /// The time flows and sessions run on; tests move it. Not a setting.
    #[serde(skip)]
    pub clock: service_kit::clock::Clock,
    /// Development mode: allows an `http://` public URL on any host and non-`Secure` cookies.
    pub dev: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    /// Session and CSRF cookies. The first signs; all verify.
    pub cookie: SecretList,
    /// Encryption of TOTP secrets and upstream tokens. The first encrypts; all decrypt.
    pub cipher: SecretList,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Urls {
    #[serde(rename = "self")]
    pub self_: SelfUrls,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct SelfUrls {
    /// The URL browsers and other services reach the public listener at (Kratos'
    /// `serve.public.base_url`); identities' `schema_url` is built from it.
    pub public: Option<String>,
}

/// `identity.*`: the trait schemas (Kratos' keys).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IdentitySettings {
    /// The schema new self-service registrations use.
    pub default_schema_id: String,
    /// `file://path` or `base64://…` JSON Schemas; empty means the built-in `default` schema.
    pub schemas: Vec<SchemaSource>,
    /// The largest body `PATCH /admin/identities` (batch import) reads, in bytes; other JSON
    /// bodies stay under `serve.request_limits.json_body_bytes`.
    pub batch_import_body_bytes: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SchemaSource {
    pub id: String,
    pub url: String,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        IdentitySettings {
            default_schema_id: "default".into(),
            schemas: Vec::new(),
            batch_import_body_bytes: 4 * 1024 * 1024,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            dsn: "sqlite://data/identity.sqlite".into(),
            database: DatabaseSettings::default(),
            serve: ServeSettings::with_ports(4433, 4434),
            log: LogSettings::default(),
            secrets: Secrets::default(),
            urls: Urls::default(),
            identity: IdentitySettings::default(),
            hashers: Default::default(),
            selfservice: Default::default(),
            session: Default::default(),
            janitor: Default::default(),
            hooks: Default::default(),
            outbox: Default::default(),
            courier: Default::default(),
            clock: Default::default(),
            dev: false,
        }
    }
}

/// Settings after validation: what the service runs with.
#[derive(Clone, Debug)]
pub struct Validated {
    pub settings: Settings,
    pub dsn: Dsn,
    pub public_url: Url,
    pub flows: crate::flow::FlowConfig,
    /// The identity lifecycle web hook, when it is on.
    pub lifecycle_hook: Option<crate::hooks::LifecycleHook>,
    pub courier: crate::courier::CourierConfig,
}

impl Settings {
    /// Defaults, then `file`, then `IDENTITY_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
        settings::load(Settings::default(), ENV_PREFIX, file)
    }

    /// Checks every setting; the error names the key. The schemas themselves are loaded (and
    /// their errors reported under `identity.schemas[i].url`) by `schema::Registry::load`.
    pub fn validate(self) -> Result<Validated, SettingsError> {
        let dsn = Dsn::parse(&self.dsn)?;
        self.secrets.cookie.validate("secrets.cookie")?;
        self.secrets.cipher.validate("secrets.cipher")?;
        self.serve.request_limits.validate()?;
        self.janitor.validate()?;
        let public_url = parse_public_url(self.urls.self_.public.as_deref(), self.dev)?;
        let flows = self.selfservice.validate()?;
        self.session.validate()?;
        let lifecycle_hook = self.hooks.validate()?;
        self.outbox.validate()?;
        let courier = self.courier.validate(&self.outbox)?;
        if (flows.verification.enabled || flows.recovery.enabled) && courier.smtp.is_none() {
            return Err(SettingsError::invalid(
                "courier.smtp.connection_uri",
                "is required when the verification or recovery flow is enabled (they send mail)",
            ));
        }
        self.selfservice.flows.login.brute_force.validate()?;
        self.selfservice.methods.password.config.validate()?;
        self.selfservice.methods.passkey.validate()?;
        self.selfservice.methods.webauthn.validate()?;
        Ok(Validated {
            settings: self,
            dsn,
            public_url,
            flows,
            lifecycle_hook,
            courier,
        })
    }
}

fn parse_public_url(raw: Option<&str>, dev: bool) -> Result<Url, SettingsError> {
    settings::browser_url(
        "urls.self.public",
        raw,
        dev,
        "the public URL of this service",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_must_be_https_outside_loopback() {
        assert!(parse_public_url(Some("https://id.example.com"), false).is_ok());
        assert!(parse_public_url(Some("http://127.0.0.1:4433"), false).is_ok());
        assert!(parse_public_url(Some("http://id.example.com"), false).is_err());
        assert!(parse_public_url(Some("http://id.example.com"), true).is_ok());
        assert!(parse_public_url(Some("https://id.example/?x=1"), false).is_err());
        assert!(parse_public_url(None, false).is_err());
    }
}
