//! SQL for login flows.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use service_kit::db::{AnyConnection, Id, Json};

use crate::db::schema::selfservice_login_flows as flows;

#[derive(Queryable, Insertable, Clone, Debug)]
#[diesel(table_name = flows)]
pub struct LoginFlowRow {
    pub id: Id,
    pub flow_type: String,
    pub request_url: String,
    pub return_to: Option<String>,
    pub csrf_token_hash: Option<String>,
    pub state: String,
    pub requested_aal: String,
    pub refresh: bool,
    pub identifier: Option<String>,
    pub ui_messages: Json,
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Server-side state per method, keyed by method name; never shown to the client.
    pub internal_context: Json,
}

pub fn insert(conn: &mut AnyConnection, row: &LoginFlowRow) -> QueryResult<()> {
    diesel::insert_into(flows::table)
        .values(row.clone())
        .execute(conn)
        .map(|_| ())
}

pub fn find(conn: &mut AnyConnection, id: Id) -> QueryResult<LoginFlowRow> {
    flows::table.find(id).first(conn)
}

/// Stores what the next render shows: the messages and the identifier to refill.
pub fn update_ui(
    conn: &mut AnyConnection,
    id: Id,
    identifier: Option<String>,
    messages: Json,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(flows::table.find(id))
        .set((
            flows::identifier.eq(identifier),
            flows::ui_messages.eq(messages),
            flows::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Marks the flow done; only the first caller gets `true`, so a flow logs in at most once.
pub fn complete(conn: &mut AnyConnection, id: Id, now: NaiveDateTime) -> QueryResult<bool> {
    let changed = diesel::update(
        flows::table
            .find(id)
            .filter(flows::state.eq(super::STATE_OPEN)),
    )
    .set((
        flows::state.eq(super::STATE_DONE),
        flows::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// In one transaction: completes the flow (first caller only), ends the browser's previous
/// session, and stores the new one. Returns false, changing nothing, if the flow was done.
pub fn complete_with_session(
    conn: &mut AnyConnection,
    flow_id: Id,
    previous: Option<Id>,
    session: &crate::session::store::SessionRow,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    conn.transaction(|c| {
        if !complete(c, flow_id, now)? {
            return Ok(false);
        }
        if let Some(old) = previous {
            crate::session::store::deactivate(c, old, now)?;
        }
        crate::session::store::insert(c, session)?;
        Ok(true)
    })
}
