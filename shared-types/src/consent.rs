//! The login and consent handoff (Hydra's admin API): requests a UI reads, decisions it sends.

use serde::{Deserialize, Serialize};

use crate::client::OAuth2Client;

/// Hydra's `oAuth2RedirectTo`: where the UI sends the browser next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OAuth2RedirectTo {
    pub redirect_to: String,
}

/// Hydra's `oidcContext`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct OidcContext {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acr_values: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub display: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_hint_claims: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub login_hint: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ui_locales: Vec<String>,
}

/// Hydra's `oAuth2LoginRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OAuth2LoginRequest {
    pub challenge: String,
    pub requested_scope: Vec<String>,
    pub requested_access_token_audience: Vec<String>,
    /// A remembered login exists: accept at once with `subject`, show no UI.
    pub skip: bool,
    pub subject: String,
    #[serde(default)]
    pub oidc_context: OidcContext,
    pub client: OAuth2Client,
    pub request_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// Hydra's `acceptOAuth2LoginRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AcceptOAuth2LoginRequest {
    pub subject: String,
    #[serde(default)]
    pub remember: bool,
    #[serde(default)]
    pub remember_for: i64,
    #[serde(default)]
    pub extend_session_lifespan: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_subject_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_provider_session_id: Option<String>,
}

/// Hydra's `rejectOAuth2Request`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RejectOAuth2Request {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_hint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_debug: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
}

/// Hydra's `oAuth2ConsentRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OAuth2ConsentRequest {
    pub challenge: String,
    pub consent_request_id: String,
    pub requested_scope: Vec<String>,
    pub requested_access_token_audience: Vec<String>,
    /// Earlier remembered consent covers the request: accept at once, show no UI.
    pub skip: bool,
    pub subject: String,
    #[serde(default)]
    pub oidc_context: OidcContext,
    pub client: OAuth2Client,
    pub request_url: String,
    pub login_challenge: String,
    pub login_session_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(default)]
    pub amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<serde_json::Value>,
}

/// The `session` of a consent decision: extra claims for the tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AcceptOAuth2ConsentRequestSession {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<serde_json::Value>,
}

/// Hydra's `acceptOAuth2ConsentRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AcceptOAuth2ConsentRequest {
    #[serde(default)]
    pub grant_scope: Vec<String>,
    #[serde(default)]
    pub grant_access_token_audience: Vec<String>,
    #[serde(default)]
    pub remember: bool,
    #[serde(default)]
    pub remember_for: i64,
    #[serde(default)]
    pub session: AcceptOAuth2ConsentRequestSession,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handled_at: Option<String>,
}

/// Hydra's `oAuth2ConsentSession`: a granted consent, as the session list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OAuth2ConsentSession {
    pub consent_request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_request: Option<OAuth2ConsentRequest>,
    #[serde(default)]
    pub grant_scope: Vec<String>,
    #[serde(default)]
    pub grant_access_token_audience: Vec<String>,
    #[serde(default)]
    pub session: AcceptOAuth2ConsentRequestSession,
    #[serde(default)]
    pub remember: bool,
    #[serde(default)]
    pub remember_for: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handled_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<serde_json::Value>,
}

/// Hydra's `oAuth2LogoutRequest`: what a logout UI reads before it accepts or rejects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OAuth2LogoutRequest {
    pub challenge: String,
    pub subject: String,
    /// The login session (the ID tokens' `sid`) to end.
    pub sid: String,
    pub request_url: String,
    /// Whether a relying party started the logout (with an `id_token_hint`).
    pub rp_initiated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<OAuth2Client>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<chrono::DateTime<chrono::Utc>>,
}
