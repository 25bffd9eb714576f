//! An authorization flow: one row from the login challenge to the issued code, moved along by
//! a state machine whose every step is one conditional update, so each challenge and verifier
//! works once.
//!
//! login_unused → (UI accepts/rejects) login_decided → (browser redeems the login verifier)
//! consent_unused → (UI decides) consent_decided → (browser redeems the consent verifier) done.
//! A redeemed rejection ends in failed.

pub mod code;
pub mod store;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared_types::consent::{
    AcceptOAuth2ConsentRequest, AcceptOAuth2LoginRequest, OidcContext, RejectOAuth2Request,
};

pub const LOGIN_UNUSED: &str = "login_unused";
pub const LOGIN_DECIDED: &str = "login_decided";
pub const CONSENT_UNUSED: &str = "consent_unused";
pub const CONSENT_DECIDED: &str = "consent_decided";
pub const DONE: &str = "done";
pub const FAILED: &str = "failed";

pub const CHALLENGE_PREFIX: &str = "oly_ch_";
pub const VERIFIER_PREFIX: &str = "oly_vf_";

/// The authorization request as validated at `/oauth2/auth`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: Vec<String>,
    pub audience: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    /// `prompt=login` or `select_account`: the user must authenticate again even with a
    /// remembered login.
    pub force_login: bool,
    /// `prompt=none`: no UI may be shown; the flow completes silently or fails.
    #[serde(default)]
    pub prompt_none: bool,
    /// `prompt=consent`: a remembered consent never skips.
    #[serde(default)]
    pub force_consent: bool,
    /// `max_age` in seconds: an older login must authenticate again.
    #[serde(default)]
    pub max_age: Option<i64>,
    #[serde(default)]
    pub response_mode: ResponseMode,
    pub oidc_context: OidcContext,
}

/// How the authorization response reaches the client (OAuth 2.0 Multiple Response Types §2.1,
/// Form Post Response Mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    #[default]
    Query,
    Fragment,
    FormPost,
}

impl ResponseMode {
    pub fn parse(value: &str) -> Option<ResponseMode> {
        match value {
            "query" => Some(ResponseMode::Query),
            "fragment" => Some(ResponseMode::Fragment),
            "form_post" => Some(ResponseMode::FormPost),
            _ => None,
        }
    }
}

/// A UI's answer to a challenge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Decision<A> {
    Accepted(A),
    Rejected(RejectOAuth2Request),
}

/// What has been decided so far (stored as JSON beside the state).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Decisions {
    /// A remembered login covered this request (the UI was told `skip: true`).
    pub login_skip: bool,
    pub login: Option<Decision<AcceptOAuth2LoginRequest>>,
    pub authenticated_at: Option<DateTime<Utc>>,
    pub consent_requested_at: Option<DateTime<Utc>>,
    pub consent: Option<Decision<AcceptOAuth2ConsentRequest>>,
}

impl Decisions {
    pub fn to_json(&self) -> service_kit::db::Json {
        service_kit::db::Json(serde_json::to_value(self).unwrap_or_default())
    }
}

/// The RFC 6749 error a rejection turns into at the client's redirect_uri.
pub fn rejection_error(reject: &RejectOAuth2Request) -> (String, String) {
    let error = reject
        .error
        .clone()
        .filter(|e| valid_error_code(e))
        .unwrap_or_else(|| "access_denied".into());
    let description = reject
        .error_description
        .clone()
        .unwrap_or_else(|| "The resource owner or authorization server denied the request.".into());
    (error, description)
}

/// RFC 6749 §5.2: error codes are printable ASCII without `"` and `\`.
fn valid_error_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\')
}
