//! SQL of the `oidc` method: credentials by `<provider>:<subject>`, the address clash check,
//! linking and unlinking, and the flows' `internal_context` (compare-and-set, so a callback
//! state is used once).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use service_kit::db::{AnyConnection, Id, Json};

use crate::db::schema::{
    identities, identity_credential_identifiers as identifiers,
    identity_credentials as credentials, identity_verifiable_addresses as addresses,
    selfservice_login_flows as login_flows, selfservice_registration_flows as registration_flows,
    selfservice_settings_flows as settings_flows,
};
use crate::identity::store::{CredentialIdentifierRow, CredentialRow};

use super::METHOD;

/// The flow tables whose `internal_context` this method uses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FlowKind {
    Login,
    Registration,
    Settings,
}

impl FlowKind {
    pub fn tag(self) -> &'static str {
        match self {
            FlowKind::Login => "l",
            FlowKind::Registration => "r",
            FlowKind::Settings => "s",
        }
    }

    pub fn from_tag(tag: &str) -> Option<Self> {
        match tag {
            "l" => Some(FlowKind::Login),
            "r" => Some(FlowKind::Registration),
            "s" => Some(FlowKind::Settings),
            _ => None,
        }
    }
}

/// Replaces the flow's `internal_context` only if it still is `expected`; `true` when it did.
pub fn swap_context(
    conn: &mut AnyConnection,
    kind: FlowKind,
    id: Id,
    expected: &Json,
    new: Json,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = match kind {
        FlowKind::Login => diesel::update(
            login_flows::table
                .find(id)
                .filter(login_flows::internal_context.eq(expected.clone())),
        )
        .set((
            login_flows::internal_context.eq(new),
            login_flows::updated_at.eq(now),
        ))
        .execute(conn)?,
        FlowKind::Registration => diesel::update(
            registration_flows::table
                .find(id)
                .filter(registration_flows::internal_context.eq(expected.clone())),
        )
        .set((
            registration_flows::internal_context.eq(new),
            registration_flows::updated_at.eq(now),
        ))
        .execute(conn)?,
        FlowKind::Settings => diesel::update(
            settings_flows::table
                .find(id)
                .filter(settings_flows::internal_context.eq(expected.clone())),
        )
        .set((
            settings_flows::internal_context.eq(new),
            settings_flows::updated_at.eq(now),
        ))
        .execute(conn)?,
    };
    Ok(changed == 1)
}

/// The identity an upstream account (`<provider>:<subject>`) signs in to, and whether it is
/// active.
pub fn find_identity(
    conn: &mut AnyConnection,
    identifier: &str,
) -> QueryResult<Option<(Id, bool)>> {
    let found: Option<(Id, String)> = identifiers::table
        .inner_join(identities::table.on(identities::id.eq(identifiers::identity_id)))
        .filter(identifiers::credential_type.eq(METHOD))
        .filter(identifiers::identifier.eq(identifier))
        .select((identities::id, identities::state))
        .first(conn)
        .optional()?;
    Ok(found.map(|(id, state)| (id, state == "active")))
}

/// An identity that already has one of `values` as a password identifier or an address.
pub fn find_clash(conn: &mut AnyConnection, values: &[String]) -> QueryResult<Option<Id>> {
    if values.is_empty() {
        return Ok(None);
    }
    let by_identifier: Option<Id> = identifiers::table
        .filter(identifiers::credential_type.eq("password"))
        .filter(identifiers::identifier.eq_any(values))
        .select(identifiers::identity_id)
        .first(conn)
        .optional()?;
    if by_identifier.is_some() {
        return Ok(by_identifier);
    }
    addresses::table
        .filter(addresses::value.eq_any(values))
        .select(addresses::identity_id)
        .first(conn)
        .optional()
}

/// The identity's `oidc` credential, if it has one.
pub fn find_credential(
    conn: &mut AnyConnection,
    identity_id: Id,
) -> QueryResult<Option<CredentialRow>> {
    credentials::table
        .filter(credentials::identity_id.eq(identity_id))
        .filter(credentials::credential_type.eq(METHOD))
        .first(conn)
        .optional()
}

/// How many first factors the identity can sign in with: a password with a hash, one per linked
/// provider, a passkey credential with at least one key. Second factors (TOTP, lookup secrets,
/// webauthn, codes) alone do not sign in, so they do not count.
pub fn sign_in_methods(conn: &mut AnyConnection, identity_id: Id) -> QueryResult<usize> {
    let rows: Vec<CredentialRow> = credentials::table
        .filter(credentials::identity_id.eq(identity_id))
        .filter(credentials::credential_type.eq_any(["password", METHOD, "passkey"]))
        .load(conn)?;
    Ok(rows
        .iter()
        .map(|row| match row.credential_type.as_str() {
            "password" => usize::from(
                crate::credential::PasswordConfig::hashed_password(row.config.clone()).is_some(),
            ),
            METHOD => super::link::providers(row.config.as_ref()).len(),
            _ => usize::from(
                row.config
                    .as_ref()
                    .and_then(|c| c.0.get("credentials"))
                    .and_then(serde_json::Value::as_array)
                    .is_some_and(|keys| !keys.is_empty()),
            ),
        })
        .sum())
}

