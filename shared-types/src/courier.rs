//! The courier's messages as the admin API shows them (Kratos' `message`, `messageDispatch`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Kratos' `message`: one outgoing mail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: Uuid,
    /// `queued`, `processing`, `sent` or `abandoned`.
    pub status: String,
    /// `email`.
    #[serde(rename = "type")]
    pub message_type: String,
    pub recipient: String,
    /// The plain-text body.
    pub body: String,
    pub subject: String,
    /// Like `recovery_code_valid`.
    pub template_type: String,
    pub send_count: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Delivery attempts, oldest first; only a single message's answer lists them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatches: Option<Vec<MessageDispatch>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Kratos' `messageDispatch`: one delivery attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageDispatch {
    pub id: Uuid,
    pub message_id: Uuid,
    /// `failed` or `success`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
