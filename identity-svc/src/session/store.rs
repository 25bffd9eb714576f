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

/// Ends the session a token belongs to, active or not: `None` when no session has that token,
/// else its id and whether this call ended it (false when it had ended already).
pub fn deactivate_by_token(
    conn: &mut AnyConnection,
    hashes: &[String],
    now: NaiveDateTime,
) -> QueryResult<Option<(Id, bool)>> {
    let id: Option<Id> = sessions::table
        .filter(sessions::token_hash.eq_any(hashes))
        .select(sessions::id)
        .first(conn)
        .optional()?;
    let Some(id) = id else {
        return Ok(None);
    };
    Ok(Some((id, deactivate(conn, id, now)?)))
}

/// Ends every active session of an identity (its deactivation); returns how many.
pub fn revoke_all_of(
    conn: &mut AnyConnection,
    identity_id: Id,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        sessions::table
            .filter(sessions::identity_id.eq(identity_id))
            .filter(sessions::active.eq(true)),
    )
    .set((
        sessions::active.eq(false),
        sessions::logout_token_hash.eq(None::<String>),
        sessions::updated_at.eq(now),
    ))
    .execute(conn)
}

/// Ends the identity's active sessions other than `keep` (Kratos' disableMyOtherSessions).
pub fn revoke_others(
    conn: &mut AnyConnection,
    identity_id: Id,
    keep: Id,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        sessions::table
            .filter(sessions::identity_id.eq(identity_id))
            .filter(sessions::id.ne(keep))
            .filter(sessions::active.eq(true)),
    )
    .set((
        sessions::active.eq(false),
        sessions::logout_token_hash.eq(None::<String>),
        sessions::updated_at.eq(now),
    ))
    .execute(conn)
}

/// Ends one session of `identity_id` other than `current` (Kratos' disableMySession); false
/// when there is no such active session.
pub fn revoke_own(
    conn: &mut AnyConnection,
    id: Id,
    identity_id: Id,
    current: Id,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    if id == current {
        return Ok(false);
    }
    let changed = diesel::update(
        sessions::table
            .find(id)
            .filter(sessions::identity_id.eq(identity_id))
            .filter(sessions::active.eq(true)),
    )
    .set((
        sessions::active.eq(false),
        sessions::logout_token_hash.eq(None::<String>),
        sessions::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Deletes every session of an identity (Kratos' deleteIdentitySessions); returns how many.
pub fn delete_all_of(conn: &mut AnyConnection, identity_id: Id) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::identity_id.eq(identity_id))).execute(conn)
}

pub fn find(conn: &mut AnyConnection, id: Id) -> QueryResult<SessionRow> {
    sessions::table.find(id).first(conn)
}

/// Which sessions a list shows.
#[derive(Clone, Copy, Debug, Default)]
pub struct SessionFilter {
    pub identity_id: Option<Id>,
    /// `Some(true)`: active and unexpired; `Some(false)`: revoked or expired.
    pub active: Option<bool>,
    /// Leaves this session out (the caller's own, for listMySessions).
    pub except: Option<Id>,
}

/// One page in creation order (row ids are UUIDv7), starting after `after`.
pub fn list(
    conn: &mut AnyConnection,
    filter: SessionFilter,
    now: NaiveDateTime,
    after: Option<Id>,
    limit: i64,
) -> QueryResult<Vec<SessionRow>> {
    let mut query = sessions::table.into_boxed();
    if let Some(identity_id) = filter.identity_id {
        query = query.filter(sessions::identity_id.eq(identity_id));
    }
    match filter.active {
        Some(true) => {
            query = query
                .filter(sessions::active.eq(true))
                .filter(sessions::expires_at.gt(now));
        }
        Some(false) => {
            query = query.filter(sessions::active.eq(false).or(sessions::expires_at.le(now)));
        }
        None => {}
    }
    if let Some(except) = filter.except {
        query = query.filter(sessions::id.ne(except));
    }
    if let Some(after) = after {
        query = query.filter(sessions::id.gt(after));
    }
    query.order(sessions::id.asc()).limit(limit).load(conn)
}

/// Moves an active session's expiry to `new_expiry` if it is due for it: `due_before` is the
/// latest expiry that may be extended (now + `session.earliest_possible_extend`), `None` for
/// any. One conditional UPDATE, so concurrent callers extend once and never shorten. Returns
/// the new expiry when this call extended it.
pub fn extend(
    conn: &mut AnyConnection,
    id: Id,
    due_before: Option<NaiveDateTime>,
    new_expiry: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<Option<NaiveDateTime>> {
    let mut query = diesel::update(sessions::table)
        .filter(sessions::id.eq(id))
        .filter(sessions::active.eq(true))
        .filter(sessions::expires_at.lt(new_expiry))
        .into_boxed();
    if let Some(due_before) = due_before {
        query = query.filter(sessions::expires_at.le(due_before));
    }
    let changed = query
        .set((
            sessions::expires_at.eq(new_expiry),
            sessions::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok((changed == 1).then_some(new_expiry))
}
