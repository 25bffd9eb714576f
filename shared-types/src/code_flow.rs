//! The recovery and verification flows (Kratos' `recoveryFlow` and `verificationFlow`): both
//! send a code by email and take it back, so they share one shape (only recovery continues with
//! a session).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::flow::UiContainer;

/// Kratos' `recoveryFlow` / `verificationFlow`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeFlow {
    pub id: Uuid,
    /// `browser` or `api`.
    #[serde(rename = "type")]
    pub flow_type: String,
    pub expires_at: DateTime<Utc>,
    pub issued_at: DateTime<Utc>,
    pub request_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_to: Option<String>,
    /// The method in use once an address was submitted (`code`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<String>,
    /// `choose_method`, `sent_email` or `passed_challenge`.
    pub state: String,
    pub ui: UiContainer,
    /// After a recovery: the session token for API flows (`set_ory_session_token`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub continue_with: Vec<serde_json::Value>,
}

pub type RecoveryFlow = CodeFlow;
pub type VerificationFlow = CodeFlow;
