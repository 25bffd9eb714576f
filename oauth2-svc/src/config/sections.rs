//! The sections of oauth2-svc's settings below the top level: TTLs, grant and token options,
//! keys and subject identifiers (Hydra's key names).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use service_kit::settings::{SettingsError, duration};

/// `ttl.*` (Hydra's keys).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Ttl {
    /// How long a login or consent challenge can be answered.
    #[serde(with = "duration")]
    pub login_consent_request: Duration,
    #[serde(with = "duration")]
    pub auth_code: Duration,
    #[serde(with = "duration")]
    pub access_token: Duration,
    #[serde(with = "duration")]
    pub id_token: Duration,
    /// Lifetime of each refresh token (a rotation issues a new one with a fresh lifetime).
    #[serde(with = "duration")]
    pub refresh_token: Duration,
    /// How long a remembered login lasts when the UI does not say (`remember_for: 0`).
    #[serde(with = "duration")]
    pub authentication_session: Duration,
    /// Lifetime of a device code and its user code (RFC 8628).
    #[serde(with = "duration")]
    pub device_user_code: Duration,
}

impl Default for Ttl {
    fn default() -> Self {
        Ttl {
            login_consent_request: Duration::from_secs(30 * 60),
            auth_code: Duration::from_secs(10 * 60),
            access_token: Duration::from_secs(3600),
            id_token: Duration::from_secs(3600),
            refresh_token: Duration::from_secs(720 * 3600),
            authentication_session: Duration::from_secs(30 * 24 * 3600),
            device_user_code: Duration::from_secs(10 * 60),
        }
    }
}

/// `oauth2.*`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Settings {
    pub pkce: Pkce,
    pub client_authentication: ClientAuthentication,
    pub keys: KeySettings,
    pub grant: GrantSettings,
    pub device_authorization: DeviceAuthorization,
}

/// `oauth2.client_authentication.*`: throttling of secret guessing (security case CA-10).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClientAuthentication {
    /// Failed secret checks one client address may make for one client_id in a window;
    /// further attempts from that address (right or wrong) answer 429 until the window ends.
    /// Other addresses, the real client's included, are not affected.
    pub max_failures: u32,
    #[serde(with = "duration")]
    pub window: Duration,
    /// Proxies (addresses or ranges) whose `X-Forwarded-For` names the client address.
    pub trusted_proxies: Vec<String>,
}

impl Default for ClientAuthentication {
    fn default() -> Self {
        ClientAuthentication {
            max_failures: 20,
            window: Duration::from_secs(60),
            trusted_proxies: Vec::new(),
        }
    }
}

impl ClientAuthentication {
    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        const KEY: &str = "oauth2.client_authentication";
        if self.max_failures == 0 {
            return Err(SettingsError::invalid(
                format!("{KEY}.max_failures"),
                "must be at least 1",
            ));
        }
        if self.window < Duration::from_secs(1) {
            return Err(SettingsError::invalid(
                format!("{KEY}.window"),
                "must be at least 1s",
            ));
        }
        service_kit::net::TrustedProxies::parse(
            &self.trusted_proxies,
            &format!("{KEY}.trusted_proxies"),
        )
        .map(|_| ())
    }
}

/// `oauth2.device_authorization.*` (RFC 8628).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeviceAuthorization {
    /// The polling interval a device is told (`interval`); `slow_down` adds 5s each time.
    #[serde(with = "duration")]
    pub token_polling_interval: Duration,
    /// How many wrong user codes all live device challenges together may have seen before
    /// every user code is refused (429) until some of those challenges expire: a circuit
    /// breaker bounding guessing across replicas, whatever number of challenges a guesser opens.
    pub max_failed_user_codes: u32,
    /// The same bound for the live challenges of one browser (its binding cookie): a guesser
    /// who keeps its cookie is stopped long before the global breaker trips for everyone.
    pub max_failed_user_codes_per_browser: u32,
}

impl Default for DeviceAuthorization {
    fn default() -> Self {
        DeviceAuthorization {
            token_polling_interval: Duration::from_secs(5),
            max_failed_user_codes: 10_000,
            max_failed_user_codes_per_browser: 10,
        }
    }
}

/// `oauth2.grant.jwt.*`: assertions of the RFC 7523 JWT bearer grant.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JwtGrant {
    /// How far in the future an assertion's `exp` (and in the past its `iat`) may be.
    #[serde(with = "duration")]
    pub max_ttl: Duration,
}

impl Default for JwtGrant {
    fn default() -> Self {
        JwtGrant {
            max_ttl: Duration::from_secs(720 * 3600),
        }
    }
}

/// `oauth2.grant.*`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct GrantSettings {
    pub refresh_token: RefreshTokenGrant,
    pub jwt: JwtGrant,
}

/// `oauth2.grant.refresh_token.*`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct RefreshTokenGrant {
    /// How long after its use a refresh token may be presented once more (a client retry)
    /// without counting as a replay; 0 turns the grace off. At most 5m (Hydra's bound).
    #[serde(with = "duration")]
    pub rotation_grace_period: Duration,
}

