//! The registration flow (browser and API): its form is the identity schema's traits plus a
//! password; completing it creates an identity and, with the `session` hook, signs it in.

mod complete;
pub mod form;
pub mod handlers;
pub mod store;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use service_kit::db::{Id, Json};
use service_kit::settings::{SettingsError, duration};
use shared_types::flow::{RegistrationFlow, UiContainer};
use url::Url;

use super::login::FlowMessages;
use crate::schema::IdentitySchema;
use store::RegistrationFlowRow;

pub const STATE_OPEN: &str = "choose_method";
pub const STATE_DONE: &str = "passed_challenge";

/// `selfservice.flows.registration.*`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RegistrationFlowSettings {
    /// The registration page; browsers are sent there with `?flow=<id>`. Unset: `registration`
    /// beside the login page (login-ui's `/registration`).
    pub ui_url: Option<String>,
    #[serde(with = "duration")]
    pub lifespan: Duration,
    pub after: RegistrationAfterSettings,
}

impl Default for RegistrationFlowSettings {
    fn default() -> Self {
        RegistrationFlowSettings {
            ui_url: None,
            lifespan: Duration::from_secs(3600),
            after: RegistrationAfterSettings::default(),
        }
    }
}

/// `selfservice.flows.registration.after.*`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct RegistrationAfterSettings {
    /// Hooks run after a successful registration. Only `session` (sign the new identity in) so
    /// far; written `session` or, as in Kratos, `{hook: session}`.
    pub hooks: Vec<Hook>,
}

/// A hook as a bare name or Kratos' `{hook: name}` object.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Hook {
    Name(String),
    Object { hook: String },
}

impl Hook {
    pub fn name(&self) -> &str {
        match self {
            Hook::Name(name) | Hook::Object { hook: name } => name,
        }
    }
}

/// The validated registration settings.
#[derive(Clone, Debug)]
pub struct RegistrationConfig {
    pub ui: Url,
    pub lifespan: Duration,
    /// Whether a registration signs the new identity in (the `session` hook).
    pub session_hook: bool,
}

impl RegistrationFlowSettings {
    pub fn validate(&self, login_ui: &Url) -> Result<RegistrationConfig, SettingsError> {
        let ui = match &self.ui_url {
            Some(raw) => super::web_url(raw).map_err(|reason| {
                SettingsError::invalid("selfservice.flows.registration.ui_url", reason)
            })?,
            None => login_ui
                .join("registration")
                .map_err(|e| SettingsError::invalid("selfservice.flows.login.ui_url", e))?,
        };
        if self.lifespan < Duration::from_secs(60) {
            return Err(SettingsError::invalid(
                "selfservice.flows.registration.lifespan",
                "must be at least 1m",
            ));
        }
        let mut session_hook = false;
        for (i, hook) in self.after.hooks.iter().enumerate() {
            match hook.name() {
                "session" => session_hook = true,
                other => {
                    return Err(SettingsError::invalid(
                        format!("selfservice.flows.registration.after.hooks[{i}]"),
                        format!("{other:?} is not a known hook (only \"session\" is)"),
                    ));
                }
            }
        }
        Ok(RegistrationConfig {
            ui,
            lifespan: self.lifespan,
            session_hook,
        })
    }
}

/// What a new flow starts with; no CSRF hash makes an API flow.
pub struct NewFlow {
    pub request_url: String,
    pub return_to: Option<Url>,
    pub csrf_token_hash: Option<String>,
    pub identity_schema: String,
    pub messages: FlowMessages,
}

