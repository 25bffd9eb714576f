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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<IdentityWithCredentials>,
}

/// Kratos' `identityWithCredentials`: credentials imported with a new identity. Every documented
/// type is modelled so that a service can refuse the ones it does not import yet instead of
/// silently dropping them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct IdentityWithCredentials {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<IdentityWithCredentialsPassword>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saml: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookup_secret: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webauthn: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<serde_json::Value>,
}

impl IdentityWithCredentials {
    /// The credential types present other than `password`, by Kratos name.
    pub fn unsupported_types(&self) -> Vec<&'static str> {
        [
            ("oidc", &self.oidc),
            ("saml", &self.saml),
            ("totp", &self.totp),
            ("lookup_secret", &self.lookup_secret),
            ("webauthn", &self.webauthn),
            ("passkey", &self.passkey),
        ]
        .into_iter()
        .filter(|(_, value)| value.is_some())
        .map(|(name, _)| name)
        .collect()
    }
}

/// Kratos' `identityWithCredentialsPassword`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct IdentityWithCredentialsPassword {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<IdentityWithCredentialsPasswordConfig>,
}

/// Kratos' `identityWithCredentialsPasswordConfig`: a plaintext `password` or a PHC
/// `hashed_password`. `Debug` does not print either.
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct IdentityWithCredentialsPasswordConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashed_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_password_migration_hook: Option<bool>,
}

impl std::fmt::Debug for IdentityWithCredentialsPasswordConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |v: &Option<String>| v.as_ref().map(|_| "[redacted]");
        f.debug_struct("IdentityWithCredentialsPasswordConfig")
            .field("password", &shown(&self.password))
            .field("hashed_password", &shown(&self.hashed_password))
            .field(
                "use_password_migration_hook",
                &self.use_password_migration_hook,
            )
            .finish()
    }
}

/// Kratos' `identitySchemaContainer`, an element of `GET /schemas`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentitySchemaContainer {
    pub id: String,
    pub schema: serde_json::Value,
}

/// Kratos' `updateIdentityBody` (`PUT /admin/identities/{id}`): the full identity except its
/// credentials, which are merged per type when given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateIdentityBody {
    pub schema_id: String,
    pub traits: serde_json::Value,
    /// Required by Kratos' document; absent keeps the current state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<IdentityState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_public: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_admin: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<IdentityWithCredentials>,
}

/// Kratos' `patchIdentitiesBody` (`PATCH /admin/identities`, batch create and import).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchIdentitiesBody {
    pub identities: Vec<IdentityPatch>,
}

/// Kratos' `identityPatch`: one identity to create, with an optional id to find its result by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<CreateIdentityBody>,
}

/// Kratos' `batchPatchIdentitiesResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchPatchIdentitiesResponse {
    #[serde(default, deserialize_with = "crate::null_as_default")]
    pub identities: Vec<IdentityPatchResponse>,
}

/// Kratos' `identityPatchResponse`: `action` is `create` (with `identity`, the new id) or
/// `error` (with `error`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityPatchResponse {
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::error::GenericError>,
}
