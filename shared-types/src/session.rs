//! Session management (Kratos' listSessions, getSession, listIdentitySessions,
//! listMySessions, disableMyOtherSessions).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::flow::SessionAuthenticationMethod;
use crate::identity::Identity;

/// Kratos' `session` as the management endpoints answer it: the same fields as
/// [`crate::flow::Session`], with `identity` only when it was expanded (`expand=identity`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManagedSession {
    pub id: Uuid,
    pub active: bool,
    pub expires_at: DateTime<Utc>,
    pub authenticated_at: DateTime<Utc>,
    pub issued_at: DateTime<Utc>,
    pub authenticator_assurance_level: String,
    #[serde(default, deserialize_with = "crate::null_as_default")]
    pub authentication_methods: Vec<SessionAuthenticationMethod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
}

/// Kratos' `deleteMySessionsCount`: how many sessions `DELETE /sessions` revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteMySessionsCount {
    pub count: i64,
}
