//! Kratos' user-facing error flow: a browser request (a navigation or a form post) that fails
//! with an error no flow can show is stored and redirected to `selfservice.flows.error.ui_url?id=`;
//! the UI reads it back from `GET /self-service/errors?id=` (public and admin listeners).
//! Without `ui_url` the error is answered directly, as before.

pub mod handlers;
pub mod redirect;
pub mod store;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use service_kit::settings::{SettingsError, duration};
use shared_types::error::GenericError;
use url::Url;

/// `selfservice.flows.error.*`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ErrorFlowSettings {
    /// The error page (login-ui's `/error`); browsers are sent there with `?id=<error id>`.
    /// Unset: browser errors are answered directly (the JSON envelope).
    pub ui_url: Option<String>,
    /// How long a stored error can be read (Olympus' own key); the janitor deletes it later.
    #[serde(with = "duration")]
    pub lifespan: Duration,
}

impl Default for ErrorFlowSettings {
    fn default() -> Self {
        ErrorFlowSettings {
            ui_url: None,
            lifespan: Duration::from_secs(3600),
        }
    }
}

/// The validated `selfservice.flows.error`.
#[derive(Clone, Debug)]
pub struct ErrorFlowConfig {
    pub ui: Option<Url>,
    pub lifespan: Duration,
}

impl ErrorFlowSettings {
    pub fn validate(&self) -> Result<ErrorFlowConfig, SettingsError> {
        let ui = self
            .ui_url
            .as_deref()
            .map(|raw| {
                let url = Url::parse(raw).map_err(|e| e.to_string())?;
                match url.scheme() {
                    "http" | "https" if url.host_str().is_some() => Ok(url),
                    _ => Err("must be an absolute http or https URL".to_string()),
                }
            })
            .transpose()
            .map_err(|r| SettingsError::invalid("selfservice.flows.error.ui_url", r))?;
        if self.lifespan < Duration::from_secs(60) {
            return Err(SettingsError::invalid(
                "selfservice.flows.error.lifespan",
                "must be at least 1m",
            ));
        }
        Ok(ErrorFlowConfig {
            ui,
            lifespan: self.lifespan,
        })
    }
}

/// Kratos' `flowError`: the stored genericError under `error`.
#[derive(Debug, Clone, Serialize)]
pub struct FlowError {
    pub id: uuid::Uuid,
    pub error: serde_json::Value,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// `?id=stub:<code>` answers a sample error without storage, so that UI developers can style the
/// page (Kratos offers `stub:500`; Olympus also `stub:400`, `stub:403` and `stub:404`).
pub fn stub(id: &str, now: chrono::DateTime<chrono::Utc>) -> Option<FlowError> {
    let (code, error_id, message, reason) = match id.strip_prefix("stub:")? {
        "400" => (
            400,
            None,
            "The request was malformed or contained invalid parameters",
            "This is a stub error.",
        ),
        "403" => (
            403,
            Some("security_csrf_violation"),
            "the request was rejected to protect you from Cross-Site-Request-Forgery",
            "This is a stub error.",
        ),
        "404" => (
            404,
            None,
            "The requested resource could not be found",
            "This is a stub error.",
        ),
        "500" => (
            500,
            None,
            "An internal server error occurred, please contact the system administrator",
            "This is a stub error.",
        ),
        _ => return None,
    };
    let status = actix_web::http::StatusCode::from_u16(code).ok()?;
    let error = GenericError {
        id: error_id.map(str::to_string),
        code,
        status: status.canonical_reason().unwrap_or_default().to_string(),
        reason: Some(reason.to_string()),
        message: message.to_string(),
        details: None,
        request: None,
    };
    Some(FlowError {
        id: uuid::Uuid::nil(),
        error: serde_json::to_value(error).ok()?,
        created_at: now,
        updated_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ui_url_must_be_a_web_url_and_lifespan_at_least_a_minute() {
        let ok = ErrorFlowSettings {
            ui_url: Some("https://id.test/error".into()),
            ..Default::default()
        };
        assert_eq!(ok.validate().unwrap().ui.unwrap().path(), "/error");
        assert!(
            ErrorFlowSettings::default()
                .validate()
                .unwrap()
                .ui
                .is_none()
        );
        for bad in ["/error", "javascript:alert(1)", "ftp://x.test/error"] {
            let s = ErrorFlowSettings {
                ui_url: Some(bad.into()),
                ..Default::default()
            };
            assert!(s.validate().is_err(), "{bad}");
        }
        let short = ErrorFlowSettings {
            lifespan: Duration::from_secs(5),
            ..Default::default()
        };
        assert!(short.validate().is_err());
    }

    #[test]
    fn stubs_are_known_codes_only() {
        let now = chrono::Utc::now();
        let stub500 = stub("stub:500", now).unwrap();
        assert_eq!(stub500.error["code"], 500);
        assert_eq!(stub500.error["status"], "Internal Server Error");
        assert_eq!(
            stub("stub:403", now).unwrap().error["id"],
            "security_csrf_violation"
        );
        assert!(stub("stub:418", now).is_none());
        assert!(stub("500", now).is_none());
    }
}
