//! SQL for registration flows.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use service_kit::db::{AnyConnection, Id, Json};

use crate::db::schema::selfservice_registration_flows as flows;
use crate::identity::store::{IdentityRecord, InsertError};
use crate::session::store::SessionRow;

#[derive(Queryable, Insertable, Clone, Debug)]
#[diesel(table_name = flows)]
pub struct RegistrationFlowRow {
    pub id: Id,
    pub flow_type: String,
    pub request_url: String,
    pub return_to: Option<String>,
    pub csrf_token_hash: Option<String>,
    pub identity_schema: String,
    pub state: String,
    pub active: Option<String>,
    /// The traits of the last submission, to refill the form; never the password.
    pub traits: Option<Json>,
    pub ui_messages: Json,
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Server-side state per method, keyed by method name; never shown to the client.
    pub internal_context: Json,
}

pub fn insert(conn: &mut AnyConnection, row: &RegistrationFlowRow) -> QueryResult<()> {
    diesel::insert_into(flows::table)
        .values(row.clone())
        .execute(conn)
        .map(|_| ())
}

pub fn find(conn: &mut AnyConnection, id: Id) -> QueryResult<RegistrationFlowRow> {
    flows::table.find(id).first(conn)
}

/// The janitor's batch: flows that expired before `cutoff` (ids selected with LIMIT, then
/// deleted by id, which works on both backends).
pub fn delete_expired(
    conn: &mut AnyConnection,
    limit: i64,
    cutoff: NaiveDateTime,
) -> QueryResult<usize> {
    let ids: Vec<Id> = flows::table
        .filter(flows::expires_at.lt(cutoff))
        .select(flows::id)
        .limit(limit)
        .load(conn)?;
    diesel::delete(flows::table.filter(flows::id.eq_any(&ids))).execute(conn)
}

/// Stores what the next render shows: the messages and the traits to refill.
pub fn update_ui(
    conn: &mut AnyConnection,
    id: Id,
    traits: Option<Json>,
    messages: Json,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(flows::table.find(id))
        .set((
            flows::traits.eq(traits),
            flows::ui_messages.eq(messages),
            flows::active.eq("password"),
            flows::updated_at.eq(now),
        ))
        .execute(conn)
}

/// How completing a flow ended.
pub enum Completed {
    Registered(Box<IdentityRecord>),
    /// Another submission completed the flow first; nothing changed.
    AlreadyDone,
}

/// In one transaction: completes the flow (first caller only), inserts the identity (and the
/// verification flows and code mails of its addresses, with verification on) and, with
/// the session hook, ends the browser's previous session and stores the new one. A taken
/// identifier rolls everything back (the flow stays open for another try).
pub fn complete(
    conn: &mut AnyConnection,
    flow_id: Id,
    record: IdentityRecord,
    session: Option<(&SessionRow, Option<Id>)>,
    verifications: &[crate::flow::verification::PendingCode],
    now: NaiveDateTime,
) -> Result<Completed, InsertError> {
    conn.transaction(|c| {
        let changed = diesel::update(
            flows::table
                .find(flow_id)
                .filter(flows::state.eq(super::STATE_OPEN)),
        )
        .set((
            flows::state.eq(super::STATE_DONE),
            flows::active.eq("password"),
            flows::traits.eq(None::<Json>),
            flows::updated_at.eq(now),
        ))
        .execute(c)?;
        if changed != 1 {
            return Ok(Completed::AlreadyDone);
        }
        let record = crate::identity::store::insert(c, record)?;
        crate::flow::verification::store_codes(c, verifications)?;
        if let Some((session, previous)) = session {
            if let Some(old) = previous {
                crate::session::store::deactivate(c, old, now)?;
            }
            crate::session::store::insert(c, session)?;
        }
        Ok(Completed::Registered(Box::new(record)))
    })
}
