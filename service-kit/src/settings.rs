//! Layered settings: built-in defaults, then a TOML or YAML file, then environment variables with
//! the service prefix and `__` for nesting (`OAUTH2_URLS__SELF__ISSUER`). Errors name the key.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml, Yaml};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub mod duration;
mod secret;
mod urls;

pub use secret::{MIN_SECRET_LEN, Secret, SecretList};
pub use urls::{browser_url, endpoint_url, upstream_url};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SettingsError {
    #[error("invalid setting `{key}`: {reason}")]
    Invalid { key: String, reason: String },
    #[error("configuration file {path}: {reason}")]
    File { path: String, reason: String },
}

impl SettingsError {
    pub fn invalid(key: impl Into<String>, reason: impl fmt::Display) -> Self {
        SettingsError::Invalid {
            key: key.into(),
            reason: reason.to_string(),
        }
    }
}

/// Loads `T` from its defaults, an optional file and the environment (`prefix` like `"OAUTH2_"`).
pub fn load<T>(defaults: T, prefix: &str, file: Option<&Path>) -> Result<T, SettingsError>
where
    T: Serialize + DeserializeOwned,
{
    let mut figment = Figment::from(Serialized::defaults(defaults));
    if let Some(path) = file {
        let shown = path.display().to_string();
        if !path.is_file() {
            return Err(SettingsError::File {
                path: shown,
                reason: "not found".into(),
            });
        }
        figment = match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => figment.merge(Toml::file_exact(path)),
            Some("yaml" | "yml") => figment.merge(Yaml::file_exact(path)),
            _ => {
                let reason = "unsupported extension (use .toml, .yaml or .yml)".into();
                return Err(SettingsError::File {
                    path: shown,
                    reason,
                });
            }
        };
    }
    figment
        .merge(Env::prefixed(prefix).split("__"))
        .extract::<T>()
        .map_err(from_figment)
}

fn from_figment(err: figment::Error) -> SettingsError {
    let err = err
        .into_iter()
        .next()
        .expect("a figment error holds at least one error");
    let mut path = err.path.clone();
    let reason = match &err.kind {
        figment::error::Kind::MissingField(field) => {
            push_once(&mut path, field);
            "is required".to_string()
        }
        figment::error::Kind::UnknownField(field, _) => {
            push_once(&mut path, field);
            "is not a known setting".to_string()
        }
        kind => kind.to_string(),
    };
    SettingsError::Invalid {
        key: path.join("."),
        reason,
    }
}

fn push_once(path: &mut Vec<String>, field: &str) {
    if path.last().map(String::as_str) != Some(field) {
        path.push(field.to_string());
    }
}

/// One listener: `serve.public` or `serve.admin`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ListenerSettings {
    pub host: String,
    pub port: u16,
}

/// `serve.*`: both listeners and the request limits.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServeSettings {
    pub public: ListenerSettings,
    pub admin: ListenerSettings,
    /// Worker threads per listener; defaults to the number of cores.
    pub workers: Option<usize>,
    pub request_limits: RequestLimits,
}

impl ServeSettings {
    /// Public on all interfaces, admin on loopback only (the admin API has no authentication).
    pub fn with_ports(public: u16, admin: u16) -> Self {
        ServeSettings {
            public: ListenerSettings {
                host: "0.0.0.0".into(),
                port: public,
            },
            admin: ListenerSettings {
                host: "127.0.0.1".into(),
                port: admin,
            },
            workers: None,
            request_limits: RequestLimits::default(),
        }
    }
}

