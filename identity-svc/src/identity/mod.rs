//! Identities: the rules for creating one from Kratos' `createIdentityBody` (schema, traits,
//! identifiers and addresses) and its wire representation.

pub mod handlers;
mod import;
pub mod manage;
mod patch;
pub mod store;
pub mod update;
pub mod update_store;

use std::collections::BTreeMap;

use service_kit::db::{Id, Json};
use shared_types::identity::{
    CreateIdentityBody, Identity, IdentityCredentials, IdentityState, RecoveryAddress,
    VerifiableAddress,
};
use url::Url;

use crate::credential::{NewPassword, PasswordConfig, PasswordHasher};
use crate::error::ApiError;
use crate::schema::{self, Registry};
use store::{
    CredentialIdentifierRow, CredentialRow, IdentityRecord, IdentityRow, InsertError,
    RecoveryAddressRow, VerifiableAddressRow,
};

/// Kratos' credential types; `include_credential` accepts these.
pub const CREDENTIAL_TYPES: &[&str] = &[
    "password",
    "oidc",
    "totp",
    "lookup_secret",
    "webauthn",
    "code",
    "passkey",
    "profile",
    "saml",
];
const MAX_EXTERNAL_ID: usize = 255;

/// A path id: malformed ids are answered like unknown ones (404), as Kratos does.
pub fn parse_id(raw: &str) -> Result<Id, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(Id)
        .map_err(|_| ApiError::NotFound)
}

/// Turns a create body into the rows to insert: validates the traits against their schema and
/// derives the password identifiers and addresses the schema marks.
pub fn new_identity(
    body: CreateIdentityBody,
    schemas: &Registry,
) -> Result<IdentityRecord, ApiError> {
    let schema = schemas.get(&body.schema_id).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "identity schema {:?} is not configured",
            body.schema_id
        ))
    })?;
    let mut traits = body.traits;
    schema.trim_marked(&mut traits);
    schema.validate(&traits).map_err(ApiError::Validation)?;
    let external_id = body.external_id.filter(|e| !e.is_empty());
    if external_id
        .as_ref()
        .is_some_and(|e| e.len() > MAX_EXTERNAL_ID)
    {
        return Err(ApiError::BadRequest(format!(
            "external_id may be at most {MAX_EXTERNAL_ID} bytes"
        )));
    }
    let marked = schema.marked(&traits);
    let now = service_kit::db::now();
    let id = Id::new_v7();
    let identity = IdentityRow {
        id,
        schema_id: schema.id.clone(),
        state: state_name(body.state.unwrap_or_default()).into(),
        state_changed_at: Some(now),
        traits: Json(traits),
        metadata_public: body.metadata_public.filter(|m| !m.is_null()).map(Json),
        metadata_admin: body.metadata_admin.filter(|m| !m.is_null()).map(Json),
        external_id,
        created_at: now,
        updated_at: now,
    };
    let mut credentials = Vec::new();
    if !marked.password_identifiers.is_empty() {
        let credential = CredentialRow {
            id: Id::new_v7(),
            identity_id: id,
            credential_type: "password".into(),
            version: 0,
            created_at: now,
            updated_at: now,
            config: None,
        };
        let identifiers = marked
            .password_identifiers
            .into_iter()
            .map(|identifier| CredentialIdentifierRow {
                id: Id::new_v7(),
                identity_credential_id: credential.id,
                identity_id: id,
                credential_type: "password".into(),
                identifier,
                created_at: now,
                updated_at: now,
            })
            .collect();
        credentials.push((credential, identifiers));
    }
    let verifiable = marked
        .verifiable_addresses
        .into_iter()
        .map(|(via, value)| VerifiableAddressRow {
            id: Id::new_v7(),
            identity_id: id,
            via,
            value,
            verified: false,
            status: "pending".into(),
            verified_at: None,
            created_at: now,
            updated_at: now,
        })
        .collect();
    let recovery = marked
        .recovery_addresses
        .into_iter()
        .map(|(via, value)| RecoveryAddressRow {
            id: Id::new_v7(),
            identity_id: id,
            via,
            value,
            created_at: now,
            updated_at: now,
        })
        .collect();
    Ok(IdentityRecord {
        identity,
        verifiable,
        recovery,
        credentials,
    })
}

/// [`new_identity`] with the body's `credentials`: a plaintext password must meet the policy
/// and is hashed (off the async workers); an imported hash is stored as given.
pub async fn new_identity_with_credentials(
    mut body: CreateIdentityBody,
    schemas: &Registry,
    passwords: &PasswordHasher,
) -> Result<IdentityRecord, ApiError> {
    let password = NewPassword::from_credentials(body.credentials.take())?;
    let mut record = new_identity(body, schemas)?;
    let Some(password) = password else {
        return Ok(record);
    };
    let Some((credential, identifiers)) = record
        .credentials
        .iter_mut()
        .find(|(c, _)| c.credential_type == "password")
    else {
        return Err(ApiError::BadRequest(
            "a password needs a trait that the identity schema marks as a password identifier \
             (\"ory.sh/kratos\": {\"credentials\": {\"password\": {\"identifier\": true}}})"
                .into(),
        ));
    };
    let names: Vec<String> = identifiers.iter().map(|i| i.identifier.clone()).collect();
    let hashed_password = password.into_hash(&names, passwords).await?;
    credential.config = Some(PasswordConfig { hashed_password }.to_json());
    Ok(record)
}

