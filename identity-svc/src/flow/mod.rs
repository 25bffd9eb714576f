//! Self-service flows: their settings, the `return_to` allow-list, content negotiation and the
//! UI texts (Kratos' message ids, so UIs translate by id).

pub mod code;
pub mod errors;
pub mod http;
pub mod lifecycle;
pub mod login;
pub mod messages;
pub mod oidc;
pub mod recovery;
pub mod registration;
pub mod settings;
pub mod submit;
pub mod text;
pub mod verification;

use std::time::Duration;

use actix_web::HttpRequest;
use serde::{Deserialize, Serialize};
use service_kit::settings::{SettingsError, duration};
use url::Url;

use crate::error::ApiError;

/// `selfservice.*` (Kratos' keys).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct SelfServiceSettings {
    /// Where browsers go after a flow when no `return_to` was given. Required.
    pub default_browser_return_url: Option<String>,
    /// URLs `return_to` may point at: same scheme and host (`*.example.com` matches
    /// subdomains), port, and a path under the allowed one.
    pub allowed_return_urls: Vec<String>,
    pub flows: FlowsSettings,
    pub methods: MethodsSettings,
}

/// `selfservice.methods.*`: the credential methods' settings (Kratos' keys).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct MethodsSettings {
    pub password: crate::credential::PasswordMethodSettings,
    /// Sign-in with upstream OpenID Connect providers.
    pub oidc: oidc::OidcMethodSettings,
    pub passkey: crate::webauthn::PasskeyMethodSettings,
    pub webauthn: crate::webauthn::WebauthnMethodSettings,
    /// The TOTP second factor (off by default).
    pub totp: crate::mfa::TotpMethodSettings,
    /// Recovery codes as a second factor (off by default).
    pub lookup_secret: crate::mfa::LookupSecretMethodSettings,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct FlowsSettings {
    pub login: LoginFlowSettings,
    pub registration: registration::RegistrationFlowSettings,
    pub verification: code::CodeFlowSettings,
    pub recovery: code::CodeFlowSettings,
    pub settings: settings::SettingsFlowSettings,
    /// `selfservice.flows.error.*`: the user-facing error page.
    pub error: errors::ErrorFlowSettings,
}

/// `selfservice.flows.login.*`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LoginFlowSettings {
    /// The login page (login-ui's `/login`); browsers are sent there with `?flow=<id>`. Required.
    pub ui_url: Option<String>,
    #[serde(with = "duration")]
    pub lifespan: Duration,
    /// Lockout after failed password sign-ins (Olympus' own keys).
    pub brute_force: crate::throttle::BruteForceSettings,
    /// `unified` (one form) or `identifier_first` (the identifier, then the methods).
    #[serde(default)]
    pub style: login::identifier_first::LoginStyle,
}

impl Default for LoginFlowSettings {
    fn default() -> Self {
        LoginFlowSettings {
            ui_url: None,
            lifespan: Duration::from_secs(3600),
            brute_force: Default::default(),
            style: Default::default(),
        }
    }
}

/// The validated flow settings handlers use.
#[derive(Clone, Debug)]
pub struct FlowConfig {
    pub login_ui: Url,
    pub login_lifespan: Duration,
    /// `selfservice.flows.login.style`.
    pub login_style: login::identifier_first::LoginStyle,
    pub registration: registration::RegistrationConfig,
    pub verification: code::CodeFlowConfig,
    pub recovery: code::CodeFlowConfig,
    /// Set when recovery is enabled.
    pub settings_ui: Option<Url>,
    pub settings: settings::SettingsConfig,
    pub return_to: ReturnToPolicy,
    /// `selfservice.methods.oidc`.
    pub oidc: oidc::OidcConfig,
    /// `selfservice.flows.error`.
    pub error: errors::ErrorFlowConfig,
}

