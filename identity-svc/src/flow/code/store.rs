//! SQL for verification and recovery flows. The two tables have the same columns, so one set of
//! queries is written once (`code_flow_queries!`) and instantiated for each.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use service_kit::db::{AnyConnection, Id, Json};

use super::{Kind, STATE_CHOOSE, STATE_PASSED, STATE_SENT};

/// A row of either table (same columns, same order).
#[derive(Queryable, Clone, Debug)]
pub struct CodeFlowRow {
    pub id: Id,
    pub flow_type: String,
    pub request_url: String,
    pub return_to: Option<String>,
    pub csrf_token_hash: Option<String>,
    pub state: String,
    pub active: Option<String>,
    /// The address last submitted, as typed (shown again, and the resend button's value).
    pub address: Option<String>,
    /// The address row it matched; `None` for an unknown address.
    pub address_id: Option<Id>,
    pub code_hash: Option<String>,
    pub code_attempts: i32,
    pub ui_messages: Json,
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// What sending a code writes.
pub struct IssuedCode {
    pub address: String,
    pub address_id: Option<Id>,
    pub code_hash: String,
    pub messages: Json,
}

macro_rules! code_flow_queries {
    ($module:ident, $table:ident) => {
        mod $module {
            use super::*;
            use crate::db::schema::$table as flows;

            pub fn insert(c: &mut AnyConnection, row: &CodeFlowRow) -> QueryResult<usize> {
                diesel::insert_into(flows::table)
                    .values((
                        flows::id.eq(row.id),
                        flows::flow_type.eq(&row.flow_type),
                        flows::request_url.eq(&row.request_url),
                        flows::return_to.eq(&row.return_to),
                        flows::csrf_token_hash.eq(&row.csrf_token_hash),
                        flows::state.eq(&row.state),
                        flows::active.eq(&row.active),
                        flows::address.eq(&row.address),
                        flows::address_id.eq(row.address_id),
                        flows::code_hash.eq(&row.code_hash),
                        flows::code_attempts.eq(row.code_attempts),
                        flows::ui_messages.eq(&row.ui_messages),
                        flows::issued_at.eq(row.issued_at),
                        flows::expires_at.eq(row.expires_at),
                        flows::created_at.eq(row.created_at),
                        flows::updated_at.eq(row.updated_at),
                    ))
                    .execute(c)
            }

            pub fn find(c: &mut AnyConnection, id: Id) -> QueryResult<CodeFlowRow> {
                flows::table.find(id).first(c)
            }

            pub fn set_messages(
                c: &mut AnyConnection,
                id: Id,
                messages: Json,
                now: NaiveDateTime,
            ) -> QueryResult<usize> {
                diesel::update(flows::table.find(id))
                    .set((flows::ui_messages.eq(messages), flows::updated_at.eq(now)))
                    .execute(c)
            }

            pub fn issue_code(
                c: &mut AnyConnection,
                id: Id,
                issued: &IssuedCode,
                now: NaiveDateTime,
            ) -> QueryResult<usize> {
                diesel::update(flows::table.find(id).filter(flows::state.ne(STATE_PASSED)))
                    .set((
                        flows::state.eq(STATE_SENT),
                        flows::active.eq("code"),
                        flows::address.eq(&issued.address),
                        flows::address_id.eq(issued.address_id),
                        flows::code_hash.eq(&issued.code_hash),
                        flows::code_attempts.eq(0),
                        flows::ui_messages.eq(&issued.messages),
                        flows::updated_at.eq(now),
                    ))
                    .execute(c)
            }

            pub fn reserve_attempt(
                c: &mut AnyConnection,
                id: Id,
                now: NaiveDateTime,
            ) -> QueryResult<bool> {
                let changed = diesel::update(
                    flows::table
                        .find(id)
                        .filter(flows::state.eq(STATE_SENT))
                        .filter(flows::code_hash.is_not_null())
                        .filter(flows::code_attempts.lt(super::super::MAX_SUBMISSIONS)),
                )
                .set((
                    flows::code_attempts.eq(flows::code_attempts + 1),
                    flows::updated_at.eq(now),
                ))
                .execute(c)?;
                Ok(changed == 1)
            }

            pub fn consume(
                c: &mut AnyConnection,
                id: Id,
                code_hash: &str,
                messages: Json,
                now: NaiveDateTime,
            ) -> QueryResult<bool> {
                let changed = diesel::update(
                    flows::table
                        .find(id)
                        .filter(flows::state.eq(STATE_SENT))
                        .filter(flows::code_hash.eq(code_hash)),
                )
                .set((
                    flows::state.eq(STATE_PASSED),
                    flows::code_hash.eq(None::<String>),
                    flows::ui_messages.eq(messages),
                    flows::updated_at.eq(now),
                ))
                .execute(c)?;
                Ok(changed == 1)
            }

            pub fn invalidate_code(
                c: &mut AnyConnection,
                id: Id,
                messages: Json,
                now: NaiveDateTime,
            ) -> QueryResult<usize> {
                diesel::update(flows::table.find(id).filter(flows::state.eq(STATE_SENT)))
                    .set((
                        flows::state.eq(STATE_CHOOSE),
                        flows::code_hash.eq(None::<String>),
                        flows::ui_messages.eq(messages),
                        flows::updated_at.eq(now),
                    ))
                    .execute(c)
            }

            pub fn delete_expired(
                c: &mut AnyConnection,
                limit: i64,
                cutoff: NaiveDateTime,
            ) -> QueryResult<usize> {
                let ids: Vec<Id> = flows::table
                    .filter(flows::expires_at.lt(cutoff))
                    .select(flows::id)
                    .limit(limit)
                    .load(c)?;
                diesel::delete(flows::table.filter(flows::id.eq_any(&ids))).execute(c)
            }
        }
    };
}

code_flow_queries!(verification, selfservice_verification_flows);
code_flow_queries!(recovery, selfservice_recovery_flows);

/// Calls the query of `kind`'s table.
macro_rules! by_kind {
    ($kind:expr, $query:ident($($arg:expr),*)) => {
        match $kind {
            Kind::Verification => verification::$query($($arg),*),
            Kind::Recovery => recovery::$query($($arg),*),
        }
    };
}

pub fn insert(c: &mut AnyConnection, kind: Kind, row: &CodeFlowRow) -> QueryResult<usize> {
    by_kind!(kind, insert(c, row))
}

pub fn find(c: &mut AnyConnection, kind: Kind, id: Id) -> QueryResult<CodeFlowRow> {
    by_kind!(kind, find(c, id))
}

/// Stores the messages the next render shows.
pub fn set_messages(
    c: &mut AnyConnection,
    kind: Kind,
    id: Id,
    messages: Json,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    by_kind!(kind, set_messages(c, id, messages, now))
}

/// Moves the flow to `sent_email` with a new code (the previous one stops working) and a fresh
/// count of submissions. A completed flow is left as it is.
pub fn issue_code(
    c: &mut AnyConnection,
    kind: Kind,
    id: Id,
    issued: &IssuedCode,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    by_kind!(kind, issue_code(c, id, issued, now))
}

/// Counts one submission of the current code before it is checked; false once the code is
/// gone or its submissions are used up, so concurrent guesses cannot exceed the limit.
pub fn reserve_attempt(
    c: &mut AnyConnection,
    kind: Kind,
    id: Id,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    by_kind!(kind, reserve_attempt(c, id, now))
}

/// Completes the flow if its code is still `code_hash`; only the first caller gets true.
pub fn consume(
    c: &mut AnyConnection,
    kind: Kind,
    id: Id,
    code_hash: &str,
    messages: Json,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    by_kind!(kind, consume(c, id, code_hash, messages, now))
}

/// Drops the code (its submissions are used up): back to asking for the address.
pub fn invalidate_code(
    c: &mut AnyConnection,
    kind: Kind,
    id: Id,
    messages: Json,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    by_kind!(kind, invalidate_code(c, id, messages, now))
}

/// The janitor's steps.
pub fn delete_expired_verification_flows(
    c: &mut AnyConnection,
    limit: i64,
    cutoff: NaiveDateTime,
) -> QueryResult<usize> {
    verification::delete_expired(c, limit, cutoff)
}

pub fn delete_expired_recovery_flows(
    c: &mut AnyConnection,
    limit: i64,
    cutoff: NaiveDateTime,
) -> QueryResult<usize> {
    recovery::delete_expired(c, limit, cutoff)
}