/// `strategies.*` (Hydra's keys).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Strategies {
    /// `opaque` (default) or `jwt` (RFC 9068); a client's `access_token_strategy` overrides it.
    pub access_token: String,
}

impl Default for Strategies {
    fn default() -> Self {
        Strategies {
            access_token: "opaque".into(),
        }
    }
}

/// `oauth2.pkce.*`: PKCE (S256 only) is always required for public clients; `enforced`
/// requires it of every client (RFC 9700 §2.1.1).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Pkce {
    pub enforced: bool,
}

impl Default for Pkce {
    fn default() -> Self {
        Pkce { enforced: true }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct SelfUrls {
    /// The issuer, byte for byte as it appears in tokens and discovery.
    pub issuer: Option<String>,
}

/// `oauth2.keys.*`: signing-key rotation.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KeySettings {
    /// How long a new key is published in the JWKS before it signs, so that relying parties
    /// that cache the JWKS know it before they see a token it signed.
    #[serde(with = "duration")]
    pub publish_ahead: Duration,
    /// How often each replica re-reads the key sets from the database.
    #[serde(with = "duration")]
    pub reload_interval: Duration,
}

impl Default for KeySettings {
    fn default() -> Self {
        KeySettings {
            publish_ahead: Duration::from_secs(10 * 60),
            reload_interval: Duration::from_secs(10),
        }
    }
}

impl KeySettings {
    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        // Every replica must have re-read the keys before a new one starts signing.
        let ahead = self.publish_ahead;
        if self.reload_interval < Duration::from_secs(1)
            || (!ahead.is_zero() && self.reload_interval > ahead)
        {
            return Err(SettingsError::invalid(
                "oauth2.keys.reload_interval",
                "must be at least 1s and at most oauth2.keys.publish_ahead",
            ));
        }
        Ok(())
    }
}

/// `oidc.*`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    pub subject_identifiers: SubjectIdentifiers,
    pub dynamic_client_registration: DynamicClientRegistration,
}

/// `oidc.dynamic_client_registration.*`: RFC 7591/7592 at `/oauth2/register`, off by default.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DynamicClientRegistration {
    pub enabled: bool,
    /// The scope of a registration that names none (Hydra's key).
    pub default_scope: Vec<String>,
    /// The most a registration may ask for; wider requests are refused (Hydra has no limit).
    pub allowed_scope: Vec<String>,
    /// RFC 7591 §3 initial access tokens: when any are set, registering needs one of them as a
    /// bearer token; when none are, registration is open to anyone who reaches the endpoint.
    pub initial_access_tokens: service_kit::settings::SecretList,
}

impl Default for DynamicClientRegistration {
    fn default() -> Self {
        let scopes = |s: &[&str]| s.iter().map(|s| s.to_string()).collect();
        DynamicClientRegistration {
            enabled: false,
            default_scope: scopes(&["openid", "offline_access", "offline"]),
            allowed_scope: scopes(&["openid", "offline_access", "offline", "profile", "email"]),
            initial_access_tokens: Default::default(),
        }
    }
}

impl DynamicClientRegistration {
    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        const KEY: &str = "oidc.dynamic_client_registration";
        if let Some(scope) = self
            .default_scope
            .iter()
            .find(|s| !self.allowed_scope.contains(s))
        {
            return Err(SettingsError::invalid(
                format!("{KEY}.default_scope"),
                format_args!("names {scope}, which allowed_scope does not list"),
            ));
        }
        if !self.initial_access_tokens.all().is_empty() {
            self.initial_access_tokens
                .validate(&format!("{KEY}.initial_access_tokens"))?;
        }
        Ok(())
    }
}

/// `oidc.subject_identifiers.*` (Hydra's keys, OIDC Core §8).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SubjectIdentifiers {
    /// `public` and/or `pairwise`.
    pub supported_types: Vec<String>,
    pub pairwise: Pairwise,
}

impl Default for SubjectIdentifiers {
    fn default() -> Self {
        SubjectIdentifiers {
            supported_types: vec!["public".into()],
            pairwise: Pairwise::default(),
        }
    }
}

/// `oidc.subject_identifiers.pairwise.*`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Pairwise {
    /// Mixed into every pairwise subject; changing it changes every pairwise `sub`.
    pub salt: Option<service_kit::settings::Secret>,
}

impl SubjectIdentifiers {
    pub fn pairwise_enabled(&self) -> bool {
        self.supported_types.iter().any(|t| t == "pairwise")
    }

    pub(super) fn validate(&self) -> Result<(), SettingsError> {
        const KEY: &str = "oidc.subject_identifiers.supported_types";
        if self.supported_types.is_empty()
            || self
                .supported_types
                .iter()
                .any(|t| t != "public" && t != "pairwise")
        {
            return Err(SettingsError::invalid(
                KEY,
                "must list public and/or pairwise",
            ));
        }
        let salt_len = self.pairwise.salt.as_ref().map_or(0, |s| s.expose().len());
        if self.pairwise_enabled() && salt_len < 32 {
            return Err(SettingsError::invalid(
                "oidc.subject_identifiers.pairwise.salt",
                "is required (at least 32 characters) when pairwise is a supported type",
            ));
        }
        Ok(())
    }
}
