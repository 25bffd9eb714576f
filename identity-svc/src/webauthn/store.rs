//! SQL for passkey and webauthn credentials (rows of `identity_credentials` with their user
//! handle as identifier) and for the ceremony state in the flows' `internal_context`.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::Value;
use service_kit::db::{AnyConnection, Id, Json};

use super::Method;
use crate::db::schema::{
    identities, identity_credential_identifiers as identifiers,
    identity_credentials as credentials, selfservice_login_flows as login_flows,
    selfservice_settings_flows as settings_flows,
};
use crate::identity::store::{CredentialIdentifierRow, CredentialRow};

/// The identity's credential of this method, if it has one.
pub fn find(
    conn: &mut AnyConnection,
    identity_id: Id,
    method: Method,
) -> QueryResult<Option<CredentialRow>> {
    credentials::table
        .filter(credentials::identity_id.eq(identity_id))
        .filter(credentials::credential_type.eq(method.name()))
        .first(conn)
        .optional()
}

/// The credential a user handle names, and whether its identity is active.
pub fn find_by_handle(
    conn: &mut AnyConnection,
    method: Method,
    handle: &str,
) -> QueryResult<Option<(CredentialRow, String)>> {
    identifiers::table
        .inner_join(credentials::table.on(credentials::id.eq(identifiers::identity_credential_id)))
        .inner_join(identities::table.on(identities::id.eq(credentials::identity_id)))
        .filter(identifiers::credential_type.eq(method.name()))
        .filter(identifiers::identifier.eq(handle))
        .filter(credentials::credential_type.eq(method.name()))
        .select((credentials::all_columns, identities::state))
        .first(conn)
        .optional()
}

/// Stores the identity's credential config: inserted with its user handle the first time,
/// updated after, deleted (with its identifier) once no key is left.
pub fn save(
    conn: &mut AnyConnection,
    identity_id: Id,
    method: Method,
    handle: &str,
    config: Option<Value>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let existing = find(conn, identity_id, method)?;
    match (existing, config) {
        (Some(row), None) => {
            diesel::delete(credentials::table.find(row.id)).execute(conn)?;
        }
        (Some(row), Some(config)) => {
            diesel::update(credentials::table.find(row.id))
                .set((
                    credentials::config.eq(Some(Json(config))),
                    credentials::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        (None, Some(config)) => {
            let row = CredentialRow {
                id: Id::new_v7(),
                identity_id,
                credential_type: method.name().into(),
                version: 0,
                created_at: now,
                updated_at: now,
                config: Some(Json(config)),
            };
            diesel::insert_into(credentials::table)
                .values(row.clone())
                .execute(conn)?;
            let identifier = CredentialIdentifierRow {
                id: Id::new_v7(),
                identity_credential_id: row.id,
                identity_id,
                credential_type: method.name().into(),
                identifier: handle.into(),
                created_at: now,
                updated_at: now,
            };
            diesel::insert_into(identifiers::table)
                .values(identifier)
                .execute(conn)?;
        }
        (None, None) => {}
    }
    Ok(())
}

/// Defines `$name`, which replaces the `key` of a `$table` flow's `internal_context` (other keys
/// kept) if the flow is unchanged since `seen` (its `updated_at`; `None`: unconditionally): only
/// one request consumes a challenge.
macro_rules! swap_context {
    ($(#[$doc:meta])* $name:ident, $table:ident) => {
        $(#[$doc])*
        pub fn $name(
            conn: &mut AnyConnection,
            id: Id,
            seen: Option<NaiveDateTime>,
            key: &str,
            value: Value,
            now: NaiveDateTime,
        ) -> QueryResult<bool> {
            conn.transaction(|c| {
                let (mut context, updated): (Json, NaiveDateTime) = $table::table
                    .find(id)
                    .select(($table::internal_context, $table::updated_at))
                    .first(c)?;
                if seen.is_some_and(|seen| seen != updated) {
                    return Ok(false);
                }
                set_key(&mut context, key, value);
                let changed = diesel::update(
                    $table::table
                        .find(id)
                        .filter($table::updated_at.eq(updated)),
                )
                .set((
                    $table::internal_context.eq(context),
                    $table::updated_at.eq(now),
                ))
                .execute(c)?;
                Ok(changed == 1)
            })
        }
    };
}

swap_context!(
    /// Swaps a key of a login flow's `internal_context` (see the macro).
    swap_login_context,
    login_flows
);
swap_context!(
    /// Swaps a key of a settings flow's `internal_context` (see the macro).
    swap_settings_context,
    settings_flows
);

fn set_key(context: &mut Json, key: &str, value: Value) {
    if !context.0.is_object() {
        context.0 = Value::Object(Default::default());
    }
    if let Some(object) = context.0.as_object_mut() {
        object.insert(key.into(), value);
    }
}

/// Whether the identity can still sign in without its passkeys (a password or an upstream
/// account), so that removing its last passkey does not lock it out.
pub fn has_other_first_factor(conn: &mut AnyConnection, identity_id: Id) -> QueryResult<bool> {
    let count: i64 = credentials::table
        .filter(credentials::identity_id.eq(identity_id))
        .filter(credentials::credential_type.eq_any(["password", "oidc"]))
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}

/// Stores a credential's config after a sign-in moved its counter or backup state.
pub fn update_config(
    conn: &mut AnyConnection,
    id: Id,
    config: Value,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(credentials::table.find(id))
        .set((
            credentials::config.eq(Some(Json(config))),
            credentials::updated_at.eq(now),
        ))
        .execute(conn)
}
