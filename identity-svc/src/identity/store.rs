//! SQL for identities and the rows that hang off them (credentials with their identifiers,
//! verifiable and recovery addresses).

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use service_kit::db::{AnyConnection, Id, Json};

use crate::db::schema::{
    identities, identity_credential_identifiers, identity_credentials, identity_recovery_addresses,
    identity_verifiable_addresses,
};
use crate::outbox::MessageRow;

#[derive(Queryable, Insertable, Debug, Clone)]
#[diesel(table_name = identities)]
pub struct IdentityRow {
    pub id: Id,
    pub schema_id: String,
    pub state: String,
    pub state_changed_at: Option<NaiveDateTime>,
    pub traits: Json,
    pub metadata_public: Option<Json>,
    pub metadata_admin: Option<Json>,
    pub external_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// `Debug` leaves out `config`: it holds secret material (a password hash).
#[derive(Queryable, Insertable, Clone)]
#[diesel(table_name = identity_credentials)]
pub struct CredentialRow {
    pub id: Id,
    pub identity_id: Id,
    pub credential_type: String,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub config: Option<Json>,
}

impl std::fmt::Debug for CredentialRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialRow")
            .field("id", &self.id)
            .field("identity_id", &self.identity_id)
            .field("credential_type", &self.credential_type)
            .field("version", &self.version)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

#[derive(Queryable, Insertable, Debug, Clone)]
#[diesel(table_name = identity_credential_identifiers)]
pub struct CredentialIdentifierRow {
    pub id: Id,
    pub identity_credential_id: Id,
    pub identity_id: Id,
    pub credential_type: String,
    pub identifier: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Queryable, Insertable, Debug, Clone)]
#[diesel(table_name = identity_verifiable_addresses)]
pub struct VerifiableAddressRow {
    pub id: Id,
    pub identity_id: Id,
    pub via: String,
    pub value: String,
    pub verified: bool,
    pub status: String,
    pub verified_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Queryable, Insertable, Debug, Clone)]
#[diesel(table_name = identity_recovery_addresses)]
pub struct RecoveryAddressRow {
    pub id: Id,
    pub identity_id: Id,
    pub via: String,
    pub value: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// An identity with everything the wire representation shows.
#[derive(Debug, Clone)]
pub struct IdentityRecord {
    pub identity: IdentityRow,
    pub verifiable: Vec<VerifiableAddressRow>,
    pub recovery: Vec<RecoveryAddressRow>,
    /// Loaded only when asked for (`include_credential`).
    pub credentials: Vec<(CredentialRow, Vec<CredentialIdentifierRow>)>,
}

/// Why an insert was refused. Conflicts are checked before inserting so that the answer can say
/// which value clashed; the unique constraints still catch a race (as `Query`).
#[derive(Debug, thiserror::Error)]
pub enum InsertError {
    #[error("an identity with the credential identifier {0:?} already exists")]
    Identifier(String),
    #[error("an identity with this external_id already exists")]
    ExternalId,
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

/// Inserts the identity and all its rows in one transaction.
pub fn insert(
    conn: &mut AnyConnection,
    record: IdentityRecord,
) -> Result<IdentityRecord, InsertError> {
    conn.transaction(|conn| {
        if let Some(external_id) = &record.identity.external_id {
            let taken: i64 = identities::table
                .filter(identities::external_id.eq(external_id))
                .count()
                .get_result(conn)?;
            if taken > 0 {
                return Err(InsertError::ExternalId);
            }
        }
        for (credential, identifiers) in &record.credentials {
            let values: Vec<&str> = identifiers.iter().map(|i| i.identifier.as_str()).collect();
            let taken: Option<String> = identity_credential_identifiers::table
                .filter(
                    identity_credential_identifiers::credential_type
                        .eq(&credential.credential_type),
                )
                .filter(identity_credential_identifiers::identifier.eq_any(values))
                .select(identity_credential_identifiers::identifier)
                .first(conn)
                .optional()?;
            if let Some(taken) = taken {
                return Err(InsertError::Identifier(taken));
            }
        }
        diesel::insert_into(identities::table)
            .values(record.identity.clone())
            .execute(conn)?;
        for (credential, identifiers) in &record.credentials {
            diesel::insert_into(identity_credentials::table)
                .values(credential.clone())
                .execute(conn)?;
            for identifier in identifiers {
                diesel::insert_into(identity_credential_identifiers::table)
                    .values(identifier.clone())
                    .execute(conn)?;
            }
        }
        for address in &record.verifiable {
            diesel::insert_into(identity_verifiable_addresses::table)
                .values(address.clone())
                .execute(conn)?;
        }
        for address in &record.recovery {
            diesel::insert_into(identity_recovery_addresses::table)
                .values(address.clone())
                .execute(conn)?;
        }
        Ok(record)
    })
}

pub fn find(
    conn: &mut AnyConnection,
    id: Id,
    with_credentials: bool,
) -> QueryResult<IdentityRecord> {
    let row: IdentityRow = identities::table.find(id).first(conn)?;
    Ok(attach(conn, vec![row], with_credentials)?.remove(0))
}

/// The identities with these ids (those that exist), with their addresses.
pub fn find_many(conn: &mut AnyConnection, ids: &[Id]) -> QueryResult<Vec<IdentityRecord>> {
    let rows: Vec<IdentityRow> = identities::table
        .filter(identities::id.eq_any(ids.to_vec()))
        .load(conn)?;
    attach(conn, rows, false)
}

/// What a password sign-in needs to know about an identifier.
#[derive(Clone)]
pub struct PasswordCredential {
    pub identity_id: Id,
    /// `None` when the identity has a password identifier but no password (yet).
    pub hashed_password: Option<String>,
    pub identity_active: bool,
}

impl std::fmt::Debug for PasswordCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordCredential")
            .field("identity_id", &self.identity_id)
            .field("has_password", &self.hashed_password.is_some())
            .field("identity_active", &self.identity_active)
            .finish()
    }
}

