//! login-ui settings. Keys follow Ory's names where the concept is the same; see
//! docs/configuration.md for the full list. Environment variables use the `LOGIN_UI_` prefix.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use service_kit::settings::{
    self, LogSettings, SecretList, ServeSettings, SettingsError, duration, upstream_url,
};
use url::Url;

pub const ENV_PREFIX: &str = "LOGIN_UI_";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub serve: ServeSettings,
    pub log: LogSettings,
    pub secrets: Secrets,
    pub urls: Urls,
    /// Deadline of every call to identity-svc or oauth2-svc, connection included.
    #[serde(with = "duration")]
    pub upstream_timeout: Duration,
    pub ui: UiSettings,
    /// `hooks.*`: web hooks login-ui receives on its admin listener.
    pub hooks: HooksSettings,
    /// Development mode: allows an `http://` public URL on any host and non-`Secure` cookies.
    pub dev: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    /// CSRF and challenge-binding cookies of login-ui's own forms. The first signs; all verify.
    pub cookie: SecretList,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Urls {
    #[serde(rename = "self")]
    pub self_: PublicUrl,
    pub identity: IdentityUrls,
    pub oauth2: OAuth2Urls,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct PublicUrl {
    /// Where browsers reach login-ui.
    pub public: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct IdentityUrls {
    /// identity-svc's public API (flows, whoami), as login-ui reaches it.
    pub public: Option<String>,
    /// identity-svc's admin API (identity traits).
    pub admin: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct OAuth2Urls {
    /// oauth2-svc's admin API (login, consent and logout challenges).
    pub admin: Option<String>,
    /// oauth2-svc's public URL (the issuer): where upstream answers may send browsers.
    pub public: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct HooksSettings {
    pub identity_lifecycle: LifecycleHookSettings,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct LifecycleHookSettings {
    /// Verifies the signature of identity-svc's identity lifecycle hook (any value may match, so
    /// that the secret can be rotated); empty turns `POST /hooks/identity-lifecycle` off.
    pub secret: SecretList,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct UiSettings {
    /// A directory whose `*.html` templates and `olympus.css` replace or extend the bundled ones.
    pub theme_dir: Option<PathBuf>,
    /// The language of pages when the browser's `Accept-Language` names none login-ui has
    /// (`en` when unset); `<theme_dir>/locales/<lang>.json` may add languages.
    pub default_language: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            serve: ServeSettings::with_ports(4455, 4456),
            log: LogSettings::default(),
            secrets: Secrets::default(),
            urls: Urls::default(),
            upstream_timeout: Duration::from_secs(5),
            ui: UiSettings::default(),
            hooks: HooksSettings::default(),
            dev: false,
        }
    }
}

/// Settings after validation: what the service runs with.
#[derive(Clone, Debug)]
pub struct Validated {
    pub settings: Settings,
    pub public_url: Url,
    pub identity_public: Url,
    pub identity_admin: Url,
    pub oauth2_admin: Url,
    /// `urls.oauth2.public`, if set.
    pub oauth2_public: Option<Url>,
}

impl Validated {
    /// HSTS is sent only when browsers reach us over https; on http it would be ignored anyway,
    /// and a dev setup on loopback must not pin https for `localhost`.
    pub fn https(&self) -> bool {
        self.public_url.scheme() == "https"
    }
}

impl Settings {
    /// Defaults, then `file`, then `LOGIN_UI_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
        settings::load(Settings::default(), ENV_PREFIX, file)
    }

    /// Checks every setting; the error names the key.
    pub fn validate(self) -> Result<Validated, SettingsError> {
        self.secrets.cookie.validate("secrets.cookie")?;
        let lifecycle_secret = &self.hooks.identity_lifecycle.secret;
        if !lifecycle_secret.all().is_empty() {
            lifecycle_secret.validate("hooks.identity_lifecycle.secret")?;
        }
        self.serve.request_limits.validate()?;
        if self.upstream_timeout.is_zero() {
            return Err(SettingsError::invalid(
                "upstream_timeout",
                "must be positive",
            ));
        }
        if let Some(dir) = &self.ui.theme_dir
            && !dir.is_dir()
        {
            return Err(SettingsError::invalid(
                "ui.theme_dir",
                format_args!("{} is not a directory", dir.display()),
            ));
        }
        let public_url = parse_public_url(self.urls.self_.public.as_deref(), self.dev)?;
        let identity_public =
            upstream_url("urls.identity.public", self.urls.identity.public.as_deref())?;
        let identity_admin =
            upstream_url("urls.identity.admin", self.urls.identity.admin.as_deref())?;
        let oauth2_admin = upstream_url("urls.oauth2.admin", self.urls.oauth2.admin.as_deref())?;
        let oauth2_public = match self.urls.oauth2.public.as_deref() {
            Some(raw) => Some(settings::browser_url(
                "urls.oauth2.public",
                Some(raw),
                self.dev,
                "oauth2-svc's public URL (the issuer)",
            )?),
            None => None,
        };
        Ok(Validated {
            settings: self,
            public_url,
            identity_public,
            identity_admin,
            oauth2_admin,
            oauth2_public,
        })
    }
}

fn parse_public_url(raw: Option<&str>, dev: bool) -> Result<Url, SettingsError> {
    settings::browser_url(
        "urls.self.public",
        raw,
        dev,
        "the URL browsers use to reach login-ui",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_must_be_https_outside_loopback() {
        assert!(parse_public_url(Some("https://login.example.com"), false).is_ok());
        assert!(parse_public_url(Some("http://127.0.0.1:4455"), false).is_ok());
        assert!(parse_public_url(Some("http://login.example.com"), false).is_err());
        assert!(parse_public_url(Some("http://login.example.com"), true).is_ok());
        assert!(parse_public_url(Some("https://a.example/?x=1"), false).is_err());
        assert!(parse_public_url(None, false).is_err());
    }
}
