//! oauth2-svc settings. Keys follow Ory Hydra's names where the concept is the same; see
//! docs/configuration.md for the full list. Environment variables use the `OAUTH2_` prefix.

use std::path::Path;

use serde::{Deserialize, Serialize};
use service_kit::db::{DatabaseSettings, Dsn};
use std::time::Duration;

use service_kit::settings::{
    self, LogSettings, SecretList, ServeSettings, SettingsError, duration,
};
use url::Url;

pub const ENV_PREFIX: &str = "OAUTH2_";

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
    pub ttl: Ttl,
    pub oauth2: OAuth2Settings,
    pub oidc: OidcSettings,
    pub strategies: Strategies,
    /// `janitor.*`: deletion of expired rows (see docs/operations.md).
    pub janitor: service_kit::janitor::JanitorSettings,
    /// The time challenges, codes and tokens run on; tests move it. Not a setting.
    #[serde(skip)]
    pub clock: service_kit::clock::Clock,
    /// Development mode: allows an `http://` issuer on any host and non-`Secure` cookies.
    pub dev: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    /// Token HMACs, client-secret HMACs and key encryption. The first signs; all verify.
    pub system: SecretList,
    /// Cookies that bind challenges to a browser.
    pub cookie: SecretList,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Urls {
    #[serde(rename = "self")]
    pub self_: SelfUrls,
    /// The login UI (login-ui's `/login`); browsers arrive with `?login_challenge=`.
    pub login: Option<String>,
    /// The consent UI (login-ui's `/consent`); browsers arrive with `?consent_challenge=`.
    pub consent: Option<String>,
    /// Where errors go that cannot be sent to a trusted redirect_uri (login-ui's `/error`).
    pub error: Option<String>,
    pub device: DeviceUrls,
    /// The logout UI (login-ui's `/logout`); browsers arrive with `?logout_challenge=`.
    /// Defaults to `/logout` beside `urls.login`.
    pub logout: Option<String>,
    /// Where a logout ends when the relying party named no `post_logout_redirect_uri`.
    /// Defaults to `<issuer>/oauth2/fallbacks/logout/callback` (a "signed out" page).
    pub post_logout_redirect: Option<String>,
}

/// `urls.device.*` (Hydra's keys): login-ui's pages of the device flow (RFC 8628).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct DeviceUrls {
    /// Where the user enters the user code; browsers arrive with `?device_challenge=`.
    /// Defaults to `/device` beside `urls.login`.
    pub verification: Option<String>,
    /// Where the browser ends after the device was approved or denied. Defaults to
    /// `/device/done` beside `urls.login`.
    pub success: Option<String>,
}

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
    pub keys: KeySettings,
    pub grant: GrantSettings,
    pub device_authorization: DeviceAuthorization,
}

/// `oauth2.device_authorization.*` (RFC 8628).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeviceAuthorization {
    /// The polling interval a device is told (`interval`); `slow_down` adds 5s each time.
    #[serde(with = "duration")]
    pub token_polling_interval: Duration,
}

