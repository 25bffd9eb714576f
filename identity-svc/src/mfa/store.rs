//! SQL for the second factors: their credential rows (in `identity_credentials`, identified by
//! the identity's id as Kratos does), the last TOTP step, and the recovery codes.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use service_kit::db::{AnyConnection, Id, Json};

use crate::db::schema::{identity_credential_identifiers as identifiers, identity_credentials};
use crate::db::schema_mfa::{identity_lookup_codes as codes, identity_totp_steps as steps};
use crate::identity::store::{CredentialIdentifierRow, CredentialRow};

#[derive(Queryable, Insertable, Clone)]
#[diesel(table_name = codes)]
pub struct LookupCodeRow {
    pub id: Id,
    pub identity_credential_id: Id,
    pub code_hash: String,
    pub sealed_code: String,
    pub key_fingerprint: String,
    pub position: i32,
    pub used_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// Which of `types` the identity has credentials of. Recovery codes count only while one is
/// unused (Kratos' rule): used-up codes cannot reach aal2, so asking for it would lock the
/// identity out.
pub fn credential_types(
    c: &mut AnyConnection,
    identity_id: Id,
    types: &[String],
) -> QueryResult<Vec<String>> {
    let found: Vec<(Id, String)> = identity_credentials::table
        .filter(identity_credentials::identity_id.eq(identity_id))
        .filter(identity_credentials::credential_type.eq_any(types))
        .select((
            identity_credentials::id,
            identity_credentials::credential_type,
        ))
        .order(identity_credentials::credential_type.asc())
        .load(c)?;
    let mut kinds = Vec::with_capacity(found.len());
    for (id, kind) in found {
        if kind == super::LOOKUP && !has_unused_code(c, id)? {
            continue;
        }
        kinds.push(kind);
    }
    Ok(kinds)
}

/// Whether the recovery-code credential `credential_id` has a code left.
fn has_unused_code(c: &mut AnyConnection, credential_id: Id) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        codes::table
            .filter(codes::identity_credential_id.eq(credential_id))
            .filter(codes::used_at.is_null()),
    ))
    .get_result(c)
}

/// The identity's credential of type `kind`.
pub fn find_credential(
    c: &mut AnyConnection,
    identity_id: Id,
    kind: &str,
) -> QueryResult<Option<CredentialRow>> {
    identity_credentials::table
        .filter(identity_credentials::identity_id.eq(identity_id))
        .filter(identity_credentials::credential_type.eq(kind))
        .first(c)
        .optional()
}

/// Deletes the identity's credential of type `kind` (with its identifiers, TOTP step and codes,
/// by cascade); whether there was one.
pub fn delete_credential(c: &mut AnyConnection, identity_id: Id, kind: &str) -> QueryResult<bool> {
    let deleted = diesel::delete(
        identity_credentials::table
            .filter(identity_credentials::identity_id.eq(identity_id))
            .filter(identity_credentials::credential_type.eq(kind)),
    )
    .execute(c)?;
    Ok(deleted > 0)
}

/// Stores a credential's `config` again (sealed under the current secret).
pub fn update_config(
    c: &mut AnyConnection,
    id: Id,
    config: Json,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(identity_credentials::table.find(id))
        .set((
            identity_credentials::config.eq(Some(config)),
            identity_credentials::updated_at.eq(now),
        ))
        .execute(c)
        .map(|_| ())
}

/// Replaces the identity's credential of `credential.credential_type` (call in a transaction).
fn replace_credential(c: &mut AnyConnection, credential: &CredentialRow) -> QueryResult<()> {
    delete_credential(c, credential.identity_id, &credential.credential_type)?;
    diesel::insert_into(identity_credentials::table)
        .values(credential.clone())
        .execute(c)?;
    let identifier = CredentialIdentifierRow {
        id: Id::new_v7(),
        identity_credential_id: credential.id,
        identity_id: credential.identity_id,
        credential_type: credential.credential_type.clone(),
        identifier: credential.identity_id.0.to_string(),
        created_at: credential.created_at,
        updated_at: credential.updated_at,
    };
    diesel::insert_into(identifiers::table)
        .values(identifier)
        .execute(c)?;
    Ok(())
}

/// Stores a new `totp` credential, replacing any, with `step` as its last used step (the code
/// that enrolled it does not sign in again).
pub fn replace_totp(
    c: &mut AnyConnection,
    credential: &CredentialRow,
    step: i64,
) -> QueryResult<()> {
    c.transaction(|c| {
        replace_credential(c, credential)?;
        diesel::insert_into(steps::table)
            .values((
                steps::identity_credential_id.eq(credential.id),
                steps::last_step.eq(step),
                steps::updated_at.eq(credential.created_at),
            ))
            .execute(c)?;
        Ok(())
    })
}

