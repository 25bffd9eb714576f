//! SQL for OAuth2 clients.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use service_kit::db::{AnyConnection, Id, Json};

use crate::db::schema::{oauth2_client_assertion_jtis, oauth2_clients};

#[derive(Queryable, Debug, Clone)]
pub struct ClientRow {
    pub id: Id,
    pub client_id: String,
    pub client_name: String,
    pub owner: String,
    pub secret_hash: Option<String>,
    pub metadata: Json,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Set only for clients registered at `/oauth2/register` (RFC 7592).
    pub registration_token_hash: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = oauth2_clients)]
pub struct NewClientRow {
    pub id: Id,
    pub client_id: String,
    pub client_name: String,
    pub owner: String,
    pub secret_hash: Option<String>,
    pub metadata: Json,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub registration_token_hash: Option<String>,
}

/// Filters of the list call; all optional.
#[derive(Default)]
pub struct ClientFilter {
    pub client_name: Option<String>,
    pub owner: Option<String>,
}

pub fn insert(conn: &mut AnyConnection, row: NewClientRow) -> QueryResult<ClientRow> {
    let id = row.id;
    diesel::insert_into(oauth2_clients::table)
        .values(row)
        .execute(conn)?;
    oauth2_clients::table.find(id).first(conn)
}

pub fn find(conn: &mut AnyConnection, client_id: &str) -> QueryResult<ClientRow> {
    oauth2_clients::table
        .filter(oauth2_clients::client_id.eq(client_id))
        .first(conn)
}

/// One page in creation order (row ids are UUIDv7), starting after `after`.
pub fn list(
    conn: &mut AnyConnection,
    filter: &ClientFilter,
    after: Option<Id>,
    limit: i64,
) -> QueryResult<Vec<ClientRow>> {
    let mut query = oauth2_clients::table.into_boxed();
    if let Some(after) = after {
        query = query.filter(oauth2_clients::id.gt(after));
    }
    if let Some(name) = &filter.client_name {
        query = query.filter(oauth2_clients::client_name.eq(name.clone()));
    }
    if let Some(owner) = &filter.owner {
        query = query.filter(oauth2_clients::owner.eq(owner.clone()));
    }
    query
        .order(oauth2_clients::id.asc())
        .limit(limit)
        .load(conn)
}

pub fn delete(conn: &mut AnyConnection, client_id: &str) -> QueryResult<usize> {
    diesel::delete(oauth2_clients::table.filter(oauth2_clients::client_id.eq(client_id)))
        .execute(conn)
}

/// Replaces the secret hash `old` (made under an older `secrets.system` value) with `new`; a
/// no-op when the secret changed in between.
pub fn update_secret_hash(
    conn: &mut AnyConnection,
    client_id: &str,
    old: &str,
    new: &str,
) -> QueryResult<usize> {
    diesel::update(
        oauth2_clients::table
            .filter(oauth2_clients::client_id.eq(client_id))
            .filter(oauth2_clients::secret_hash.eq(old)),
    )
    .set(oauth2_clients::secret_hash.eq(new))
    .execute(conn)
}

/// Failed authentications counted under one key (a client and an address) since `window_start`.
#[derive(Queryable, Debug, Clone)]
pub struct AuthFailuresRow {
    pub window_start: NaiveDateTime,
    pub failures: i32,
}

pub fn find_auth_failures(
    conn: &mut AnyConnection,
    key_hash: &str,
) -> QueryResult<Option<AuthFailuresRow>> {
    use crate::db::schema::oauth2_client_auth_throttle as throttle;
    throttle::table
        .find(key_hash)
        .select((throttle::window_start, throttle::failures))
        .first(conn)
        .optional()
}

