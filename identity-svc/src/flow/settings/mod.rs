//! The settings flow (Kratos' settings flow, methods `profile` and `password`): a signed-in
//! identity changes its traits or its password. Flows belong to the identity of the session
//! that started them. Changing the password, an identifier or an address needs a recent sign-in
//! (`privileged_session_max_age`); otherwise the browser is sent to sign in again.

pub(crate) mod complete;
pub mod handlers;
pub mod store;

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use serde::{Deserialize, Serialize};
use service_kit::db::{AnyConnection, Id, Json};
use service_kit::settings::{SettingsError, duration};
use shared_types::flow::{SettingsFlow, UiNode, UiText};
use shared_types::identity::Identity;
use url::Url;

use super::lifecycle::{Columns, FlowRow, NewFlow};
use super::messages::FlowMessages;
use super::registration::{Hook, form};
use super::text;
use crate::schema::IdentitySchema;
use crate::state::AppState;
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
    /// `highest_available`: an identity with a second factor needs an aal2 session here.
    pub required_aal: crate::mfa::RequiredAal,
    pub after: SettingsAfterSettings,
}

impl Default for SettingsFlowSettings {
    fn default() -> Self {
        SettingsFlowSettings {
            ui_url: None,
            lifespan: Duration::from_secs(3600),
            privileged_session_max_age: Duration::from_secs(3600),
            required_aal: Default::default(),
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

impl FlowRow for SettingsFlowRow {
    const NAME: &'static str = "settings";
    /// The identity whose settings these are.
    type Extra = Id;

    fn open(new: NewFlow, identity_id: Id, now: DateTime<Utc>, lifespan: Duration) -> Self {
        let o = new.open(now, lifespan);
        SettingsFlowRow {
            id: o.id,
            flow_type: o.flow_type,
            request_url: o.request_url,
            return_to: o.return_to,
            csrf_token_hash: o.csrf_token_hash,
            identity_id,
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

    fn extra(&self) -> Id {
        self.identity_id
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

    /// A settings flow takes more changes after a successful one, until it expires.
    fn used_since(&self) -> Option<DateTime<Utc>> {
        None
    }

    fn ui(state: &AppState) -> &Url {
        &state.settings.flows.settings.ui
    }

    fn lifespan(state: &AppState) -> Duration {
        state.settings.flows.settings.lifespan
    }

    fn expired_message(minutes: f64) -> UiText {
        text::settings_flow_expired(minutes)
    }

    fn insert(conn: &mut AnyConnection, row: &Self) -> QueryResult<()> {
        store::insert(conn, row)
    }

    fn find(conn: &mut AnyConnection, id: Id) -> QueryResult<Self> {
        store::find(conn, id)
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
    let messages = FlowMessages::from_json(&row.ui_messages);
    let values = row
        .traits
        .as_ref()
        .map_or_else(|| identity.traits.clone(), |t| t.0.clone());
    let mut nodes = nodes(schema, &values, masked_csrf);
    nodes.extend(crate::webauthn::nodes::settings(&row.internal_context.0));
    let ui = messages.into_ui(public, "settings", row.id, nodes);
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
        ui,
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
