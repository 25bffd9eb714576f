//! oauth2-svc settings. Keys follow Ory Hydra's names where the concept is the same; see
//! docs/configuration.md for the full list. Environment variables use the `OAUTH2_` prefix.

use std::path::Path;

use serde::{Deserialize, Serialize};
use service_kit::db::{DatabaseSettings, Dsn};
use std::time::Duration;

use service_kit::settings::{self, LogSettings, SecretList, ServeSettings, SettingsError};
use url::Url;

mod sections;

pub use sections::*;

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
        self.oidc.dynamic_client_registration.validate()?;
        self.oauth2.client_authentication.validate()?;
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
