//! SQL of the error flow: insert (or reuse a recent identical row), find, and the janitor's delete.

use chrono::{Duration as ChronoDuration, NaiveDateTime};
use diesel::prelude::*;
use service_kit::db::{AnyConnection, Id, Json};

use crate::db::schema_errors::selfservice_errors as errors;

/// A browser that repeats one error within this window gets the same row back, so a reload loop
/// (or a flood of identical failures) writes one row a minute, not one per request.
pub const REUSE_WINDOW: ChronoDuration = ChronoDuration::seconds(60);

#[derive(Queryable, Insertable, Debug, Clone)]
#[diesel(table_name = errors)]
pub struct ErrorRow {
    pub id: Id,
    pub error: Json,
    pub fingerprint: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// Stores `row`, unless an unexpired row with its fingerprint was made within [`REUSE_WINDOW`];
/// answers the id the browser is sent to.
pub fn insert_or_reuse(c: &mut AnyConnection, row: &ErrorRow) -> QueryResult<Id> {
    let recent: Option<Id> = errors::table
        .filter(errors::fingerprint.eq(&row.fingerprint))
        .filter(errors::created_at.gt(row.created_at - REUSE_WINDOW))
        .filter(errors::expires_at.gt(row.created_at))
        .select(errors::id)
        .first(c)
        .optional()?;
    if let Some(id) = recent {
        return Ok(id);
    }
    diesel::insert_into(errors::table).values(row).execute(c)?;
    Ok(row.id)
}

/// The error `id`, unless it expired before `now`.
pub fn find(c: &mut AnyConnection, id: Id, now: NaiveDateTime) -> QueryResult<ErrorRow> {
    errors::table
        .find(id)
        .filter(errors::expires_at.gt(now))
        .first(c)
}

/// Errors that expired before `cutoff`, in batches of `limit` (the janitor).
pub fn delete_expired(
    c: &mut AnyConnection,
    limit: i64,
    cutoff: NaiveDateTime,
) -> QueryResult<usize> {
    let ids: Vec<Id> = errors::table
        .filter(errors::expires_at.lt(cutoff))
        .select(errors::id)
        .limit(limit)
        .load(c)?;
    diesel::delete(errors::table.filter(errors::id.eq_any(&ids))).execute(c)
}