/// `serve.request_limits.*`: explicit limits with safe defaults.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RequestLimits {
    /// Largest JSON body accepted, in bytes.
    pub json_body_bytes: usize,
    /// Largest form (`application/x-www-form-urlencoded`) body accepted, in bytes.
    pub form_body_bytes: usize,
    /// Whole-request deadline, from the first byte to the response.
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    /// Time a client has to send its request head.
    #[serde(with = "duration")]
    pub client_request_timeout: Duration,
    /// Idle keep-alive connections are closed after this.
    #[serde(with = "duration")]
    pub keep_alive: Duration,
    /// On SIGTERM, in-flight requests get this long to finish.
    #[serde(with = "duration")]
    pub shutdown_timeout: Duration,
    /// Concurrent connections per worker.
    pub max_connections: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            json_body_bytes: 256 * 1024,
            form_body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            client_request_timeout: Duration::from_secs(5),
            keep_alive: Duration::from_secs(75),
            shutdown_timeout: Duration::from_secs(30),
            max_connections: 25_000,
        }
    }
}

impl RequestLimits {
    pub fn validate(&self) -> Result<(), SettingsError> {
        let key = |k: &str| format!("serve.request_limits.{k}");
        if self.json_body_bytes < 1024 {
            return Err(SettingsError::invalid(
                key("json_body_bytes"),
                "must be at least 1024",
            ));
        }
        if self.form_body_bytes < 1024 {
            return Err(SettingsError::invalid(
                key("form_body_bytes"),
                "must be at least 1024",
            ));
        }
        if self.request_timeout.is_zero() {
            return Err(SettingsError::invalid(
                key("request_timeout"),
                "must be positive",
            ));
        }
        Ok(())
    }
}

/// `log.*`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// A `tracing` filter such as `info` or `info,identity_svc=debug`.
    pub level: String,
    pub format: crate::telemetry::LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            level: "info".into(),
            format: crate::telemetry::LogFormat::Text,
        }
    }
}

/// Every leaf key of `settings` (dotted), for checking that the configuration docs list them all.
pub fn keys_of(settings: &impl Serialize) -> Vec<String> {
    fn walk(prefix: &str, value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) if !map.is_empty() => {
                for (key, inner) in map {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    walk(&path, inner, out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }
    let mut out = Vec::new();
    walk(
        "",
        &serde_json::to_value(settings).unwrap_or_default(),
        &mut out,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_urls_become_bases() {
        let url = upstream_url("k", Some("http://identity:4433/prefix")).unwrap();
        assert_eq!(
            url.join("health/alive").unwrap().as_str(),
            "http://identity:4433/prefix/health/alive"
        );
        let url = upstream_url("k", Some("http://identity:4433")).unwrap();
        assert_eq!(
            url.join("health/alive").unwrap().as_str(),
            "http://identity:4433/health/alive"
        );
        assert!(upstream_url("k", Some("ftp://identity")).is_err());
        assert!(upstream_url("k", Some("http://identity/?x=1")).is_err());
        assert_eq!(
            upstream_url("k", None).unwrap_err(),
            SettingsError::invalid("k", "is required")
        );
    }

    #[test]
    fn endpoint_urls_keep_their_path() {
        let url = endpoint_url("k", Some("http://ui:4456/hooks/identity-lifecycle")).unwrap();
        assert_eq!(url.as_str(), "http://ui:4456/hooks/identity-lifecycle");
        assert!(endpoint_url("k", Some("ftp://ui/hook")).is_err());
        assert!(endpoint_url("k", Some("http://ui/hook#x")).is_err());
        assert!(endpoint_url("k", None).is_err());
    }

    #[test]
    fn parses_go_durations() {
        assert_eq!(duration::parse("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(duration::parse("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(
            duration::parse("500ms").unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(duration::parse("45").unwrap(), Duration::from_secs(45));
        assert!(duration::parse("5 minutes").is_err());
        assert!(duration::parse("").is_err());
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("a-very-secret-value-of-enough-length!!");
        assert!(!format!("{s:?}").contains("secret-value"));
    }

    #[test]
    fn secret_lists_need_length() {
        let short = SecretList::new([Secret::new("short")]);
        let err = short.validate("secrets.system").unwrap_err();
        assert_eq!(
            err,
            SettingsError::invalid("secrets.system[0]", "must be at least 32 characters")
        );
        assert!(SecretList::default().validate("secrets.system").is_err());
        assert!(
            SecretList::new([Secret::new("x".repeat(32))])
                .validate("secrets.system")
                .is_ok()
        );
    }
}
