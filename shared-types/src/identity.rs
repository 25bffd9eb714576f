//! Identities and identity schemas (Kratos' admin identities API and `/schemas`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum IdentityState {
    #[default]
    Active,
    Inactive,
}

/// Kratos' `identity`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub id: Uuid,
    pub schema_id: String,
    pub schema_url: String,
    pub state: IdentityState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_changed_at: Option<DateTime<Utc>>,
    pub traits: serde_json::Value,
    #[serde(default)]
    pub verifiable_addresses: Vec<VerifiableAddress>,
    #[serde(default)]
    pub recovery_addresses: Vec<RecoveryAddress>,
    #[serde(default)]
    pub metadata_public: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_admin: Option<serde_json::Value>,
    /// Only on admin reads with `include_credential`; secrets are never included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<BTreeMap<String, IdentityCredentials>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Kratos' `verifiableIdentityAddress`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifiableAddress {
    pub id: Uuid,
    pub value: String,
    pub verified: bool,
    pub via: String,
    /// `pending`, `sent` or `completed`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Kratos' `recoveryIdentityAddress`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecoveryAddress {
    pub id: Uuid,
    pub value: String,
    pub via: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Kratos' `identityCredentials` (without secret material).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityCredentials {
    #[serde(rename = "type")]
    pub kind: String,
    pub identifiers: Vec<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Kratos' `createIdentityBody` (the subset Olympus accepts so far).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateIdentityBody {
    pub schema_id: String,
    pub traits: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<IdentityState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_public: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_admin: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

/// Kratos' `identitySchemaContainer`, an element of `GET /schemas`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentitySchemaContainer {
    pub id: String,
    pub schema: serde_json::Value,
}
