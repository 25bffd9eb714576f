//! SQL for settings flows.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use service_kit::db::{AnyConnection, Id, Json};

use crate::db::schema::selfservice_settings_flows as flows;

#[derive(Queryable, Insertable, Clone, Debug)]
#[diesel(table_name = flows)]
pub struct SettingsFlowRow {
    pub id: Id,
    pub flow_type: String,
    pub request_url: String,
    pub return_to: Option<String>,
    pub csrf_token_hash: Option<String>,
    /// The identity of the session that started the flow; only it may see or submit the flow.
    pub identity_id: Id,
    pub state: String,
    pub active: Option<String>,
    /// The traits of the last rejected profile submission, to refill the form.
    pub traits: Option<Json>,
    pub ui_messages: Json,
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Server-side state per method, keyed by method name; never shown to the client.
    pub internal_context: Json,
}

pub fn insert(conn: &mut AnyConnection, row: &SettingsFlowRow) -> QueryResult<()> {
    diesel::insert_into(flows::table)
        .values(row.clone())
        .execute(conn)
        .map(|_| ())
}

pub fn find(conn: &mut AnyConnection, id: Id) -> QueryResult<SettingsFlowRow> {
    flows::table.find(id).first(conn)
}

/// Stores what the next render shows: the state, the method, the messages and the traits.
pub fn update_ui(
    conn: &mut AnyConnection,
    row: &SettingsFlowRow,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(flows::table.find(row.id))
        .set((
            flows::state.eq(&row.state),
            flows::active.eq(&row.active),
            flows::traits.eq(&row.traits),
            flows::ui_messages.eq(&row.ui_messages),
            flows::updated_at.eq(now),
        ))
        .execute(conn)
}

/// The janitor's batch: flows that expired before `cutoff`.
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
