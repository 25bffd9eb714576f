//! SQL of the courier: its messages, their delivery attempts (dispatches), the worker's claim
//! (the outbox's, on this table) and the admin API's listing.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use service_kit::db::{AnyConnection, Id, Json};

use crate::db::schema::{courier_message_dispatches as dispatches, courier_messages as messages};
use crate::outbox::Queue;

pub const QUEUED: &str = "queued";
pub const PROCESSING: &str = "processing";
pub const SENT: &str = "sent";
pub const ABANDONED: &str = "abandoned";
pub const STATUSES: [&str; 4] = [QUEUED, PROCESSING, SENT, ABANDONED];

/// `Debug` leaves out the bodies: they hold one-time codes.
#[derive(Queryable, Insertable, Clone)]
#[diesel(table_name = messages)]
pub struct CourierMessageRow {
    pub id: Id,
    pub message_type: String,
    pub status: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub html_body: String,
    pub template_type: String,
    pub send_count: i32,
    pub next_attempt_at: NaiveDateTime,
    pub locked_until: Option<NaiveDateTime>,
    pub locked_by: Option<Id>,
    pub last_error: Option<String>,
    pub sent_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl std::fmt::Debug for CourierMessageRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CourierMessageRow")
            .field("id", &self.id)
            .field("status", &self.status)
            .field("template_type", &self.template_type)
            .field("send_count", &self.send_count)
            .field("last_error", &self.last_error)
            .finish_non_exhaustive()
    }
}

#[derive(Queryable, Insertable, Clone, Debug)]
#[diesel(table_name = dispatches)]
pub struct DispatchRow {
    pub id: Id,
    pub message_id: Id,
    pub status: String,
    pub error: Option<Json>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert(conn: &mut AnyConnection, row: &CourierMessageRow) -> QueryResult<usize> {
    diesel::insert_into(messages::table)
        .values(row.clone())
        .execute(conn)
}

fn dispatch(
    conn: &mut AnyConnection,
    message_id: Id,
    error: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let row = DispatchRow {
        id: Id::new_v7(),
        message_id,
        status: if error.is_some() { "failed" } else { "success" }.into(),
        error: error.map(|e| Json(serde_json::json!({ "message": e }))),
        created_at: now,
        updated_at: now,
    };
    diesel::insert_into(dispatches::table)
        .values(row)
        .execute(conn)
}

/// The courier's table as a queue of the outbox [`crate::outbox::Worker`].
#[derive(Clone, Copy, Debug)]
pub struct CourierQueue;

impl Queue for CourierQueue {
    type Item = CourierMessageRow;

    fn name(&self) -> &'static str {
        super::TOPIC
    }
    fn id(item: &CourierMessageRow) -> Id {
        item.id
    }
    fn attempts(item: &CourierMessageRow) -> i32 {
        item.send_count
    }

    /// Due mail that nobody holds (queued, or processing under a lease that ran out), as the
    /// outbox claims: one `UPDATE … WHERE id IN (SELECT … LIMIT n)`, `SKIP LOCKED` on PostgreSQL.
    fn claim(
        &self,
        conn: &mut AnyConnection,
        now: NaiveDateTime,
        until: NaiveDateTime,
        claim: Id,
        limit: i64,
    ) -> QueryResult<Vec<CourierMessageRow>> {
        let candidates = diesel::alias!(messages as candidates);
        let due = candidates
            .filter(
                candidates
                    .field(messages::status)
                    .eq_any([QUEUED, PROCESSING]),
            )
            .filter(candidates.field(messages::next_attempt_at).le(now))
            .filter(
                candidates
                    .field(messages::locked_until)
                    .is_null()
                    .or(candidates.field(messages::locked_until).lt(now)),
            )
            .order(candidates.field(messages::next_attempt_at).asc())
            .select(candidates.field(messages::id))
            .limit(limit);
        let lease = (
            messages::status.eq(PROCESSING),
            messages::locked_until.eq(until),
            messages::locked_by.eq(claim),
            messages::updated_at.eq(now),
        );
        match conn {
            AnyConnection::Postgresql(c) => {
                let due = due.for_update().skip_locked();
                diesel::update(messages::table.filter(messages::id.eq_any(due)))
                    .set(lease)
                    .execute(c)?
            }
            AnyConnection::Sqlite(c) => {
                diesel::update(messages::table.filter(messages::id.eq_any(due)))
                    .set(lease)
                    .execute(c)?
            }
        };
        messages::table
            .filter(messages::locked_by.eq(claim))
            .order(messages::next_attempt_at.asc())
            .load(conn)
    }