/// The credential types `include_credential` asks for (repeated or comma-separated).
pub fn parse_include_credential(values: &[String]) -> Result<Vec<String>, ApiError> {
    let mut types = Vec::new();
    for value in values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        if !CREDENTIAL_TYPES.contains(&value) {
            let known = CREDENTIAL_TYPES.join(", ");
            return Err(ApiError::BadRequest(format!(
                "include_credential must be one of: {known}"
            )));
        }
        types.push(value.to_string());
    }
    Ok(types)
}

/// Candidates for an exact `credentials_identifier` match: stored identifiers are trimmed, and
/// e-mail addresses also lowercased, but the filter cannot know which kind it was given.
pub fn identifier_candidates(raw: &str) -> Vec<String> {
    let trimmed = schema::normalise(raw, false);
    let lowered = schema::normalise(raw, true);
    if trimmed == lowered {
        vec![trimmed]
    } else {
        vec![trimmed, lowered]
    }
}

/// An identifier as typed at sign-in, in the form e-mail identifiers are stored: NFKC, trimmed,
/// and lowercased when it has an `@` (after NFKC, so a full-width `＠` counts). Identifiers of
/// other traits are stored without lowercasing, so `store::find_password_credential` tries that
/// form too.
pub fn normalize_identifier(raw: &str) -> String {
    let composed = schema::normalise(raw, false);
    if composed.contains('@') {
        composed.to_lowercase()
    } else {
        composed
    }
}

impl From<InsertError> for ApiError {
    fn from(err: InsertError) -> Self {
        match err {
            InsertError::Query(e) => e.into(),
            conflict => ApiError::Conflict(conflict.to_string()),
        }
    }
}

pub(crate) fn state_name(state: IdentityState) -> &'static str {
    match state {
        IdentityState::Active => "active",
        IdentityState::Inactive => "inactive",
    }
}

fn parse_state(name: &str) -> Result<IdentityState, ApiError> {
    match name {
        "active" => Ok(IdentityState::Active),
        "inactive" => Ok(IdentityState::Inactive),
        other => Err(ApiError::Internal(anyhow::anyhow!(
            "stored identity has an unknown state {other:?}"
        ))),
    }
}

/// The admin representation; `include` lists the credential types to show (identifiers only).
pub fn to_wire(
    record: IdentityRecord,
    public: &Url,
    include: &[String],
) -> Result<Identity, ApiError> {
    let row = record.identity;
    let credentials: BTreeMap<String, IdentityCredentials> = record
        .credentials
        .into_iter()
        .filter(|(c, _)| include.contains(&c.credential_type))
        .map(|(c, identifiers)| {
            let wire = IdentityCredentials {
                kind: c.credential_type.clone(),
                identifiers: identifiers.into_iter().map(|i| i.identifier).collect(),
                version: i64::from(c.version),
                created_at: c.created_at.and_utc(),
                updated_at: c.updated_at.and_utc(),
            };
            (c.credential_type, wire)
        })
        .collect();
    Ok(Identity {
        id: row.id.0,
        schema_url: schema::schema_url(public, &row.schema_id),
        schema_id: row.schema_id,
        state: parse_state(&row.state)?,
        state_changed_at: row.state_changed_at.map(|t| t.and_utc()),
        traits: row.traits.0,
        verifiable_addresses: record
            .verifiable
            .into_iter()
            .map(verifiable_to_wire)
            .collect(),
        recovery_addresses: record.recovery.into_iter().map(recovery_to_wire).collect(),
        metadata_public: row.metadata_public.map(|m| m.0),
        metadata_admin: row.metadata_admin.map(|m| m.0),
        credentials: (!include.is_empty()).then_some(credentials),
        external_id: row.external_id,
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
    })
}

fn verifiable_to_wire(a: VerifiableAddressRow) -> VerifiableAddress {
    VerifiableAddress {
        id: a.id.0,
        value: a.value,
        verified: a.verified,
        via: a.via,
        status: a.status,
        verified_at: a.verified_at.map(|t| t.and_utc()),
        created_at: a.created_at.and_utc(),
        updated_at: a.updated_at.and_utc(),
    }
}

fn recovery_to_wire(a: RecoveryAddressRow) -> RecoveryAddress {
    RecoveryAddress {
        id: a.id.0,
        value: a.value,
        via: a.via,
        created_at: a.created_at.and_utc(),
        updated_at: a.updated_at.and_utc(),
    }
}