/// Links `<provider>:<subject>` to the identity with `entry` (its `providers[]` item), creating
/// the `oidc` credential when it is the first. Fails on a unique violation when another
/// identity has the upstream account.
pub fn link(
    conn: &mut AnyConnection,
    identity_id: Id,
    identifier: &str,
    entry: serde_json::Value,
    now: NaiveDateTime,
) -> QueryResult<()> {
    conn.transaction(|c| {
        let credential = match find_credential(c, identity_id)? {
            Some(mut row) => {
                let mut providers = super::link::providers(row.config.as_ref());
                providers.push(entry);
                row.config = Some(Json(serde_json::json!({ "providers": providers })));
                diesel::update(credentials::table.find(row.id))
                    .set((
                        credentials::config.eq(row.config.clone()),
                        credentials::updated_at.eq(now),
                    ))
                    .execute(c)?;
                row
            }
            None => {
                let row = CredentialRow {
                    id: Id::new_v7(),
                    identity_id,
                    credential_type: METHOD.into(),
                    version: 0,
                    created_at: now,
                    updated_at: now,
                    config: Some(Json(serde_json::json!({ "providers": [entry] }))),
                };
                diesel::insert_into(credentials::table)
                    .values(row.clone())
                    .execute(c)?;
                row
            }
        };
        diesel::insert_into(identifiers::table)
            .values(CredentialIdentifierRow {
                id: Id::new_v7(),
                identity_credential_id: credential.id,
                identity_id,
                credential_type: METHOD.into(),
                identifier: identifier.to_string(),
                created_at: now,
                updated_at: now,
            })
            .execute(c)?;
        Ok(())
    })
}

/// Removes the link to `provider`; the credential goes when it was the last. `false` when the
/// identity had no such link.
pub fn unlink(
    conn: &mut AnyConnection,
    identity_id: Id,
    provider: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    conn.transaction(|c| {
        let Some(row) = find_credential(c, identity_id)? else {
            return Ok(false);
        };
        let (gone, kept): (Vec<_>, Vec<_>) = super::link::providers(row.config.as_ref())
            .into_iter()
            .partition(|p| p["provider"] == provider);
        if gone.is_empty() {
            return Ok(false);
        }
        let prefix = format!("{provider}:");
        let dropped: Vec<String> = gone
            .iter()
            .filter_map(|p| p["subject"].as_str())
            .map(|s| format!("{prefix}{s}"))
            .collect();
        diesel::delete(
            identifiers::table
                .filter(identifiers::identity_credential_id.eq(row.id))
                .filter(identifiers::identifier.eq_any(dropped)),
        )
        .execute(c)?;
        if kept.is_empty() {
            diesel::delete(credentials::table.find(row.id)).execute(c)?;
        } else {
            diesel::update(credentials::table.find(row.id))
                .set((
                    credentials::config.eq(Some(Json(serde_json::json!({ "providers": kept })))),
                    credentials::updated_at.eq(now),
                ))
                .execute(c)?;
        }
        Ok(true)
    })
}

/// Marks a registration flow done (a callback on it signed in or registered); first caller only.
pub fn complete_registration_flow(
    conn: &mut AnyConnection,
    id: Id,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let changed = diesel::update(
        registration_flows::table
            .find(id)
            .filter(registration_flows::state.eq(crate::flow::registration::STATE_OPEN)),
    )
    .set((
        registration_flows::state.eq(crate::flow::registration::STATE_DONE),
        registration_flows::active.eq(Some(METHOD)),
        registration_flows::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// How [`complete`] went.
#[derive(Debug)]
pub enum Completed {
    Done,
    AlreadyDone,
    /// The new identity's upstream account, identifier or address was taken meanwhile.
    Taken,
}

/// The flow's completion, the new identity, its verification codes and the session, at once.
#[allow(clippy::too_many_arguments)]
pub fn complete(
    c: &mut AnyConnection,
    kind: FlowKind,
    flow_id: Id,
    record: Option<crate::identity::store::IdentityRecord>,
    previous: Option<Id>,
    session: Option<crate::session::store::SessionRow>,
    verifications: &[crate::flow::verification::PendingCode],
    at: NaiveDateTime,
) -> QueryResult<Completed> {
    use crate::identity::store::InsertError;
    use diesel::result::{DatabaseErrorKind, Error};
    let outcome = c.transaction(|c| {
        let done = match kind {
            FlowKind::Login => crate::flow::login::store::complete(c, flow_id, at)?,
            _ => complete_registration_flow(c, flow_id, at)?,
        };
        if !done {
            return Ok(Completed::AlreadyDone);
        }
        if let Some(record) = record {
            crate::identity::store::insert(c, record).map_err(|e| match e {
                InsertError::Query(q) => q,
                // A password identifier someone else has: as taken as a unique violation.
                _ => Error::DatabaseError(
                    DatabaseErrorKind::UniqueViolation,
                    Box::new(String::new()),
                ),
            })?;
            crate::flow::verification::store_codes(c, verifications)?;
        }
        if let Some(session) = session {
            if let Some(old) = previous {
                crate::session::store::deactivate(c, old, at)?;
            }
            crate::session::store::insert(c, &session)?;
        }
        Ok(Completed::Done)
    });
    match outcome {
        Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(Completed::Taken),
        other => other,
    }
}
