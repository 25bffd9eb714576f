//! SQL for logout requests and the login sessions a logout ends.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use service_kit::db::{AnyConnection, Id};

use crate::db::schema::{
    oauth2_login_sessions as login_sessions, oauth2_logout_requests as logouts,
};

#[derive(Queryable, Insertable, Clone, Debug)]
#[diesel(table_name = logouts)]
pub struct LogoutRow {
    pub id: Id,
    pub challenge_hash: String,
    pub verifier_hash: Option<String>,
    pub browser_hash: String,
    pub state: String,
    pub subject: String,
    pub sid: Id,
    pub client_id: Option<String>,
    pub request_url: String,
    pub rp_initiated: bool,
    pub post_logout_redirect: Option<String>,
    pub requested_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert(conn: &mut AnyConnection, row: &LogoutRow) -> QueryResult<()> {
    diesel::insert_into(logouts::table)
        .values(row.clone())
        .execute(conn)
        .map(|_| ())
}

pub fn find_by_challenge(
    conn: &mut AnyConnection,
    hashes: &[String],
) -> QueryResult<Option<LogoutRow>> {
    logouts::table
        .filter(logouts::challenge_hash.eq_any(hashes))
        .first(conn)
        .optional()
}

pub fn find_by_verifier(
    conn: &mut AnyConnection,
    hashes: &[String],
) -> QueryResult<Option<LogoutRow>> {
    logouts::table
        .filter(logouts::verifier_hash.eq_any(hashes))
        .first(conn)
        .optional()
}

/// Moves the request from `from` to `to` (setting the verifier hash if given); only the first
/// caller succeeds.
pub fn transition(
    conn: &mut AnyConnection,
    id: Id,
    from: &str,
    to: &str,
    verifier_hash: Option<String>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let target = logouts::table.find(id).filter(logouts::state.eq(from));
    let changed = match verifier_hash {
        Some(hash) => diesel::update(target)
            .set((
                logouts::state.eq(to),
                logouts::verifier_hash.eq(hash),
                logouts::updated_at.eq(now),
            ))
            .execute(conn)?,
        None => diesel::update(target)
            .set((logouts::state.eq(to), logouts::updated_at.eq(now)))
            .execute(conn)?,
    };
    Ok(changed == 1)
}

/// Redeeming a logout verifier: the request is done and its login session gone, together.
pub fn complete(
    conn: &mut AnyConnection,
    row: &LogoutRow,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    conn.transaction(|c| {
        if !transition(c, row.id, super::ACCEPTED, super::DONE, None, now)? {
            return Ok(false);
        }
        diesel::delete(login_sessions::table.find(row.sid)).execute(c)?;
        Ok(true)
    })
}

/// An unexpired login session (remembered or not) by id.
pub fn find_login_session(
    conn: &mut AnyConnection,
    sid: Id,
    now: NaiveDateTime,
) -> QueryResult<Option<(Id, String)>> {
    login_sessions::table
        .find(sid)
        .filter(login_sessions::expires_at.gt(now))
        .select((login_sessions::id, login_sessions::subject))
        .first(conn)
        .optional()
}

pub fn delete_login_session(conn: &mut AnyConnection, sid: Id) -> QueryResult<usize> {
    diesel::delete(login_sessions::table.find(sid)).execute(conn)
}

pub fn delete_login_sessions_of(conn: &mut AnyConnection, subject: &str) -> QueryResult<usize> {
    diesel::delete(login_sessions::table.filter(login_sessions::subject.eq(subject))).execute(conn)
}