/// The password credential an identifier (as typed at sign-in) belongs to. Stored identifiers
/// are normalised per trait (NFKC and trimmed; e-mail addresses also lowercased), so both forms
/// are tried, the one without lowercasing first.
pub fn find_password_credential(
    conn: &mut AnyConnection,
    identifier: &str,
) -> QueryResult<Option<PasswordCredential>> {
    let trimmed = crate::schema::normalise(identifier, false);
    let normalized = super::normalize_identifier(identifier);
    let mut candidates = vec![trimmed];
    if normalized != candidates[0] {
        candidates.push(normalized);
    }
    let rows: Vec<(String, Id, Option<Json>, String)> = identity_credential_identifiers::table
        .inner_join(identity_credentials::table.on(
            identity_credentials::id.eq(identity_credential_identifiers::identity_credential_id),
        ))
        .inner_join(identities::table.on(identities::id.eq(identity_credentials::identity_id)))
        .filter(identity_credential_identifiers::credential_type.eq("password"))
        .filter(identity_credentials::credential_type.eq("password"))
        .filter(identity_credential_identifiers::identifier.eq_any(&candidates))
        .select((
            identity_credential_identifiers::identifier,
            identities::id,
            identity_credentials::config,
            identities::state,
        ))
        .load(conn)?;
    let best = candidates
        .iter()
        .find_map(|c| rows.iter().position(|(identifier, ..)| identifier == c));
    Ok(best.map(|i| {
        let (_, identity_id, config, state) = rows.into_iter().nth(i).expect("found above");
        PasswordCredential {
            identity_id,
            hashed_password: crate::credential::PasswordConfig::hashed_password(config),
            identity_active: state == "active",
        }
    }))
}

/// Filters of the list call; all optional.
#[derive(Default)]
pub struct IdentityFilter {
    /// Any of these credential identifiers (already normalised by the caller).
    pub credentials_identifier: Option<Vec<String>>,
    /// Traits that must equal a string exactly: (path segments, value). Segments are checked
    /// by `manage::trait_filter` to be plain names, so they can be written into the SQL.
    pub traits: Vec<(Vec<String>, String)>,
}