    fn delivered(
        &self,
        conn: &mut AnyConnection,
        id: Id,
        claim: Id,
        attempts: i32,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        conn.transaction(|c| {
            let changed = diesel::update(
                messages::table
                    .filter(messages::id.eq(id))
                    .filter(messages::locked_by.eq(claim)),
            )
            .set((
                messages::status.eq(SENT),
                messages::send_count.eq(attempts),
                messages::sent_at.eq(now),
                messages::locked_until.eq(None::<NaiveDateTime>),
                messages::locked_by.eq(None::<Id>),
                messages::updated_at.eq(now),
            ))
            .execute(c)?;
            if changed == 1 {
                dispatch(c, id, None, now)?;
            }
            Ok(changed)
        })
    }

    fn failed(
        &self,
        conn: &mut AnyConnection,
        id: Id,
        claim: Id,
        attempts: i32,
        error: &str,
        retry_at: Option<NaiveDateTime>,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        let (status, next) = match retry_at {
            Some(at) => (QUEUED, at),
            None => (ABANDONED, now),
        };
        conn.transaction(|c| {
            let changed = diesel::update(
                messages::table
                    .filter(messages::id.eq(id))
                    .filter(messages::locked_by.eq(claim)),
            )
            .set((
                messages::status.eq(status),
                messages::send_count.eq(attempts),
                messages::next_attempt_at.eq(next),
                messages::last_error.eq(error),
                messages::locked_until.eq(None::<NaiveDateTime>),
                messages::locked_by.eq(None::<Id>),
                messages::updated_at.eq(now),
            ))
            .execute(c)?;
            if changed == 1 {
                dispatch(c, id, Some(error), now)?;
            }
            Ok(changed)
        })
    }

    fn release(&self, conn: &mut AnyConnection, claim: Id) -> QueryResult<usize> {
        diesel::update(messages::table.filter(messages::locked_by.eq(claim)))
            .set((
                messages::status.eq(QUEUED),
                messages::locked_until.eq(None::<NaiveDateTime>),
                messages::locked_by.eq(None::<Id>),
            ))
            .execute(conn)
    }
}

/// Filters of the admin listing; all optional.
#[derive(Default)]
pub struct MessageFilter {
    pub status: Option<String>,
    pub recipient: Option<String>,
}

/// One page in creation order (ids are UUIDv7), after `after`.
pub fn list(
    conn: &mut AnyConnection,
    filter: &MessageFilter,
    after: Option<Id>,
    limit: i64,
) -> QueryResult<Vec<CourierMessageRow>> {
    let mut query = messages::table.into_boxed();
    if let Some(after) = after {
        query = query.filter(messages::id.gt(after));
    }
    if let Some(status) = &filter.status {
        query = query.filter(messages::status.eq(status.clone()));
    }
    if let Some(recipient) = &filter.recipient {
        query = query.filter(messages::recipient.eq(recipient.clone()));
    }
    query.order(messages::id.asc()).limit(limit).load(conn)
}

/// A message and its dispatches, oldest first.
pub fn find(
    conn: &mut AnyConnection,
    id: Id,
) -> QueryResult<(CourierMessageRow, Vec<DispatchRow>)> {
    let message = messages::table.find(id).first(conn)?;
    let attempts = dispatches::table
        .filter(dispatches::message_id.eq(id))
        .order(dispatches::id.asc())
        .load(conn)?;
    Ok((message, attempts))
}

/// How long abandoned mail stays for the operator beyond `janitor.keep_expired`.
const ABANDONED_KEPT_DAYS: i64 = 7;

/// The janitor's step: mail sent before `cutoff`, and mail abandoned a week before it, with
/// their dispatches.
pub fn delete_old(
    conn: &mut AnyConnection,
    limit: i64,
    cutoff: NaiveDateTime,
) -> QueryResult<usize> {
    let abandoned_cutoff = cutoff - chrono::Duration::days(ABANDONED_KEPT_DAYS);
    let ids: Vec<Id> = messages::table
        .filter(
            messages::status
                .eq(SENT)
                .and(messages::sent_at.lt(cutoff))
                .or(messages::status
                    .eq(ABANDONED)
                    .and(messages::updated_at.lt(abandoned_cutoff))),
        )
        .select(messages::id)
        .limit(limit)
        .load(conn)?;
    conn.transaction(|c| {
        diesel::delete(dispatches::table.filter(dispatches::message_id.eq_any(&ids))).execute(c)?;
        diesel::delete(messages::table.filter(messages::id.eq_any(&ids))).execute(c)
    })
}
