//! SQL for sessions.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use service_kit::db::{AnyConnection, Id, Json};

use crate::db::schema::sessions;

#[derive(Queryable, Insertable, Clone, Debug)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: Id,
    pub identity_id: Id,
    pub token_hash: String,
    pub logout_token_hash: Option<String>,
    pub active: bool,
    pub aal: String,
    pub authentication_methods: Json,
    pub authenticated_at: NaiveDateTime,
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert(conn: &mut AnyConnection, row: &SessionRow) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values(row.clone())
        .execute(conn)
        .map(|_| ())
}

/// The active, unexpired session whose token hashes to one of `hashes`.
pub fn find_active(
    conn: &mut AnyConnection,
    hashes: &[String],
    now: NaiveDateTime,
) -> QueryResult<Option<SessionRow>> {
    sessions::table
        .filter(sessions::token_hash.eq_any(hashes))
        .filter(sessions::active.eq(true))
        .filter(sessions::expires_at.gt(now))
        .first(conn)
        .optional()
}

/// The active session a logout token belongs to.
pub fn find_by_logout_token(
    conn: &mut AnyConnection,
    hashes: &[String],
    now: NaiveDateTime,
) -> QueryResult<Option<SessionRow>> {
    sessions::table
        .filter(sessions::logout_token_hash.eq_any(hashes))
        .filter(sessions::active.eq(true))
        .filter(sessions::expires_at.gt(now))
        .first(conn)
        .optional()
}

pub fn set_logout_token(
    conn: &mut AnyConnection,
    id: Id,
    hash: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(sessions::table.find(id))
        .set((
            sessions::logout_token_hash.eq(hash),
            sessions::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Ends a session; returns whether this call was the one that ended it (a replay gets false).
pub fn deactivate(conn: &mut AnyConnection, id: Id, now: NaiveDateTime) -> QueryResult<bool> {
    let changed = diesel::update(sessions::table.find(id).filter(sessions::active.eq(true)))
        .set((
            sessions::active.eq(false),
            sessions::logout_token_hash.eq(None::<String>),
            sessions::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}