impl Default for DeviceAuthorization {
    fn default() -> Self {
        DeviceAuthorization {
            token_polling_interval: Duration::from_secs(5),
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
    fn validate(&self) -> Result<(), SettingsError> {
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

    fn validate(&self) -> Result<(), SettingsError> {
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

impl Default for Settings {
    fn default() -> Self {
        Settings {
            dsn: "sqlite://data/oauth2.sqlite".into(),
            database: DatabaseSettings::default(),
            serve: ServeSettings::with_ports(4444, 4445),
            log: LogSettings::default(),
            secrets: Secrets::default(),
            urls: Urls::default(),
            ttl: Ttl::default(),
            oauth2: OAuth2Settings::default(),
            oidc: OidcSettings::default(),
            strategies: Strategies::default(),
            janitor: Default::default(),
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
    pub issuer: Url,
    pub login_ui: Url,
    pub consent_ui: Url,
    pub error_ui: Url,
    /// `urls.device.verification` and `urls.device.success`, defaults applied.
    pub device_verification_ui: Url,
    pub device_success_ui: Url,
    /// `urls.logout` and `urls.post_logout_redirect`, defaults applied.
    pub logout_ui: Url,
    pub post_logout_redirect: Url,
}

impl Settings {
    /// Defaults, then `file`, then `OAUTH2_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
        settings::load(Settings::default(), ENV_PREFIX, file)
    }

    /// Checks every setting; the error names the key.
    pub fn validate(self) -> Result<Validated, SettingsError> {
        let dsn = Dsn::parse(&self.dsn)?;
        self.oidc.subject_identifiers.validate()?;
        self.oauth2.keys.validate()?;
        self.secrets.system.validate("secrets.system")?;
        self.secrets.cookie.validate("secrets.cookie")?;
        self.serve.request_limits.validate()?;
        self.janitor.validate()?;
        let issuer = parse_issuer(self.urls.self_.issuer.as_deref(), self.dev)?;
        let login_ui = ui_url("urls.login", self.urls.login.as_deref())?;
        let consent_ui = ui_url("urls.consent", self.urls.consent.as_deref())?;
        let error_ui = ui_url("urls.error", self.urls.error.as_deref())?;
        if self.ttl.login_consent_request < Duration::from_secs(60) {
            return Err(SettingsError::invalid(
                "ttl.login_consent_request",
                "must be at least 1m",
            ));
        }
        if self.ttl.auth_code.is_zero() || self.ttl.auth_code > Duration::from_secs(3600) {
            return Err(SettingsError::invalid(
                "ttl.auth_code",
                "must be between 1s and 1h",
            ));
        }
        validate_tokens(&self)?;
        let (device_verification_ui, device_success_ui) = validate_device(&self, &login_ui)?;
        let (logout_ui, post_logout_redirect) = validate_logout(&self, &login_ui, &issuer)?;
        Ok(Validated {
            settings: self,
            dsn,
            issuer,
            login_ui,
            consent_ui,
            error_ui,
            device_verification_ui,
            device_success_ui,
            logout_ui,
            post_logout_redirect,
        })
    }
}

/// `urls.logout` (default: login-ui's `/logout` beside `urls.login`) and
/// `urls.post_logout_redirect` (default: the issuer's own "signed out" page).
fn validate_logout(
    settings: &Settings,
    login_ui: &Url,
    issuer: &Url,
) -> Result<(Url, Url), SettingsError> {
    let logout = match settings.urls.logout.as_deref() {
        Some(raw) => ui_url("urls.logout", Some(raw))?,
        None => login_ui
            .join("/logout")
            .map_err(|e| SettingsError::invalid("urls.logout", e))?,
    };
    let fallback = format!(
        "{}/oauth2/fallbacks/logout/callback",
        issuer.as_str().trim_end_matches('/')
    );
    let post_logout = ui_url(
        "urls.post_logout_redirect",
        Some(
            settings
                .urls
                .post_logout_redirect
                .as_deref()
                .unwrap_or(&fallback),
        ),
    )?;
    Ok((logout, post_logout))
}

/// The device flow (RFC 8628) and JWT bearer grant (RFC 7523) settings; the device pages
/// default to login-ui's `/device` and `/device/done` beside `urls.login`.
fn validate_device(settings: &Settings, login_ui: &Url) -> Result<(Url, Url), SettingsError> {
    let beside_login = |key: &str, raw: Option<&str>, path: &str| match raw {
        Some(raw) => ui_url(key, Some(raw)),
        None => login_ui
            .join(path)
            .map_err(|e| SettingsError::invalid(key, e)),
    };
    let verification = beside_login(
        "urls.device.verification",
        settings.urls.device.verification.as_deref(),
        "/device",
    )?;
    let success = beside_login(
        "urls.device.success",
        settings.urls.device.success.as_deref(),
        "/device/done",
    )?;
    let ttl = settings.ttl.device_user_code;
    if ttl < Duration::from_secs(60) || ttl > Duration::from_secs(3600) {
        return Err(SettingsError::invalid(
            "ttl.device_user_code",
            "must be between 1m and 1h",
        ));
    }
    let interval = settings.oauth2.device_authorization.token_polling_interval;
    if interval < Duration::from_secs(1) || interval > Duration::from_secs(60) {
        return Err(SettingsError::invalid(
            "oauth2.device_authorization.token_polling_interval",
            "must be between 1s and 1m",
        ));
    }
    let max_ttl = settings.oauth2.grant.jwt.max_ttl;
    if max_ttl < Duration::from_secs(60) || max_ttl > Duration::from_secs(180 * 24 * 3600) {
        return Err(SettingsError::invalid(
            "oauth2.grant.jwt.max_ttl",
            "must be between 1m and 180d",
        ));
    }
    Ok((verification, success))
}

/// The token settings of issue 6: strategies, refresh lifetime and grace period.
fn validate_tokens(settings: &Settings) -> Result<(), SettingsError> {
    if !matches!(settings.strategies.access_token.as_str(), "opaque" | "jwt") {
        return Err(SettingsError::invalid(
            "strategies.access_token",
            "must be opaque or jwt",
        ));
    }
    if settings.ttl.refresh_token < Duration::from_secs(60) {
        return Err(SettingsError::invalid(
            "ttl.refresh_token",
            "must be at least 1m",
        ));
    }
    let grace = settings.oauth2.grant.refresh_token.rotation_grace_period;
    if grace > Duration::from_secs(300) {
        return Err(SettingsError::invalid(
            "oauth2.grant.refresh_token.rotation_grace_period",
            "must be at most 5m",
        ));
    }
    Ok(())
}

fn ui_url(key: &str, raw: Option<&str>) -> Result<Url, SettingsError> {
    let raw = raw.ok_or_else(|| SettingsError::invalid(key, "is required (a page of login-ui)"))?;
    let url = Url::parse(raw).map_err(|e| SettingsError::invalid(key, e))?;
    match url.scheme() {
        "http" | "https" if url.host_str().is_some() => Ok(url),
        _ => Err(SettingsError::invalid(
            key,
            "must be an absolute http or https URL",
        )),
    }
}

fn parse_issuer(raw: Option<&str>, dev: bool) -> Result<Url, SettingsError> {
    const KEY: &str = "urls.self.issuer";
    let raw = raw.ok_or_else(|| {
        SettingsError::invalid(KEY, "is required (the public URL of this service)")
    })?;
    let url = Url::parse(raw).map_err(|e| SettingsError::invalid(KEY, e))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(SettingsError::invalid(
            KEY,
            "must not have a query or fragment",
        ));
    }
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" => Ok(url),
        "http" if dev || loopback => Ok(url),
        _ => Err(SettingsError::invalid(
            KEY,
            "must be an https URL (http is allowed on loopback or with dev = true)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_must_be_https_outside_loopback() {
        assert!(parse_issuer(Some("https://auth.example.com"), false).is_ok());
        assert!(parse_issuer(Some("http://127.0.0.1:4444"), false).is_ok());
        assert!(parse_issuer(Some("http://auth.example.com"), false).is_err());
        assert!(parse_issuer(Some("http://auth.example.com"), true).is_ok());
        assert!(parse_issuer(Some("https://a.example/?x=1"), false).is_err());
        assert!(parse_issuer(None, false).is_err());
    }
}
