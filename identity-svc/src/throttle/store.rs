//! SQL for the brute-force counters.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use service_kit::db::{AnyConnection, Id};

use crate::db::schema::{
    identities, identity_credential_identifiers as identifiers, login_throttle as throttle,
};

#[derive(Queryable, Insertable, Debug, Clone)]
#[diesel(table_name = throttle)]
pub struct ThrottleRow {
    pub key_hash: String,
    pub window_start: NaiveDateTime,
    pub failures: i32,
    pub locked_until: Option<NaiveDateTime>,
}

/// A key's lock, after counting an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lock {
    pub until: NaiveDateTime,
    /// This attempt went past the limit and started the lock.
    pub started: bool,
}

/// Counts one attempt against `key` (call inside a transaction). A window that is over, or a
/// lock that ended, starts afresh. Returns the key's lock: one still running, or one that begins
/// now because this attempt goes past `max`.
pub fn count_attempt(
    c: &mut AnyConnection,
    key: &str,
    now: DateTime<Utc>,
    window: chrono::Duration,
    lockout: chrono::Duration,
    max: i32,
) -> QueryResult<Option<Lock>> {
    let at = now.naive_utc();
    insert_if_absent(
        c,
        ThrottleRow {
            key_hash: key.to_string(),
            window_start: at,
            failures: 0,
            locked_until: None,
        },
    )?;
    let window_over = throttle::locked_until
        .is_null()
        .and(throttle::window_start.le(at - window));
    let lock_over = throttle::locked_until.le(at);
    diesel::update(throttle::table.find(key).filter(window_over.or(lock_over)))
        .set((
            throttle::window_start.eq(at),
            throttle::failures.eq(0),
            throttle::locked_until.eq(None::<NaiveDateTime>),
        ))
        .execute(c)?;
    // The increment takes the row lock (PostgreSQL) or the write lock (SQLite) until commit, so
    // concurrent attempts each see their own count.
    let row: ThrottleRow = diesel::update(throttle::table.find(key))
        .set(throttle::failures.eq(throttle::failures + 1))
        .get_result(c)?;
    match row.locked_until {
        Some(until) if until > at => Ok(Some(Lock {
            until,
            started: false,
        })),
        _ if row.failures > max => {
            let until = at + lockout;
            diesel::update(throttle::table.find(key))
                .set(throttle::locked_until.eq(Some(until)))
                .execute(c)?;
            Ok(Some(Lock {
                until,
                started: true,
            }))
        }
        _ => Ok(None),
    }
}

fn insert_if_absent(c: &mut AnyConnection, row: ThrottleRow) -> QueryResult<usize> {
    // diesel's ON CONFLICT clauses are per backend, so the query is built for each.
    match c {
        AnyConnection::Postgresql(c) => diesel::insert_into(throttle::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c),
        AnyConnection::Sqlite(c) => diesel::insert_into(throttle::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c),
    }
}

/// Takes back one counted attempt (it succeeded).
pub fn give_back(c: &mut AnyConnection, key: &str) -> QueryResult<usize> {
    diesel::update(throttle::table.find(key).filter(throttle::failures.gt(0)))
        .set(throttle::failures.eq(throttle::failures - 1))
        .execute(c)
}

/// Forgets these keys' counts and locks.
pub fn delete(c: &mut AnyConnection, keys: &[String]) -> QueryResult<usize> {
    diesel::delete(throttle::table.filter(throttle::key_hash.eq_any(keys))).execute(c)
}

/// The password identifiers of an identity; `None` when there is no such identity.
pub fn password_identifiers(c: &mut AnyConnection, id: Id) -> QueryResult<Option<Vec<String>>> {
    let exists: i64 = identities::table.find(id).count().get_result(c)?;
    if exists == 0 {
        return Ok(None);
    }
    identifiers::table
        .filter(identifiers::identity_id.eq(id))
        .filter(identifiers::credential_type.eq("password"))
        .select(identifiers::identifier)
        .load(c)
        .map(Some)
}

/// For the janitor: rows whose window began before `window_cutoff` and whose lock (if any)
/// ended before `cutoff`. Keys are selected with LIMIT and deleted by key (portable).
pub fn delete_stale(
    c: &mut AnyConnection,
    limit: i64,
    window_cutoff: NaiveDateTime,
    cutoff: NaiveDateTime,
) -> QueryResult<usize> {
    let lock_over = throttle::locked_until
        .is_null()
        .or(throttle::locked_until.lt(cutoff));
    let keys: Vec<String> = throttle::table
        .filter(throttle::window_start.lt(window_cutoff))
        .filter(lock_over)
        .select(throttle::key_hash)
        .limit(limit)
        .load(c)?;
    delete(c, &keys)
}