/// Takes `step` for the credential if no code of this or a later step was accepted before: one
/// conditional UPDATE, so of two concurrent sign-ins with the same code only one wins.
pub fn use_totp_step(
    c: &mut AnyConnection,
    credential_id: Id,
    step: i64,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = diesel::update(
        steps::table
            .find(credential_id)
            .filter(steps::last_step.lt(step)),
    )
    .set((steps::last_step.eq(step), steps::updated_at.eq(now)))
    .execute(c)?;
    Ok(changed == 1)
}

/// Stores a new `lookup_secret` credential with its codes, replacing any.
pub fn replace_lookup(
    c: &mut AnyConnection,
    credential: &CredentialRow,
    rows: Vec<LookupCodeRow>,
) -> QueryResult<()> {
    c.transaction(|c| {
        replace_credential(c, credential)?;
        // One row at a time: SQLite takes no batch INSERT through the multi-backend connection.
        for row in rows {
            diesel::insert_into(codes::table).values(row).execute(c)?;
        }
        Ok(())
    })
}

/// The credential's codes in the order they were shown.
pub fn list_codes(c: &mut AnyConnection, credential_id: Id) -> QueryResult<Vec<LookupCodeRow>> {
    codes::table
        .filter(codes::identity_credential_id.eq(credential_id))
        .order(codes::position.asc())
        .load(c)
}

/// Stores codes re-sealed and re-hashed under the current secret.
pub fn update_sealed(c: &mut AnyConnection, rows: &[LookupCodeRow]) -> QueryResult<()> {
    for row in rows {
        diesel::update(codes::table.find(row.id))
            .set((
                codes::code_hash.eq(&row.code_hash),
                codes::sealed_code.eq(&row.sealed_code),
                codes::key_fingerprint.eq(&row.key_fingerprint),
            ))
            .execute(c)?;
    }
    Ok(())
}

/// What became of a typed recovery code.
#[derive(Debug, PartialEq, Eq)]
pub enum Consumed {
    /// This call used it.
    Now,
    /// It was used before (or by a concurrent sign-in that won).
    Before,
    /// It is not one of the credential's codes.
    Unknown,
}

/// Uses the code stored under one of `hashes`: one conditional UPDATE (`used_at IS NULL`), so of
/// two concurrent sign-ins with the same code only one wins and the other sees a replay.
pub fn consume_code(
    c: &mut AnyConnection,
    credential_id: Id,
    hashes: &[String],
    now: NaiveDateTime,
) -> QueryResult<Consumed> {
    let changed = diesel::update(
        codes::table
            .filter(codes::identity_credential_id.eq(credential_id))
            .filter(codes::code_hash.eq_any(hashes))
            .filter(codes::used_at.is_null()),
    )
    .set(codes::used_at.eq(now))
    .execute(c)?;
    if changed > 0 {
        return Ok(Consumed::Now);
    }
    let known: i64 = codes::table
        .filter(codes::identity_credential_id.eq(credential_id))
        .filter(codes::code_hash.eq_any(hashes))
        .count()
        .get_result(c)?;
    Ok(if known > 0 {
        Consumed::Before
    } else {
        Consumed::Unknown
    })
}

/// A new credential row of `kind` for `identity_id`.
pub fn new_credential(
    identity_id: Id,
    kind: &str,
    config: Json,
    now: NaiveDateTime,
) -> CredentialRow {
    CredentialRow {
        id: Id::new_v7(),
        identity_id,
        credential_type: kind.into(),
        version: 0,
        created_at: now,
        updated_at: now,
        config: Some(config),
    }
}

/// Stores what makes a new login flow an aal2 flow.
pub fn mark_aal2(
    c: &mut AnyConnection,
    row: &crate::flow::login::store::LoginFlowRow,
) -> QueryResult<()> {
    use crate::db::schema::selfservice_login_flows as flows;
    diesel::update(flows::table.find(row.id))
        .set((
            flows::requested_aal.eq(&row.requested_aal),
            flows::identifier.eq(&row.identifier),
            flows::ui_messages.eq(&row.ui_messages),
            flows::internal_context.eq(&row.internal_context),
        ))
        .execute(c)
        .map(|_| ())
}

/// Sets `key` of a settings flow's `internal_context` to `value`, leaving the other methods'
/// keys as they are in the database; returns the whole context.
pub fn set_settings_context(
    c: &mut AnyConnection,
    id: Id,
    key: &str,
    value: serde_json::Value,
) -> QueryResult<Json> {
    use crate::db::schema::selfservice_settings_flows as flows;
    c.transaction(|c| {
        let current: Json = flows::table
            .find(id)
            .select(flows::internal_context)
            .first(c)?;
        let mut context = current.0;
        if !context.is_object() {
            context = serde_json::json!({});
        }
        context[key] = value;
        let context = Json(context);
        diesel::update(flows::table.find(id))
            .set(flows::internal_context.eq(&context))
            .execute(c)?;
        Ok(context)
    })
}