impl SelfServiceSettings {
    pub fn validate(&self) -> Result<FlowConfig, SettingsError> {
        let required = |key: &str, raw: &Option<String>| -> Result<Url, SettingsError> {
            let raw = raw
                .as_deref()
                .ok_or_else(|| SettingsError::invalid(key, "is required"))?;
            web_url(raw).map_err(|reason| SettingsError::invalid(key, reason))
        };
        let default = required(
            "selfservice.default_browser_return_url",
            &self.default_browser_return_url,
        )?;
        let login_ui = required("selfservice.flows.login.ui_url", &self.flows.login.ui_url)?;
        let mut allowed = vec![default.clone()];
        let mut listed = Vec::new();
        for (i, raw) in self.allowed_return_urls.iter().enumerate() {
            let key = format!("selfservice.allowed_return_urls[{i}]");
            listed.push(return_url(raw).map_err(|reason| SettingsError::invalid(key, reason))?);
        }
        allowed.extend(listed.iter().cloned());
        if self.flows.login.lifespan < Duration::from_secs(60) {
            return Err(SettingsError::invalid(
                "selfservice.flows.login.lifespan",
                "must be at least 1m",
            ));
        }
        let registration = self.flows.registration.validate(&login_ui)?;
        let verification = self.flows.verification.validate(code::Kind::Verification)?;
        let recovery = self.flows.recovery.validate(code::Kind::Recovery)?;
        let settings_ui = match &self.flows.settings.ui_url {
            None if recovery.enabled => {
                return Err(SettingsError::invalid(
                    "selfservice.flows.settings.ui_url",
                    "is required when the recovery flow is enabled (recovered accounts go there)",
                ));
            }
            raw => raw
                .as_deref()
                .map(web_url)
                .transpose()
                .map_err(|r| SettingsError::invalid("selfservice.flows.settings.ui_url", r))?,
        };
        let settings = self.flows.settings.validate(&login_ui)?;
        // The settings page is where a re-authentication returns to: config-supplied, so it
        // needs no allow-listing (as in Kratos).
        allowed.push(settings.ui.clone());
        let oidc = self.methods.oidc.validate()?;
        let error = self.flows.error.validate()?;
        Ok(FlowConfig {
            oidc,
            error,
            settings,
            login_ui,
            login_lifespan: self.flows.login.lifespan,
            login_style: self.flows.login.style,
            registration,
            verification,
            recovery,
            settings_ui,
            return_to: ReturnToPolicy {
                default,
                allowed,
                listed,
            },
        })
    }
}

/// A page's URL (ui_url, default_browser_return_url): absolute http or https only.
fn web_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| e.to_string())?;
    match url.scheme() {
        "http" | "https" if url.host_str().is_some() => Ok(url),
        _ => Err("must be an absolute http or https URL".into()),
    }
}

/// An entry of `selfservice.allowed_return_urls`: a web URL, or an app's custom-scheme URL.
fn return_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| e.to_string())?;
    match url.scheme() {
        "http" | "https" if url.host_str().is_some() => Ok(url),
        // A native app's own scheme (`myapp://callback`), for api flows that return to the app.
        scheme if !NOT_APP_SCHEMES.contains(&scheme) && url.host_str().is_some() => Ok(url),
        _ => Err("must be an absolute http or https URL, or an app's custom-scheme URL".into()),
    }
}

/// Schemes that are never an app's return URL.
const NOT_APP_SCHEMES: &[&str] = &[
    "http",
    "https",
    "javascript",
    "data",
    "file",
    "vbscript",
    "blob",
    "about",
    "filesystem",
];

/// The longest `return_to` accepted, in bytes.
pub const MAX_RETURN_TO: usize = 2048;

/// Where a browser may be sent after a flow: never an open redirect.
#[derive(Clone, Debug)]
pub struct ReturnToPolicy {
    pub default: Url,
    allowed: Vec<Url>,
    /// `selfservice.allowed_return_urls` alone (without the default and the UI pages).
    listed: Vec<Url>,
}

impl ReturnToPolicy {
    /// Resolves `return_to` (absolute, or relative to the default return URL) and checks it
    /// against the allow-list.
    pub fn check(&self, return_to: Option<&str>) -> Result<Option<Url>, ApiError> {
        let Some(raw) = return_to.filter(|r| !r.is_empty()) else {
            return Ok(None);
        };
        let forbidden = || ApiError::ReturnToForbidden(raw.chars().take(256).collect());
        // Flows store it and pages echo it: no real return URL is longer (BI-02).
        if raw.len() > MAX_RETURN_TO {
            return Err(forbidden());
        }
        let url = self.default.join(raw).map_err(|_| forbidden())?;
        // An app's custom scheme passes only when an allowed URL has that scheme (`covers`).
        let app_scheme = !NOT_APP_SCHEMES.contains(&url.scheme());
        let plain_web = (matches!(url.scheme(), "http" | "https") || app_scheme)
            && url.username().is_empty()
            && url.password().is_none();
        if plain_web
            && self
                .allowed
                .iter()
                .any(|allowed| Self::covers(allowed, &url))
        {
            Ok(Some(url))
        } else {
            Err(forbidden())
        }
    }

    /// The `return_to` of a session token exchange flow: required (the return_to code must not
    /// go to the default browser page) and listed in `selfservice.allowed_return_urls`.
    pub fn check_exchange(&self, return_to: Option<&str>) -> Result<Url, ApiError> {
        let Some(url) = self.check(return_to)? else {
            return Err(ApiError::BadRequest(
                "return_to is required when return_session_token_exchange_code=true".into(),
            ));
        };
        if self.listed.iter().any(|listed| Self::covers(listed, &url)) {
            Ok(url)
        } else {
            let raw = return_to.unwrap_or_default();
            Err(ApiError::ReturnToForbidden(raw.chars().take(256).collect()))
        }
    }

