//! `selfservice.flows.verification.*` and `selfservice.flows.recovery.*`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use service_kit::settings::{SettingsError, duration};
use url::Url;

use super::Kind;

/// `selfservice.flows.verification.*` and `selfservice.flows.recovery.*` (Kratos' keys).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CodeFlowSettings {
    pub enabled: bool,
    /// The page showing the flow (login-ui's); browsers are sent there with `?flow=<id>`.
    pub ui_url: Option<String>,
    #[serde(with = "duration")]
    pub lifespan: Duration,
    /// The method; only `code` (Kratos' default) is supported.
    #[serde(rename = "use")]
    pub method: String,
    /// Mail addresses that belong to no account, saying so.
    pub notify_unknown_recipients: bool,
    /// How many codes may be sent per address and per flow in a window.
    pub send_limits: super::limits::CodeSendLimits,
}

impl Default for CodeFlowSettings {
    fn default() -> Self {
        CodeFlowSettings {
            enabled: false,
            ui_url: None,
            lifespan: Duration::from_secs(3600),
            method: "code".into(),
            notify_unknown_recipients: false,
            send_limits: Default::default(),
        }
    }
}

/// A flow's validated settings.
#[derive(Clone, Debug)]
pub struct CodeFlowConfig {
    pub enabled: bool,
    /// Set when the flow is enabled.
    pub ui_url: Option<Url>,
    pub lifespan: Duration,
    pub notify_unknown_recipients: bool,
    pub send_limits: super::limits::CodeSendLimits,
}

impl CodeFlowSettings {
    pub fn validate(&self, kind: Kind) -> Result<CodeFlowConfig, SettingsError> {
        let key = |leaf: &str| format!("selfservice.flows.{}.{leaf}", kind.name());
        if self.method != "code" {
            return Err(SettingsError::invalid(
                key("use"),
                "only `code` is supported (links are not)",
            ));
        }
        if self.lifespan < Duration::from_secs(60) {
            return Err(SettingsError::invalid(
                key("lifespan"),
                "must be at least 1m",
            ));
        }
        self.send_limits.validate(kind)?;
        let ui_url = match (&self.ui_url, self.enabled) {
            (Some(raw), _) => {
                Some(ui_url(raw).map_err(|e| SettingsError::invalid(key("ui_url"), e))?)
            }
            (None, true) => {
                return Err(SettingsError::invalid(
                    key("ui_url"),
                    format!("is required when the {} flow is enabled", kind.name()),
                ));
            }
            (None, false) => None,
        };
        Ok(CodeFlowConfig {
            enabled: self.enabled,
            ui_url,
            lifespan: self.lifespan,
            notify_unknown_recipients: self.notify_unknown_recipients,
            send_limits: self.send_limits.clone(),
        })
    }
}

/// An absolute http(s) URL of a UI page.
pub fn ui_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| e.to_string())?;
    match url.scheme() {
        "http" | "https" if url.host_str().is_some() => Ok(url),
        _ => Err("must be an absolute http or https URL".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_need_a_ui_url_when_enabled() {
        let mut settings = CodeFlowSettings::default();
        assert!(settings.validate(Kind::Recovery).is_ok());
        settings.enabled = true;
        let err = settings.validate(Kind::Recovery).unwrap_err().to_string();
        assert!(err.contains("selfservice.flows.recovery.ui_url"), "{err}");
        settings.ui_url = Some("https://ui.test/recovery".into());
        assert!(settings.validate(Kind::Recovery).is_ok());
        settings.method = "link".into();
        let err = settings
            .validate(Kind::Verification)
            .unwrap_err()
            .to_string();
        assert!(err.contains("selfservice.flows.verification.use"), "{err}");
    }
}
