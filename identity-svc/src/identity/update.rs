//! Changing an identity (Kratos' updateIdentity and patchIdentity). Both end in [`Changes`]: the
//! new traits are validated against their schema, identifiers and addresses are derived again
//! (an address that stays keeps its verification), and a change of state is recorded; an
//! identity that becomes `inactive` loses its sessions and a lifecycle notice is queued, in the
//! same transaction (see `update_store`).

use chrono::NaiveDateTime;
use serde_json::Value;
use service_kit::db::{Id, Json};
use shared_types::identity::{IdentityState, UpdateIdentityBody};

use super::patch::{self, Operation};
use super::store::{
    CredentialIdentifierRow, CredentialRow, IdentityRecord, RecoveryAddressRow,
    VerifiableAddressRow,
};
use crate::credential::PasswordConfig;
use crate::error::ApiError;
use crate::schema::{Marked, Registry};

const MAX_EXTERNAL_ID: usize = 255;
const ADDRESS_STATUSES: &[&str] = &["pending", "sent", "completed"];

/// What the caller wants the identity to be.
#[derive(Clone)]
pub struct Changes {
    pub schema_id: String,
    pub traits: Value,
    /// `None` keeps the current state.
    pub state: Option<IdentityState>,
    pub metadata_public: Option<Value>,
    pub metadata_admin: Option<Value>,
    pub external_id: Option<String>,
    /// Verification an admin set on existing addresses (PATCH), by (via, value).
    pub verification: Vec<Verification>,
    /// A new password hash (PUT with `credentials.password`).
    pub hashed_password: Option<String>,
}

/// An admin's verdict on one verifiable address.
#[derive(Clone)]
pub struct Verification {
    pub via: String,
    pub value: String,
    pub verified: bool,
    pub status: String,
}

/// The rows to write, and what the write must still find to apply (optimistic concurrency).
pub struct UpdatePlan {
    pub record: IdentityRecord,
    /// The `updated_at` the identity had when it was read; the write applies only if it still
    /// has it, so a concurrent change is never silently overwritten.
    pub expected_updated_at: NaiveDateTime,
    /// Addresses kept from before (by id), whose verification may have changed.
    pub kept_verifiable: Vec<Id>,
    pub kept_recovery: Vec<Id>,
    /// The state went from active to inactive.
    pub deactivated: bool,
}

impl Changes {
    /// A PUT body: the whole identity. Absent metadata and `external_id` are cleared, as in
    /// Kratos; absent `state` keeps the state; credentials are handled by the caller.
    pub fn from_put(body: UpdateIdentityBody) -> Changes {
        Changes {
            schema_id: body.schema_id,
            traits: body.traits,
            state: body.state,
            metadata_public: body.metadata_public.filter(|m| !m.is_null()),
            metadata_admin: body.metadata_admin.filter(|m| !m.is_null()),
            external_id: body.external_id.filter(|e| !e.is_empty()),
            verification: Vec::new(),
            hashed_password: None,
        }
    }

    /// Applies a JSON Patch to the identity's admin document. Only `schema_id`, `traits`,
    /// `state`, `metadata_public`, `metadata_admin`, `external_id` and the verification of
    /// `verifiable_addresses` (`verified`, `status`) may change; anything else is refused.
    pub fn from_patch(original: &Value, operations: &[Operation]) -> Result<Changes, ApiError> {
        let patched = patch::apply(original, operations).map_err(ApiError::BadRequest)?;
        let (Some(before), Some(after)) = (original.as_object(), patched.as_object()) else {
            return Err(ApiError::BadRequest(
                "the patched identity must stay a JSON object".into(),
            ));
        };
        const MUTABLE: &[&str] = &[
            "schema_id",
            "traits",
            "state",
            "metadata_public",
            "metadata_admin",
            "external_id",
            "verifiable_addresses",
        ];
        let keys = before.keys().chain(after.keys());
        if let Some(key) = keys
            .filter(|k| !MUTABLE.contains(&k.as_str()))
            .find(|k| before.get(*k) != after.get(*k))
        {
            return Err(ApiError::BadRequest(format!(
                "/{key} cannot be changed with a patch"
            )));
        }
        let field = |key: &str| after.get(key).cloned().unwrap_or(Value::Null);
        let schema_id = match field("schema_id") {
            Value::String(s) => s,
            _ => return Err(ApiError::BadRequest("/schema_id must be a string".into())),
        };
        let state = serde_json::from_value(field("state"))
            .map_err(|_| ApiError::BadRequest("/state must be active or inactive".into()))?;
        let external_id = match field("external_id") {
            Value::Null => None,
            Value::String(s) => Some(s).filter(|s| !s.is_empty()),
            _ => return Err(ApiError::BadRequest("/external_id must be a string".into())),
        };
        Ok(Changes {
            schema_id,
            traits: field("traits"),
            state: Some(state),
            metadata_public: Some(field("metadata_public")).filter(|m| !m.is_null()),
            metadata_admin: Some(field("metadata_admin")).filter(|m| !m.is_null()),
            external_id,
            verification: verification(
                before.get("verifiable_addresses"),
                after.get("verifiable_addresses"),
            )?,
            hashed_password: None,
        })
    }
}

