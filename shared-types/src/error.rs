//! The two error envelopes: Kratos' `{"error": {…}}` and Hydra's flat OAuth2 error.

use serde::{Deserialize, Serialize};

/// Kratos' `errorGeneric`: `{"error": {id, code, status, reason, message, details}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    pub error: GenericError,
}

/// Kratos' `genericError`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenericError {
    /// A stable error id such as `security_csrf_violation`; absent for generic HTTP errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub code: u16,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
}

/// Hydra's `errorOAuth2`, also the RFC 6749 error response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OAuth2ErrorBody {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_hint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
}
