//! SQL of the outbox. Every change after the claim is guarded by the claim id (`locked_by`), so
//! a replica whose lease ran out and was taken over records nothing over the new owner.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use service_kit::db::{AnyConnection, Id, Json};

use super::{ABANDONED, DELIVERED, PENDING};
use crate::db::schema::outbox_messages as outbox;

#[derive(Queryable, Insertable, Debug, Clone, PartialEq)]
#[diesel(table_name = outbox)]
pub struct MessageRow {
    pub id: Id,
    pub topic: String,
    pub payload: Json,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub locked_until: Option<NaiveDateTime>,
    pub locked_by: Option<Id>,
    pub last_error: Option<String>,
    pub delivered_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert(conn: &mut AnyConnection, row: &MessageRow) -> QueryResult<usize> {
    diesel::insert_into(outbox::table)
        .values(row.clone())
        .execute(conn)
}

/// Leases up to `limit` pending messages of `topic` that are due at `now` and not leased by
/// anyone, until `until`, under the claim id `claim`; answers them, oldest due first. One
/// `UPDATE … WHERE id IN (SELECT … LIMIT n)`, so that the claim is atomic on both backends.
pub fn claim(
    conn: &mut AnyConnection,
    topic: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
    claim: Id,
    limit: i64,
) -> QueryResult<Vec<MessageRow>> {
    // The subquery reads the same table under another name (diesel needs an alias for that).
    let candidates = diesel::alias!(outbox as candidates);
    let due = candidates
        .filter(candidates.field(outbox::topic).eq(topic))
        .filter(candidates.field(outbox::status).eq(PENDING))
        .filter(candidates.field(outbox::next_attempt_at).le(now))
        .filter(
            candidates
                .field(outbox::locked_until)
                .is_null()
                .or(candidates.field(outbox::locked_until).lt(now)),
        )
        .order(candidates.field(outbox::next_attempt_at).asc())
        .select(candidates.field(outbox::id))
        .limit(limit);
    let lease = (
        outbox::locked_until.eq(until),
        outbox::locked_by.eq(claim),
        outbox::updated_at.eq(now),
    );
    match conn {
        // Replicas claiming at once skip each other's rows instead of waiting for them.
        AnyConnection::Postgresql(c) => {
            let due = due.for_update().skip_locked();
            diesel::update(outbox::table.filter(outbox::id.eq_any(due)))
                .set(lease)
                .execute(c)?
        }
        // SQLite has one writer at a time: the statement takes the write lock at once.
        AnyConnection::Sqlite(c) => diesel::update(outbox::table.filter(outbox::id.eq_any(due)))
            .set(lease)
            .execute(c)?,
    };
    outbox::table
        .filter(outbox::locked_by.eq(claim))
        .order(outbox::next_attempt_at.asc())
        .load(conn)
}

/// Records a successful delivery.
pub fn delivered(
    conn: &mut AnyConnection,
    id: Id,
    claim: Id,
    attempts: i32,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        outbox::table
            .filter(outbox::id.eq(id))
            .filter(outbox::locked_by.eq(claim)),
    )
    .set((
        outbox::status.eq(DELIVERED),
        outbox::attempts.eq(attempts),
        outbox::delivered_at.eq(now),
        outbox::locked_until.eq(None::<NaiveDateTime>),
        outbox::locked_by.eq(None::<Id>),
        outbox::updated_at.eq(now),
    ))
    .execute(conn)
}

/// Records a failed delivery: the message is due again at `retry_at`, or abandoned without one.
pub fn failed(
    conn: &mut AnyConnection,
    id: Id,
    claim: Id,
    attempts: i32,
    error: &str,
    retry_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let (status, next) = match retry_at {
        Some(at) => (PENDING, at),
        None => (ABANDONED, now),
    };
    diesel::update(
        outbox::table
            .filter(outbox::id.eq(id))
            .filter(outbox::locked_by.eq(claim)),
    )
    .set((
        outbox::status.eq(status),
        outbox::attempts.eq(attempts),
        outbox::next_attempt_at.eq(next),
        outbox::last_error.eq(error),
        outbox::locked_until.eq(None::<NaiveDateTime>),
        outbox::locked_by.eq(None::<Id>),
        outbox::updated_at.eq(now),
    ))
    .execute(conn)
}

/// Gives back the messages of `claim` that were not attempted (the lease was running out).
pub fn release(conn: &mut AnyConnection, claim: Id) -> QueryResult<usize> {
    diesel::update(outbox::table.filter(outbox::locked_by.eq(claim)))
        .set((
            outbox::locked_until.eq(None::<NaiveDateTime>),
            outbox::locked_by.eq(None::<Id>),
        ))
        .execute(conn)
}

/// The messages of `topic`, oldest first (for operators and tests).
pub fn list(conn: &mut AnyConnection, topic: &str) -> QueryResult<Vec<MessageRow>> {
    outbox::table
        .filter(outbox::topic.eq(topic))
        .order(outbox::id.asc())
        .load(conn)
}

/// The janitor's step: delivered messages older than `cutoff`. Abandoned ones stay for the
/// operator.
pub fn delete_delivered(
    conn: &mut AnyConnection,
    limit: i64,
    cutoff: NaiveDateTime,
) -> QueryResult<usize> {
    let ids: Vec<Id> = outbox::table
        .filter(outbox::status.eq(DELIVERED))
        .filter(outbox::delivered_at.lt(cutoff))
        .select(outbox::id)
        .limit(limit)
        .load(conn)?;
    diesel::delete(outbox::table.filter(outbox::id.eq_any(&ids))).execute(conn)
}