/// The verification changes between the original and the patched `verifiable_addresses`:
/// entries are matched by `id`, and only `verified` and `status` may differ.
fn verification(
    before: Option<&Value>,
    after: Option<&Value>,
) -> Result<Vec<Verification>, ApiError> {
    let bad = |reason: &str| {
        ApiError::BadRequest(format!(
            "/verifiable_addresses: {reason}; addresses follow the traits, and only their \
             `verified` and `status` can be patched"
        ))
    };
    let empty = Vec::new();
    let before = before.and_then(Value::as_array).unwrap_or(&empty);
    let after = match after {
        Some(Value::Array(items)) => items,
        _ => return Err(bad("must stay an array")),
    };
    if after.len() != before.len() {
        return Err(bad("entries cannot be added or removed"));
    }
    let mut out = Vec::new();
    for entry in after {
        let original = before
            .iter()
            .find(|b| b.get("id").is_some() && b.get("id") == entry.get("id"))
            .ok_or_else(|| bad("an entry's id changed"))?;
        let (Some(a), Some(b)) = (entry.as_object(), original.as_object()) else {
            return Err(bad("entries must stay objects"));
        };
        let changed = a
            .keys()
            .chain(b.keys())
            .filter(|k| !matches!(k.as_str(), "verified" | "status" | "verified_at"))
            .any(|k| a.get(k) != b.get(k));
        if changed {
            return Err(bad("only `verified` and `status` can change"));
        }
        let verified = entry
            .get("verified")
            .and_then(Value::as_bool)
            .ok_or_else(|| bad("`verified` must be a boolean"))?;
        let status = entry
            .get("status")
            .and_then(Value::as_str)
            .filter(|s| ADDRESS_STATUSES.contains(s))
            .ok_or_else(|| bad("`status` must be pending, sent or completed"))?;
        out.push(Verification {
            via: string(entry, "via"),
            value: string(entry, "value"),
            verified,
            status: status.to_string(),
        });
    }
    Ok(out)
}

fn string(entry: &Value, key: &str) -> String {
    entry
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Validates the traits of `changes` against their schema (trimming marked values first) and
/// derives the identifiers and addresses they hold.
pub fn validate_traits(changes: &mut Changes, schemas: &Registry) -> Result<Marked, ApiError> {
    let schema = schemas.get(&changes.schema_id).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "identity schema {:?} is not configured",
            changes.schema_id
        ))
    })?;
    schema.trim_marked(&mut changes.traits);
    schema
        .validate(&changes.traits)
        .map_err(ApiError::Validation)?;
    if changes
        .external_id
        .as_ref()
        .is_some_and(|e| e.len() > MAX_EXTERNAL_ID)
    {
        return Err(ApiError::BadRequest(format!(
            "external_id may be at most {MAX_EXTERNAL_ID} bytes"
        )));
    }
    Ok(schema.marked(&changes.traits))
}

/// The rows `current` becomes with `changes` (whose traits [`validate_traits`] checked, giving
/// `marked`) at `now`.
pub fn plan(
    current: IdentityRecord,
    changes: Changes,
    marked: Marked,
    now: NaiveDateTime,
) -> Result<UpdatePlan, ApiError> {
    let IdentityRecord {
        identity: old,
        verifiable,
        recovery,
        credentials,
    } = current;
    let id = old.id;
    // Strictly later than before, so that the next writer's expectation cannot match by chance.
    let now = now.max(old.updated_at + chrono::Duration::microseconds(1));
    let new_state = changes
        .state
        .map(super::state_name)
        .unwrap_or(old.state.as_str())
        .to_string();
    let state_changed = new_state != old.state;
    let mut identity = old.clone();
    identity.schema_id = changes.schema_id;
    identity.traits = Json(changes.traits);
    identity.metadata_public = changes.metadata_public.map(Json);
    identity.metadata_admin = changes.metadata_admin.map(Json);
    identity.external_id = changes.external_id;
    identity.updated_at = now;
    if state_changed {
        identity.state = new_state;
        identity.state_changed_at = Some(now);
    }
    let (verifiable, kept_verifiable) = verifiable_addresses(
        id,
        verifiable,
        marked.verifiable_addresses,
        &changes.verification,
        now,
    );
    let (recovery, kept_recovery) =
        recovery_addresses(id, recovery, marked.recovery_addresses, now);
    let credentials = password_credential(
        id,
        credentials,
        marked.password_identifiers,
        changes.hashed_password,
        now,
    )?;
    Ok(UpdatePlan {
        deactivated: state_changed && identity.state == "inactive",
        record: IdentityRecord {
            identity,
            verifiable,
            recovery,
            credentials,
        },
        expected_updated_at: old.updated_at,
        kept_verifiable,
        kept_recovery,
    })
}