pub fn new_flow(new: NewFlow, now: DateTime<Utc>, lifespan: Duration) -> RegistrationFlowRow {
    let at = now.naive_utc();
    let flow_type = if new.csrf_token_hash.is_some() {
        "browser"
    } else {
        "api"
    };
    RegistrationFlowRow {
        id: Id::new_v7(),
        flow_type: flow_type.into(),
        request_url: new.request_url,
        return_to: new.return_to.map(String::from),
        csrf_token_hash: new.csrf_token_hash,
        identity_schema: new.identity_schema,
        state: STATE_OPEN.into(),
        active: None,
        traits: None,
        ui_messages: new.messages.to_json(),
        issued_at: at,
        expires_at: (now + lifespan).naive_utc(),
        created_at: at,
        updated_at: at,
    }
}

impl RegistrationFlowRow {
    pub fn is_browser(&self) -> bool {
        self.flow_type == "browser"
    }
}

/// The flow as Kratos shows it; `masked_csrf` is the form token of this render (browsers).
pub fn to_wire(
    row: &RegistrationFlowRow,
    schema: &IdentitySchema,
    public: &Url,
    masked_csrf: Option<String>,
) -> RegistrationFlow {
    let messages: FlowMessages =
        serde_json::from_value(row.ui_messages.0.clone()).unwrap_or_default();
    let traits = row.traits.as_ref().map(|t| &t.0);
    let mut nodes = form::nodes(schema, traits, masked_csrf);
    for node in &mut nodes {
        if let Some(name) = &node.attributes.name {
            node.messages = messages.fields.get(name).cloned().unwrap_or_default();
        }
    }
    let mut action = public
        .join("self-service/registration")
        .expect("a fixed relative path joins");
    action
        .query_pairs_mut()
        .append_pair("flow", &row.id.0.to_string());
    RegistrationFlow {
        id: row.id.0,
        flow_type: row.flow_type.clone(),
        expires_at: row.expires_at.and_utc(),
        issued_at: row.issued_at.and_utc(),
        request_url: row.request_url.clone(),
        return_to: row.return_to.clone(),
        identity_schema: Some(row.identity_schema.clone()),
        active: row.active.clone(),
        state: row.state.clone(),
        ui: UiContainer {
            action: action.into(),
            method: "POST".into(),
            nodes,
            messages: messages.form,
        },
    }
}

/// Whether the flow can no longer be submitted, and since when (expired or already used).
pub fn closed_since(row: &RegistrationFlowRow, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let expires_at = row.expires_at.and_utc();
    if expires_at <= now {
        Some(expires_at)
    } else if row.state != STATE_OPEN {
        Some(row.updated_at.and_utc())
    } else {
        None
    }
}

/// The traits to keep on the flow for the next render.
pub fn kept_traits(traits: &serde_json::Value) -> Option<Json> {
    traits
        .as_object()
        .filter(|o| !o.is_empty())
        .map(|_| Json(traits.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login_ui() -> Url {
        Url::parse("https://ui.test/login").unwrap()
    }

    #[test]
    fn settings_default_to_a_page_beside_login_and_no_session() {
        let config = RegistrationFlowSettings::default()
            .validate(&login_ui())
            .unwrap();
        assert_eq!(config.ui.as_str(), "https://ui.test/registration");
        assert!(!config.session_hook);
    }

    #[test]
    fn hooks_take_names_or_kratos_objects_and_refuse_unknown_ones() {
        let settings: RegistrationFlowSettings = serde_json::from_value(serde_json::json!({
            "ui_url": "https://ui.test/signup",
            "lifespan": "10m",
            "after": {"hooks": [{"hook": "session"}]}
        }))
        .unwrap();
        let config = settings.validate(&login_ui()).unwrap();
        assert!(config.session_hook);
        assert_eq!(config.ui.as_str(), "https://ui.test/signup");
        let mut settings = RegistrationFlowSettings::default();
        settings.after.hooks = vec![Hook::Name("session".into())];
        assert!(settings.validate(&login_ui()).unwrap().session_hook);
        settings.after.hooks.push(Hook::Name("web_hook".into()));
        let err = settings.validate(&login_ui()).unwrap_err().to_string();
        assert!(
            err.contains("selfservice.flows.registration.after.hooks[1]"),
            "{err}"
        );
    }
}
