//! The settings flow (Kratos' settings flow, methods `profile` and `password`): a signed-in
//! identity changes its traits or its password. Flows belong to the identity of the session
//! that started them. Changing the password, an identifier or an address needs a recent sign-in
//! (`privileged_session_max_age`); otherwise the browser is sent to sign in again.

mod complete;
pub mod handlers;
pub mod store;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use service_kit::db::{Id, Json};
use service_kit::settings::{SettingsError, duration};
use shared_types::flow::{SettingsFlow, UiContainer, UiNode};
use shared_types::identity::Identity;
use url::Url;

use super::login::FlowMessages;
use super::registration::{Hook, form};
use super::text;
use crate::schema::IdentitySchema;
use store::SettingsFlowRow;

pub const STATE_OPEN: &str = "show_form";
pub const STATE_DONE: &str = "success";

/// `selfservice.flows.settings.*`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SettingsFlowSettings {
    /// The account settings page; browsers are sent there with `?flow=<id>`, and a recovered
    /// account too. Required with recovery; otherwise unset means `settings` beside the login
    /// page (login-ui's `/settings`).
    pub ui_url: Option<String>,
    #[serde(with = "duration")]
    pub lifespan: Duration,
    /// How recent the sign-in must be to change the password, an identifier or an address.
    #[serde(with = "duration")]
    pub privileged_session_max_age: Duration,
    pub after: SettingsAfterSettings,
}

impl Default for SettingsFlowSettings {
    fn default() -> Self {
        SettingsFlowSettings {
            ui_url: None,
            lifespan: Duration::from_secs(3600),
            privileged_session_max_age: Duration::from_secs(3600),
            after: SettingsAfterSettings::default(),
        }
    }
}

/// `selfservice.flows.settings.after.*`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct SettingsAfterSettings {
    pub password: SettingsAfterMethod,
}

/// `selfservice.flows.settings.after.password.*`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct SettingsAfterMethod {
    /// Only `revoke_active_sessions` (end the identity's other sessions after a password
    /// change). Off by default, as in Kratos.
    pub hooks: Vec<Hook>,
}

/// The validated settings.
#[derive(Clone, Debug)]
pub struct SettingsConfig {
    pub ui: Url,
    pub lifespan: Duration,
    pub privileged_session_max_age: Duration,
    /// End the identity's other sessions after a password change.
    pub revoke_sessions_on_password: bool,
}

impl SettingsFlowSettings {
    pub fn validate(&self, login_ui: &Url) -> Result<SettingsConfig, SettingsError> {
        let ui = match &self.ui_url {
            Some(raw) => super::web_url(raw).map_err(|reason| {
                SettingsError::invalid("selfservice.flows.settings.ui_url", reason)
            })?,
            None => login_ui
                .join("settings")
                .map_err(|e| SettingsError::invalid("selfservice.flows.login.ui_url", e))?,
        };
        if self.lifespan < Duration::from_secs(60) {
            return Err(SettingsError::invalid(
                "selfservice.flows.settings.lifespan",
                "must be at least 1m",
            ));
        }
        if self.privileged_session_max_age.is_zero() {
            return Err(SettingsError::invalid(
                "selfservice.flows.settings.privileged_session_max_age",
                "must be more than 0s",
            ));
        }
        let mut revoke_sessions_on_password = false;
        for (i, hook) in self.after.password.hooks.iter().enumerate() {
            match hook.name() {
                "revoke_active_sessions" => revoke_sessions_on_password = true,
                other => {
                    return Err(SettingsError::invalid(
                        format!("selfservice.flows.settings.after.password.hooks[{i}]"),
                        format!(
                            "{other:?} is not a known hook (only \"revoke_active_sessions\" is)"
                        ),
                    ));
                }
            }
        }
        Ok(SettingsConfig {
            ui,
            lifespan: self.lifespan,
            privileged_session_max_age: self.privileged_session_max_age,
            revoke_sessions_on_password,
        })
    }
}

/// What a new flow starts with; no CSRF hash makes an API flow.
pub struct NewFlow {
    pub request_url: String,
    pub return_to: Option<Url>,
    pub csrf_token_hash: Option<String>,
    pub identity_id: Id,
    pub messages: FlowMessages,
}