    fn covers(allowed: &Url, url: &Url) -> bool {
        let (Some(host), Some(allowed_host)) = (url.host_str(), allowed.host_str()) else {
            return false;
        };
        let host_ok = match allowed_host.strip_prefix("*.") {
            Some(suffix) => host.len() > suffix.len() && host.ends_with(&format!(".{suffix}")),
            None => host.eq_ignore_ascii_case(allowed_host),
        };
        let path = allowed.path().trim_end_matches('/');
        let path_ok =
            url.path() == path || url.path().starts_with(&format!("{path}/")) || path.is_empty();
        url.scheme() == allowed.scheme()
            && host_ok
            && url.port_or_known_default() == allowed.port_or_known_default()
            && path_ok
    }

    /// `return_to` when given, else the default.
    pub fn target(&self, return_to: Option<&str>) -> Url {
        return_to
            .and_then(|r| Url::parse(r).ok())
            .unwrap_or_else(|| self.default.clone())
    }
}

/// Browsers get redirects; SPAs and API clients that ask for JSON get JSON (Kratos' rule).
pub fn wants_json(req: &HttpRequest) -> bool {
    let accept = req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    accept.contains("application/json")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ReturnToPolicy {
        let settings = SelfServiceSettings {
            default_browser_return_url: Some("https://id.test/welcome".into()),
            allowed_return_urls: vec![
                "https://app.test/dashboard".into(),
                "https://*.apps.test/".into(),
                "olympus-app://callback".into(),
            ],
            flows: FlowsSettings {
                login: LoginFlowSettings {
                    ui_url: Some("https://id.test/login".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
            ..Default::default()
        };
        settings.validate().unwrap().return_to
    }

    #[test]
    fn allows_listed_targets() {
        let p = policy();
        for ok in [
            "https://app.test/dashboard",
            "https://app.test/dashboard/x?y=1",
            "https://a.apps.test/z",
            "/welcome",
            "/welcome/again",
            "olympus-app://callback",
            "olympus-app://callback/done?x=1",
        ] {
            assert!(p.check(Some(ok)).is_ok(), "{ok}");
        }
        assert!(p.check(None).unwrap().is_none());
    }

    /// IF-19: none of the classic open-redirect forms get through.
    #[test]
    fn refuses_open_redirects() {
        let p = policy();
        for bad in [
            "https://evil.test",
            "//evil.test",
            "/\\evil.test",
            "https:evil.test",
            "https://id.test.evil.test",
            "https://id.test@evil.test",
            "javascript:alert(1)",
            "https://app.test/dashboardx",
            "http://app.test/dashboard",
            "https://app.test:8443/dashboard",
            "https://apps.test/",
            "https://user:pw@app.test/dashboard",
            "olympus-app://other",
            "other-app://callback",
            "data://callback",
        ] {
            assert!(
                matches!(p.check(Some(bad)), Err(ApiError::ReturnToForbidden(_))),
                "{bad}"
            );
        }
    }

    /// Exchange flows need an explicit, listed return_to (not the default page).
    #[test]
    fn exchange_return_to_is_explicit_and_listed() {
        let p = policy();
        assert!(p.check_exchange(Some("olympus-app://callback")).is_ok());
        assert!(p.check_exchange(Some("https://app.test/dashboard")).is_ok());
        assert!(matches!(
            p.check_exchange(None),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(
            p.check_exchange(Some("https://id.test/welcome")),
            Err(ApiError::ReturnToForbidden(_))
        ));
        assert!(matches!(
            p.check_exchange(Some("https://evil.test/")),
            Err(ApiError::ReturnToForbidden(_))
        ));
    }

    /// Custom schemes are for return URLs only, never for pages or the default return URL.
    #[test]
    fn custom_schemes_only_in_allowed_return_urls() {
        assert!(web_url("olympus-app://callback").is_err());
        assert!(web_url("https://id.test/login").is_ok());
        assert!(return_url("olympus-app://callback").is_ok());
        assert!(return_url("javascript://x").is_err());
        let mut settings = SelfServiceSettings {
            default_browser_return_url: Some("olympus-app://home".into()),
            flows: FlowsSettings {
                login: LoginFlowSettings {
                    ui_url: Some("https://id.test/login".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(settings.validate().is_err());
        settings.default_browser_return_url = Some("https://id.test/".into());
        settings.flows.login.ui_url = Some("olympus-app://login".into());
        assert!(settings.validate().is_err());
    }
}
