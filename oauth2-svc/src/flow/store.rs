//! SQL for authorization flows and login sessions.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use service_kit::db::{AnyConnection, Id, Json};

use crate::consent::store::{self as consent_store, ConsentSessionRow};
use crate::db::schema::{oauth2_flows as flows, oauth2_login_sessions as sessions};

#[derive(Queryable, Insertable, Clone, Debug)]
#[diesel(table_name = flows)]
pub struct FlowRow {
    pub id: Id,
    pub client_id: String,
    pub request_url: String,
    pub request: Json,
    pub browser_hash: String,
    pub state: String,
    pub login_challenge_hash: String,
    pub login_verifier_hash: Option<String>,
    pub consent_challenge_hash: Option<String>,
    pub consent_verifier_hash: Option<String>,
    pub subject: Option<String>,
    pub login_session_id: Option<Id>,
    pub decisions: Json,
    pub requested_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Columns a transition sets; `None` leaves a column as it is.
#[derive(AsChangeset, Default)]
#[diesel(table_name = flows)]
pub struct FlowChanges {
    pub state: Option<String>,
    pub login_verifier_hash: Option<String>,
    pub consent_challenge_hash: Option<String>,
    pub consent_verifier_hash: Option<String>,
    pub subject: Option<String>,
    pub login_session_id: Option<Id>,
    pub decisions: Option<Json>,
    pub updated_at: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut AnyConnection, row: &FlowRow) -> QueryResult<()> {
    diesel::insert_into(flows::table)
        .values(row.clone())
        .execute(conn)
        .map(|_| ())
}

/// Which secret of a flow a value is presented as.
#[derive(Clone, Copy, Debug)]
pub enum Lookup {
    LoginChallenge,
    LoginVerifier,
    ConsentChallenge,
    ConsentVerifier,
}

pub fn find(
    conn: &mut AnyConnection,
    by: Lookup,
    hashes: &[String],
) -> QueryResult<Option<FlowRow>> {
    let query = flows::table.into_boxed();
    let query = match by {
        Lookup::LoginChallenge => query.filter(flows::login_challenge_hash.eq_any(hashes)),
        Lookup::LoginVerifier => query.filter(flows::login_verifier_hash.eq_any(hashes)),
        Lookup::ConsentChallenge => query.filter(flows::consent_challenge_hash.eq_any(hashes)),
        Lookup::ConsentVerifier => query.filter(flows::consent_verifier_hash.eq_any(hashes)),
    };
    query.first(conn).optional()
}

/// Moves the flow from `from` and applies `changes`; only the first caller succeeds.
pub fn transition(
    conn: &mut AnyConnection,
    id: Id,
    from: &str,
    changes: FlowChanges,
) -> QueryResult<bool> {
    let changed = diesel::update(flows::table.find(id).filter(flows::state.eq(from)))
        .set(changes)
        .execute(conn)?;
    Ok(changed == 1)
}

/// As [`transition`], and in the same transaction stores the code it issues and the consent
/// session it leaves.
pub fn transition_with_code(
    conn: &mut AnyConnection,
    id: Id,
    from: &str,
    changes: FlowChanges,
    code: &super::code::CodeRow,
    consent: &ConsentSessionRow,
) -> QueryResult<bool> {
    conn.transaction(|c| {
        if !transition(c, id, from, changes)? {
            return Ok(false);
        }
        super::code::insert(c, code)?;
        consent_store::insert(c, consent)?;
        Ok(true)
    })
}

/// A flow completed without any UI (`prompt=none`): the finished flow, its code and its consent
/// session, in one transaction.
pub fn insert_completed(
    conn: &mut AnyConnection,
    flow: &FlowRow,
    code: &super::code::CodeRow,
    consent: &ConsentSessionRow,
) -> QueryResult<()> {
    conn.transaction(|c| {
        insert(c, flow)?;
        super::code::insert(c, code)?;
        consent_store::insert(c, consent)
    })
}

#[derive(Queryable, Insertable, Clone, Debug)]
#[diesel(table_name = sessions)]
pub struct LoginSessionRow {
    pub id: Id,
    pub subject: String,
    pub authenticated_at: NaiveDateTime,
    pub remember: bool,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

pub fn insert_login_session(conn: &mut AnyConnection, row: &LoginSessionRow) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values(row.clone())
        .execute(conn)
        .map(|_| ())
}

/// A remembered, unexpired login session.
pub fn find_login_session(
    conn: &mut AnyConnection,
    id: Id,
    now: NaiveDateTime,
) -> QueryResult<Option<LoginSessionRow>> {
    sessions::table
        .find(id)
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::remember.eq(true))
        .first(conn)
        .optional()
}

/// Redeeming a login verifier: moves the flow on and, for a new login, stores its session.
pub fn advance_login(
    conn: &mut AnyConnection,
    id: Id,
    changes: FlowChanges,
    new_session: Option<&LoginSessionRow>,
) -> QueryResult<bool> {
    conn.transaction(|c| {
        if !transition(c, id, super::LOGIN_DECIDED, changes)? {
            return Ok(false);
        }
        if let Some(session) = new_session {
            insert_login_session(c, session)?;
        }
        Ok(true)
    })
}
