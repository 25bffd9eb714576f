//! The registration flow (browser and API): its form is the identity schema's traits plus a
//! password; completing it creates an identity and, with the `session` hook, signs it in.

mod complete;
pub mod form;
pub mod handlers;
pub mod store;

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use serde::{Deserialize, Serialize};
use service_kit::db::{AnyConnection, Id, Json};
use service_kit::settings::{SettingsError, duration};
use shared_types::flow::{RegistrationFlow, UiText};
use url::Url;

use super::lifecycle::{Columns, FlowRow, NewFlow};
use super::messages::FlowMessages;
use crate::schema::IdentitySchema;
use crate::state::AppState;
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

impl FlowRow for RegistrationFlowRow {
    const NAME: &'static str = "registration";
    /// The identity schema the form shows.
    type Extra = String;

    fn open(new: NewFlow, identity_schema: String, now: DateTime<Utc>, lifespan: Duration) -> Self {
        let o = new.open(now, lifespan);
        RegistrationFlowRow {
            id: o.id,
            flow_type: o.flow_type,
            request_url: o.request_url,
            return_to: o.return_to,
            csrf_token_hash: o.csrf_token_hash,
            identity_schema,
            state: STATE_OPEN.into(),
            active: None,
            traits: None,
            ui_messages: o.ui_messages,
            issued_at: o.at,
            expires_at: o.expires_at,
            created_at: o.at,
            updated_at: o.at,
            internal_context: Json(serde_json::json!({})),
        }
    }

    fn extra(&self) -> String {
        self.identity_schema.clone()
    }

    fn columns(&self) -> Columns<'_> {
        Columns {
            id: self.id,
            flow_type: &self.flow_type,
            request_url: &self.request_url,
            return_to: self.return_to.as_deref(),
            csrf_token_hash: self.csrf_token_hash.as_deref(),
            expires_at: self.expires_at,
        }
    }

    /// A flow registers at most once.
    fn used_since(&self) -> Option<DateTime<Utc>> {
        (self.state != STATE_OPEN).then(|| self.updated_at.and_utc())
    }

    fn ui(state: &AppState) -> &Url {
        &state.settings.flows.registration.ui
    }

    fn lifespan(state: &AppState) -> Duration {
        state.settings.flows.registration.lifespan
    }

    fn expired_message(minutes: f64) -> UiText {
        super::text::registration_flow_expired(minutes)
    }

    fn insert(conn: &mut AnyConnection, row: &Self) -> QueryResult<()> {
        store::insert(conn, row)
    }

    fn find(conn: &mut AnyConnection, id: Id) -> QueryResult<Self> {
        store::find(conn, id)
    }
}

/// The flow as Kratos shows it; `masked_csrf` is the form token of this render (browsers).
pub fn to_wire(
    row: &RegistrationFlowRow,
    schema: &IdentitySchema,
    public: &Url,
    masked_csrf: Option<String>,
) -> RegistrationFlow {
    let messages = FlowMessages::from_json(&row.ui_messages);
    let traits = row.traits.as_ref().map(|t| &t.0);
    let nodes = form::nodes(schema, traits, masked_csrf);
    let ui = messages.into_ui(public, "registration", row.id, nodes);
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
        ui,
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