pub fn new_flow(new: NewFlow, now: DateTime<Utc>, lifespan: Duration) -> SettingsFlowRow {
    let at = now.naive_utc();
    let flow_type = if new.csrf_token_hash.is_some() {
        "browser"
    } else {
        "api"
    };
    SettingsFlowRow {
        id: Id::new_v7(),
        flow_type: flow_type.into(),
        request_url: new.request_url,
        return_to: new.return_to.map(String::from),
        csrf_token_hash: new.csrf_token_hash,
        identity_id: new.identity_id,
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

impl SettingsFlowRow {
    pub fn is_browser(&self) -> bool {
        self.flow_type == "browser"
    }
}

/// The form: the CSRF token (browsers), the traits (group `profile`, filled from the last
/// rejected submission or else the identity) with their Save button, and a new password
/// (group `password`) with its Save button.
fn nodes(
    schema: &IdentitySchema,
    values: &serde_json::Value,
    masked_csrf: Option<String>,
) -> Vec<UiNode> {
    let mut nodes = Vec::new();
    if let Some(token) = masked_csrf {
        nodes.push(form::input(
            "default",
            "csrf_token",
            "hidden",
            Some(token.into()),
            None,
            true,
        ));
    }
    nodes.extend(form::trait_nodes(schema, Some(values), "profile"));
    let save = |group: &str| {
        form::input(
            group,
            "method",
            "submit",
            Some(group.into()),
            Some(text::label_save()),
            false,
        )
    };
    nodes.push(save("profile"));
    let mut password = form::input(
        "password",
        "password",
        "password",
        None,
        Some(text::label_password()),
        true,
    );
    password.attributes.autocomplete = Some("new-password".into());
    nodes.push(password);
    nodes.push(save("password"));
    nodes
}

/// The flow as Kratos shows it, embedding `identity` as it is now.
pub fn to_wire(
    row: &SettingsFlowRow,
    identity: Identity,
    schema: &IdentitySchema,
    public: &Url,
    masked_csrf: Option<String>,
    continue_with: Vec<serde_json::Value>,
) -> SettingsFlow {
    let messages: FlowMessages =
        serde_json::from_value(row.ui_messages.0.clone()).unwrap_or_default();
    let values = row
        .traits
        .as_ref()
        .map_or_else(|| identity.traits.clone(), |t| t.0.clone());
    let mut nodes = nodes(schema, &values, masked_csrf);
    for node in &mut nodes {
        if let Some(name) = &node.attributes.name {
            node.messages = messages.fields.get(name).cloned().unwrap_or_default();
        }
    }
    let mut action = public
        .join("self-service/settings")
        .expect("a fixed relative path joins");
    action
        .query_pairs_mut()
        .append_pair("flow", &row.id.0.to_string());
    SettingsFlow {
        id: row.id.0,
        flow_type: row.flow_type.clone(),
        expires_at: row.expires_at.and_utc(),
        issued_at: row.issued_at.and_utc(),
        request_url: row.request_url.clone(),
        return_to: row.return_to.clone(),
        active: row.active.clone(),
        identity,
        state: row.state.clone(),
        ui: UiContainer {
            action: action.into(),
            method: "POST".into(),
            nodes,
            messages: messages.form,
        },
        continue_with,
    }
}

/// Whether a session signed in at `authenticated_at` may make sensitive changes at `now`.
pub fn is_privileged(
    authenticated_at: DateTime<Utc>,
    now: DateTime<Utc>,
    max_age: Duration,
) -> bool {
    chrono::Duration::from_std(max_age).is_ok_and(|max| now - authenticated_at < max)
}

/// The traits to keep on the flow for the next render.
pub fn kept_traits(traits: &serde_json::Value) -> Option<Json> {
    super::registration::kept_traits(traits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_kratos_and_hooks_are_checked() {
        let login = Url::parse("https://ui.test/login").unwrap();
        let config = SettingsFlowSettings::default().validate(&login).unwrap();
        assert_eq!(config.ui.as_str(), "https://ui.test/settings");
        assert_eq!(config.privileged_session_max_age, Duration::from_secs(3600));
        assert!(!config.revoke_sessions_on_password);
        let mut settings = SettingsFlowSettings::default();
        settings.after.password.hooks = vec![Hook::Name("revoke_active_sessions".into())];
        assert!(
            settings
                .validate(&login)
                .unwrap()
                .revoke_sessions_on_password
        );
        settings
            .after
            .password
            .hooks
            .push(Hook::Name("session".into()));
        assert!(settings.validate(&login).is_err());
    }

    #[test]
    fn privilege_ends_after_the_max_age() {
        let signed_in = Utc::now();
        let max = Duration::from_secs(600);
        assert!(is_privileged(signed_in, signed_in, max));
        assert!(!is_privileged(
            signed_in,
            signed_in + chrono::Duration::seconds(600),
            max
        ));
    }
}
