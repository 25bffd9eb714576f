//! Self-service flows and their UI (Kratos' `loginFlow`, `uiContainer`, `uiNode`, `uiText`) and
//! sessions (Kratos' `session`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::identity::Identity;

/// Kratos' `uiText`: a message with a stable numeric id that UIs translate by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UiText {
    pub id: i64,
    pub text: String,
    /// `info`, `error` or `success`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<serde_json::Value>,
}

/// Kratos' `uiNodeAttributes`, flattened into one struct: the input variant
/// (`uiNodeInputAttributes`, `node_type: "input"`, which requires `name`, `type` and `disabled`),
/// and the text (`id`, `text`) and img (`id`, `src`, `width`, `height`) variants. Kratos' other
/// variants (a, script, div) have fields this struct does not keep yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct UiNodeAttributes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub input_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autocomplete: Option<String>,
    #[serde(default)]
    pub disabled: bool,
    pub node_type: String,
    /// Text and img nodes: the node's id (`totp_qr`, `totp_secret_key`, `lookup_secret_codes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Text nodes: what they show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<UiText>,
    /// Img nodes: the image (a `data:` URL) and its size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct UiNodeMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<UiText>,
}

/// Kratos' `uiNode`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UiNode {
    #[serde(rename = "type")]
    pub node_type: String,
    pub group: String,
    pub attributes: UiNodeAttributes,
    #[serde(default)]
    pub messages: Vec<UiText>,
    #[serde(default)]
    pub meta: UiNodeMeta,
}

/// Kratos' `uiContainer`: one form posting every node to `action`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UiContainer {
    pub action: String,
    pub method: String,
    pub nodes: Vec<UiNode>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<UiText>,
}

/// Kratos' `loginFlow`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginFlow {
    pub id: Uuid,
    /// `browser` or `api`.
    #[serde(rename = "type")]
    pub flow_type: String,
    pub expires_at: DateTime<Utc>,
    pub issued_at: DateTime<Utc>,
    pub request_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_to: Option<String>,
    #[serde(default)]
    pub refresh: bool,
    pub requested_aal: String,
    pub state: String,
    pub ui: UiContainer,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One entry of a session's `authentication_methods`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionAuthenticationMethod {
    pub method: String,
    pub aal: String,
    pub completed_at: DateTime<Utc>,
    /// The upstream provider's id, for the `oidc` method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

/// Kratos' `session`, as `/sessions/whoami` returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: Uuid,
    pub active: bool,
    pub expires_at: DateTime<Utc>,
    pub authenticated_at: DateTime<Utc>,
    pub issued_at: DateTime<Utc>,
    pub authenticator_assurance_level: String,
    pub authentication_methods: Vec<SessionAuthenticationMethod>,
    pub identity: Identity,
}

/// The body of a successful browser login answered as JSON (Kratos' `successfulNativeLogin`
/// without the token, which browsers get as a cookie).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuccessfulLogin {
    pub session: Session,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    /// Kratos writes `null` when there is nothing to continue with.
    #[serde(default, deserialize_with = "crate::null_as_default")]
    pub continue_with: Vec<serde_json::Value>,
}

/// `GET /self-service/logout/browser` (Kratos' `logoutFlow`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogoutFlow {
    pub logout_url: String,
    pub logout_token: String,
}

/// Kratos' `registrationFlow`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistrationFlow {
    pub id: Uuid,
    /// `browser` or `api`.
    #[serde(rename = "type")]
    pub flow_type: String,
    pub expires_at: DateTime<Utc>,
    pub issued_at: DateTime<Utc>,
    pub request_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_to: Option<String>,
    /// The identity schema new identities of this flow get.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_schema: Option<String>,
    /// The method of the last submission (`password`); unset until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<String>,
    pub state: String,
    pub ui: UiContainer,
}

/// Kratos' `settingsFlow`: a signed-in identity changing its profile (traits) or password.
/// `state` is `show_form` until a change is saved, then `success`; `identity` is the identity as
/// it is now (after the change, on success).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsFlow {
    pub id: Uuid,
    /// `browser` or `api`.
    #[serde(rename = "type")]
    pub flow_type: String,
    pub expires_at: DateTime<Utc>,
    pub issued_at: DateTime<Utc>,
    pub request_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_to: Option<String>,
    /// The method of the last submission (`profile` or `password`); unset until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<String>,
    pub identity: Identity,
    pub state: String,
    pub ui: UiContainer,
    #[serde(default, deserialize_with = "crate::null_as_default")]
    pub continue_with: Vec<serde_json::Value>,
}

/// Kratos' `successfulNativeRegistration`: the answer to a completed registration. `session` is
/// set only when the `session` hook runs after registration, and `session_token` only for API
/// flows with that hook (browsers get the cookie instead).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuccessfulNativeRegistration {
    pub identity: Identity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Session>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    #[serde(default, deserialize_with = "crate::null_as_default")]
    pub continue_with: Vec<serde_json::Value>,
}

/// Kratos' `performNativeLogoutBody` (`DELETE /self-service/logout/api`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerformNativeLogoutBody {
    pub session_token: String,
}
