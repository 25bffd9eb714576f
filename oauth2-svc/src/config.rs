//! oauth2-svc settings. Keys follow Ory Hydra's names where the concept is the same; see
//! docs/configuration.md for the full list. Environment variables use the `OAUTH2_` prefix.

use std::path::Path;

use serde::{Deserialize, Serialize};
use service_kit::db::{DatabaseSettings, Dsn};
use service_kit::settings::{self, LogSettings, SecretList, ServeSettings, SettingsError};
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
        Ok(Validated {
            settings: self,
            dsn,
            issuer,
        })
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