fn verifiable_addresses(
    identity_id: Id,
    old: Vec<VerifiableAddressRow>,
    wanted: Vec<(String, String)>,
    verification: &[Verification],
    now: NaiveDateTime,
) -> (Vec<VerifiableAddressRow>, Vec<Id>) {
    let mut kept = Vec::new();
    let rows = wanted
        .into_iter()
        .map(|(via, value)| {
            let mut row = match old.iter().find(|a| a.via == via && a.value == value) {
                Some(existing) => {
                    kept.push(existing.id);
                    existing.clone()
                }
                None => VerifiableAddressRow {
                    id: Id::new_v7(),
                    identity_id,
                    via: via.clone(),
                    value: value.clone(),
                    verified: false,
                    status: "pending".into(),
                    verified_at: None,
                    created_at: now,
                    updated_at: now,
                },
            };
            if let Some(v) = verification
                .iter()
                .find(|v| v.via == via && v.value == value)
                && (v.verified != row.verified || v.status != row.status)
            {
                row.verified_at = match (v.verified, row.verified) {
                    (true, true) => row.verified_at,
                    (true, false) => Some(now),
                    (false, _) => None,
                };
                row.verified = v.verified;
                row.status = v.status.clone();
                row.updated_at = now;
            }
            row
        })
        .collect();
    (rows, kept)
}

fn recovery_addresses(
    identity_id: Id,
    old: Vec<RecoveryAddressRow>,
    wanted: Vec<(String, String)>,
    now: NaiveDateTime,
) -> (Vec<RecoveryAddressRow>, Vec<Id>) {
    let mut kept = Vec::new();
    let rows = wanted
        .into_iter()
        .map(
            |(via, value)| match old.iter().find(|a| a.via == via && a.value == value) {
                Some(existing) => {
                    kept.push(existing.id);
                    existing.clone()
                }
                None => RecoveryAddressRow {
                    id: Id::new_v7(),
                    identity_id,
                    via,
                    value,
                    created_at: now,
                    updated_at: now,
                },
            },
        )
        .collect();
    (rows, kept)
}

/// The password credential the identity ends up with: its identifiers follow the traits; its
/// hash is kept unless a new one is given. Traits without a password identifier leave no
/// credential, which is refused while the identity has a password (it could no longer sign in).
fn password_credential(
    identity_id: Id,
    old: Vec<(CredentialRow, Vec<CredentialIdentifierRow>)>,
    identifiers: Vec<String>,
    hashed_password: Option<String>,
    now: NaiveDateTime,
) -> Result<Vec<(CredentialRow, Vec<CredentialIdentifierRow>)>, ApiError> {
    let existing = old
        .into_iter()
        .find(|(c, _)| c.credential_type == "password")
        .map(|(c, _)| c);
    if identifiers.is_empty() {
        let has_password = hashed_password.is_some()
            || existing
                .as_ref()
                .is_some_and(|c| PasswordConfig::hashed_password(c.config.clone()).is_some());
        if has_password {
            return Err(ApiError::BadRequest(
                "the identity has a password, so its traits need a value that the identity \
                 schema marks as a password identifier"
                    .into(),
            ));
        }
        return Ok(Vec::new());
    }
    let mut credential = existing.unwrap_or_else(|| CredentialRow {
        id: Id::new_v7(),
        identity_id,
        credential_type: "password".into(),
        version: 0,
        created_at: now,
        updated_at: now,
        config: None,
    });
    if let Some(hashed_password) = hashed_password {
        credential.config = Some(PasswordConfig { hashed_password }.to_json());
        credential.updated_at = now;
    }
    let rows = identifiers
        .into_iter()
        .map(|identifier| CredentialIdentifierRow {
            id: Id::new_v7(),
            identity_credential_id: credential.id,
            identity_id,
            credential_type: "password".into(),
            identifier,
            created_at: now,
            updated_at: now,
        })
        .collect();
    Ok(vec![(credential, rows)])
}

/// The admin document a patch applies to: the identity as `GET` shows it, with `null` for
/// absent optional fields so that `replace` reaches them too.
pub fn patch_base(identity: &shared_types::identity::Identity) -> Result<Value, ApiError> {
    let mut doc = serde_json::to_value(identity).map_err(anyhow::Error::from)?;
    if let Some(object) = doc.as_object_mut() {
        for key in ["metadata_public", "metadata_admin", "external_id"] {
            object.entry(key).or_insert(Value::Null);
        }
    }
    Ok(doc)
}