/// One page in creation order (row ids are UUIDv7), starting after `after`.
pub fn list(
    conn: &mut AnyConnection,
    filter: &IdentityFilter,
    after: Option<Id>,
    limit: i64,
    with_credentials: bool,
) -> QueryResult<Vec<IdentityRecord>> {
    let mut query = identities::table.into_boxed();
    if let Some(after) = after {
        query = query.filter(identities::id.gt(after));
    }
    if let Some(identifiers) = &filter.credentials_identifier {
        let owners = identity_credential_identifiers::table
            .filter(identity_credential_identifiers::identifier.eq_any(identifiers.clone()))
            .select(identity_credential_identifiers::identity_id);
        query = query.filter(identities::id.eq_any(owners));
    }
    for (path, value) in &filter.traits {
        // `->` / `->>` read JSON alike on PostgreSQL (jsonb) and SQLite (3.38+, JSON text).
        let (last, parents) = path.split_last().expect("a trait path has a segment");
        let mut sql = String::from("(traits");
        for segment in parents {
            sql.push_str(&format!(" -> '{segment}'"));
        }
        sql.push_str(&format!(" ->> '{last}') = "));
        query = query.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>(&sql)
                .bind::<diesel::sql_types::Text, _>(value.clone()),
        );
    }
    let rows = query.order(identities::id.asc()).limit(limit).load(conn)?;
    attach(conn, rows, with_credentials)
}

/// Deletes the identity; its credentials, addresses and sessions go with it (`ON DELETE
/// CASCADE`). `notice` (the lifecycle hook's outbox message) is written in the same
/// transaction, and only when an identity was deleted.
pub fn delete(conn: &mut AnyConnection, id: Id, notice: Option<&MessageRow>) -> QueryResult<usize> {
    conn.transaction(|conn| {
        let deleted = diesel::delete(identities::table.find(id)).execute(conn)?;
        if let Some(notice) = notice.filter(|_| deleted > 0) {
            crate::outbox::store::insert(conn, notice)?;
        }
        Ok(deleted)
    })
}

/// Loads the addresses (and credentials) of `rows` with one query per table, not per identity.
fn attach(
    conn: &mut AnyConnection,
    rows: Vec<IdentityRow>,
    with_credentials: bool,
) -> QueryResult<Vec<IdentityRecord>> {
    let ids: Vec<Id> = rows.iter().map(|r| r.id).collect();
    let mut verifiable = group(
        identity_verifiable_addresses::table
            .filter(identity_verifiable_addresses::identity_id.eq_any(ids.clone()))
            .order(identity_verifiable_addresses::id.asc())
            .load::<VerifiableAddressRow>(conn)?,
        |a| a.identity_id,
    );
    let mut recovery = group(
        identity_recovery_addresses::table
            .filter(identity_recovery_addresses::identity_id.eq_any(ids.clone()))
            .order(identity_recovery_addresses::id.asc())
            .load::<RecoveryAddressRow>(conn)?,
        |a| a.identity_id,
    );
    let mut credentials = HashMap::new();
    if with_credentials {
        let mut identifiers = group(
            identity_credential_identifiers::table
                .filter(identity_credential_identifiers::identity_id.eq_any(ids.clone()))
                .order(identity_credential_identifiers::id.asc())
                .load::<CredentialIdentifierRow>(conn)?,
            |i| i.identity_credential_id,
        );
        let rows = identity_credentials::table
            .filter(identity_credentials::identity_id.eq_any(ids))
            .order(identity_credentials::id.asc())
            .load::<CredentialRow>(conn)?;
        for row in rows {
            let of_row = identifiers.remove(&row.id).unwrap_or_default();
            credentials
                .entry(row.identity_id)
                .or_insert_with(Vec::new)
                .push((row, of_row));
        }
    }
    Ok(rows
        .into_iter()
        .map(|identity| IdentityRecord {
            verifiable: verifiable.remove(&identity.id).unwrap_or_default(),
            recovery: recovery.remove(&identity.id).unwrap_or_default(),
            credentials: credentials.remove(&identity.id).unwrap_or_default(),
            identity,
        })
        .collect())
}

fn group<T>(rows: Vec<T>, key: impl Fn(&T) -> Id) -> HashMap<Id, Vec<T>> {
    let mut map: HashMap<Id, Vec<T>> = HashMap::new();
    for row in rows {
        map.entry(key(&row)).or_default().push(row);
    }
    map
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
