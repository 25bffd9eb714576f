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
    /// How long a remembered login lasts when the UI does not say (`remember_for: 0`).
    #[serde(with = "duration")]
    pub authentication_session: Duration,
}

impl Default for Ttl {
    fn default() -> Self {
        Ttl {
            login_consent_request: Duration::from_secs(30 * 60),
            auth_code: Duration::from_secs(10 * 60),
            access_token: Duration::from_secs(3600),
            id_token: Duration::from_secs(3600),
            authentication_session: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// `oauth2.*`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Settings {
    pub pkce: Pkce,
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
}

impl Settings {
    /// Defaults, then `file`, then `OAUTH2_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
        settings::load(Settings::default(), ENV_PREFIX, file)
    }

    /// Checks every setting; the error names the key.
    pub fn validate(self) -> Result<Validated, SettingsError> {
        let dsn = Dsn::parse(&self.dsn)?;
        self.secrets.system.validate("secrets.system")?;
        self.secrets.cookie.validate("secrets.cookie")?;
        self.serve.request_limits.validate()?;
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
        Ok(Validated {
            settings: self,
            dsn,
            issuer,
            login_ui,
            consent_ui,
            error_ui,
        })
    }
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