/// Counts a failed authentication under `key_hash` in the window that started after `cutoff`,
/// starting a new window at `now` when the last one is older.
pub fn count_auth_failure(
    conn: &mut AnyConnection,
    key_hash: &str,
    now: NaiveDateTime,
    cutoff: NaiveDateTime,
) -> QueryResult<()> {
    use crate::db::schema::oauth2_client_auth_throttle as throttle;
    use diesel::Connection;
    conn.transaction(|c| {
        diesel::delete(
            throttle::table
                .find(key_hash)
                .filter(throttle::window_start.le(cutoff)),
        )
        .execute(c)?;
        let bumped = diesel::update(throttle::table.find(key_hash))
            .set(throttle::failures.eq(throttle::failures + 1))
            .execute(c)?;
        if bumped == 0 {
            // A concurrent first failure may insert the row meanwhile: then count on it.
            let row = (
                throttle::key_hash.eq(key_hash),
                throttle::window_start.eq(now),
                throttle::failures.eq(1),
            );
            let inserted = match c {
                AnyConnection::Postgresql(c) => diesel::insert_into(throttle::table)
                    .values(row)
                    .on_conflict_do_nothing()
                    .execute(c),
                AnyConnection::Sqlite(c) => diesel::insert_into(throttle::table)
                    .values(row)
                    .on_conflict_do_nothing()
                    .execute(c),
            }?;
            if inserted == 0 {
                diesel::update(throttle::table.find(key_hash))
                    .set(throttle::failures.eq(throttle::failures + 1))
                    .execute(c)?;
            }
        }
        Ok(())
    })
}

/// Deletes counters whose window ended before `cutoff` (the janitor); at most `limit`.
pub fn delete_stale_auth_failures(
    conn: &mut AnyConnection,
    cutoff: NaiveDateTime,
    limit: i64,
) -> QueryResult<usize> {
    use crate::db::schema::oauth2_client_auth_throttle as throttle;
    let keys: Vec<String> = throttle::table
        .filter(throttle::window_start.le(cutoff))
        .select(throttle::key_hash)
        .limit(limit)
        .load(conn)?;
    diesel::delete(throttle::table.filter(throttle::key_hash.eq_any(keys))).execute(conn)
}

/// A replaced or patched client; `secret_hash` and `registration_token_hash` are `None` to keep
/// the stored value.
pub struct ClientUpdate {
    pub client_name: String,
    pub owner: String,
    pub secret_hash: Option<Option<String>>,
    pub registration_token_hash: Option<String>,
    pub metadata: Json,
    pub updated_at: NaiveDateTime,
}

/// Writes `update` if the client is still as it was read (`updated_at` unchanged), so two
/// concurrent updates cannot silently overwrite each other; returns rows changed.
pub fn update(
    conn: &mut AnyConnection,
    client_id: &str,
    read_at: NaiveDateTime,
    update: ClientUpdate,
) -> QueryResult<usize> {
    let target = oauth2_clients::table
        .filter(oauth2_clients::client_id.eq(client_id))
        .filter(oauth2_clients::updated_at.eq(read_at));
    diesel::update(target)
        .set((
            oauth2_clients::client_name.eq(update.client_name),
            oauth2_clients::owner.eq(update.owner),
            oauth2_clients::metadata.eq(update.metadata),
            oauth2_clients::updated_at.eq(update.updated_at),
            update
                .secret_hash
                .map(|hash| oauth2_clients::secret_hash.eq(hash)),
            update
                .registration_token_hash
                .map(|hash| oauth2_clients::registration_token_hash.eq(Some(hash))),
        ))
        .execute(conn)
}

#[derive(Insertable)]
#[diesel(table_name = oauth2_client_assertion_jtis)]
pub struct NewJtiRow {
    pub id: Id,
    pub client_id: String,
    pub jti_hash: String,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

/// Records a client assertion's `jti`; `false` when it was recorded before (a replay). Expired
/// records of the same client are removed first, so a client's rows stay few.
pub fn spend_jti(
    conn: &mut AnyConnection,
    row: NewJtiRow,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    use crate::db::schema::oauth2_client_assertion_jtis as jtis;
    diesel::delete(
        jtis::table
            .filter(jtis::client_id.eq(row.client_id.clone()))
            .filter(jtis::expires_at.lt(now)),
    )
    .execute(conn)?;
    let inserted = match conn {
        AnyConnection::Postgresql(c) => diesel::insert_into(jtis::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c),
        AnyConnection::Sqlite(c) => diesel::insert_into(jtis::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c),
    }?;
    Ok(inserted == 1)
}
