//! SQL for signing keys.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use service_kit::db::{AnyConnection, Id, Json};

use crate::db::schema::oauth2_jwk;

#[derive(Queryable)]
pub struct KeyRow {
    pub id: Id,
    pub set_id: String,
    pub seq: i32,
    pub kid: String,
    pub alg: String,
    pub key_use: String,
    pub public_jwk: Json,
    pub private_ciphertext: String,
    pub secret_fingerprint: String,
    pub state: String,
    pub active_from: NaiveDateTime,
    #[allow(dead_code)] // read with the row; not needed yet
    pub created_at: NaiveDateTime,
    #[allow(dead_code)] // read with the row; not needed yet
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = oauth2_jwk)]
pub struct NewKeyRow {
    pub id: Id,
    pub set_id: String,
    pub seq: i32,
    pub kid: String,
    pub alg: String,
    pub key_use: String,
    pub public_jwk: Json,
    pub private_ciphertext: String,
    pub secret_fingerprint: String,
    pub state: String,
    pub active_from: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The keys of one set, oldest first.
pub fn list(conn: &mut AnyConnection, set_id: &str) -> QueryResult<Vec<KeyRow>> {
    oauth2_jwk::table
        .filter(oauth2_jwk::set_id.eq(set_id))
        .order(oauth2_jwk::seq.asc())
        .load(conn)
}

/// Inserts `row` unless a row with its `(set_id, seq)` (or kid) exists; returns rows inserted.
/// Replicas racing to bootstrap a set thus keep exactly one key.
pub fn insert_if_absent(conn: &mut AnyConnection, row: NewKeyRow) -> QueryResult<usize> {
    // diesel's ON CONFLICT clauses are per backend, so the query is built for each.
    match conn {
        AnyConnection::Postgresql(c) => diesel::insert_into(oauth2_jwk::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c),
        AnyConnection::Sqlite(c) => diesel::insert_into(oauth2_jwk::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c),
    }
}

/// Replaces the ciphertext of key `id` if it is still sealed under `old_fingerprint` (a replica
/// starting alongside may have re-sealed it already; either result is valid).
pub fn reseal(
    conn: &mut AnyConnection,
    id: Id,
    old_fingerprint: &str,
    ciphertext: &str,
    fingerprint: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        oauth2_jwk::table
            .filter(oauth2_jwk::id.eq(id))
            .filter(oauth2_jwk::secret_fingerprint.eq(old_fingerprint)),
    )
    .set((
        oauth2_jwk::private_ciphertext.eq(ciphertext),
        oauth2_jwk::secret_fingerprint.eq(fingerprint),
        oauth2_jwk::updated_at.eq(now),
    ))
    .execute(conn)
}

/// Every key of every set.
pub fn list_all(conn: &mut AnyConnection) -> QueryResult<Vec<KeyRow>> {
    oauth2_jwk::table
        .order((oauth2_jwk::set_id.asc(), oauth2_jwk::seq.asc()))
        .load(conn)
}

/// The highest `seq` of a set, if it has keys.
pub fn max_seq(conn: &mut AnyConnection, set_id: &str) -> QueryResult<Option<i32>> {
    oauth2_jwk::table
        .filter(oauth2_jwk::set_id.eq(set_id))
        .select(diesel::dsl::max(oauth2_jwk::seq))
        .first(conn)
}

/// Deletes one key of a set; returns rows deleted.
pub fn delete_key(conn: &mut AnyConnection, set_id: &str, kid: &str) -> QueryResult<usize> {
    diesel::delete(
        oauth2_jwk::table
            .filter(oauth2_jwk::set_id.eq(set_id))
            .filter(oauth2_jwk::kid.eq(kid)),
    )
    .execute(conn)
}

/// Deletes a whole set; returns rows deleted.
pub fn delete_set(conn: &mut AnyConnection, set_id: &str) -> QueryResult<usize> {
    diesel::delete(oauth2_jwk::table.filter(oauth2_jwk::set_id.eq(set_id))).execute(conn)
}
