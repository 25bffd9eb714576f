//! SQL for granted consents (consent sessions).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use service_kit::db::{AnyConnection, Id, Json};

use crate::db::schema::oauth2_consent_sessions as sessions;

#[derive(Queryable, Insertable, Clone, Debug)]
#[diesel(table_name = sessions)]
pub struct ConsentSessionRow {
    /// The flow's id: the `consent_request_id` and the token chain.
    pub id: Id,
    pub subject: String,
    pub client_id: String,
    pub login_session_id: Option<Id>,
    pub grant_scope: Json,
    pub grant_audience: Json,
    pub remember: bool,
    pub remember_for: i64,
    /// When a remembered consent stops covering new requests; `None` = indefinitely.
    pub expires_at: Option<NaiveDateTime>,
    /// [`super::ConsentData`].
    pub data: Json,
    pub handled_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

pub fn insert(conn: &mut AnyConnection, row: &ConsentSessionRow) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values(row.clone())
        .execute(conn)
        .map(|_| ())
}

/// The subject's unexpired remembered consents for a client, newest first.
pub fn remembered(
    conn: &mut AnyConnection,
    subject: &str,
    client_id: &str,
    now: NaiveDateTime,
) -> QueryResult<Vec<ConsentSessionRow>> {
    sessions::table
        .filter(sessions::subject.eq(subject))
        .filter(sessions::client_id.eq(client_id))
        .filter(sessions::remember.eq(true))
        .filter(
            sessions::expires_at
                .is_null()
                .or(sessions::expires_at.gt(now)),
        )
        .order(sessions::id.desc())
        .limit(50)
        .load(conn)
}

/// One page of a subject's consents, newest first, after the keyset `before` (an id).
pub fn list(
    conn: &mut AnyConnection,
    subject: &str,
    login_session_id: Option<Id>,
    before: Option<Id>,
    limit: i64,
) -> QueryResult<Vec<ConsentSessionRow>> {
    let mut query = sessions::table
        .filter(sessions::subject.eq(subject))
        .into_boxed();
    if let Some(sid) = login_session_id {
        query = query.filter(sessions::login_session_id.eq(sid));
    }
    if let Some(before) = before {
        query = query.filter(sessions::id.lt(before));
    }
    query.order(sessions::id.desc()).limit(limit).load(conn)
}

/// Which consents a revocation names.
pub enum Revoke {
    Subject {
        subject: String,
        client: Option<String>,
    },
    Request(Id),
}

/// Deletes the named consents and revokes every token they issued, in one transaction;
/// returns how many consents went.
pub fn revoke(conn: &mut AnyConnection, which: &Revoke) -> QueryResult<usize> {
    conn.transaction(|c| {
        let ids: Vec<Id> = match which {
            Revoke::Subject { subject, client } => {
                let mut query = sessions::table
                    .filter(sessions::subject.eq(subject))
                    .select(sessions::id)
                    .into_boxed();
                if let Some(client) = client {
                    query = query.filter(sessions::client_id.eq(client));
                }
                query.load(c)?
            }
            Revoke::Request(id) => vec![*id],
        };
        crate::token::store::revoke_by_flow(c, &ids)?;
        if let Revoke::Subject { subject, client } = which {
            crate::token::store::revoke_by_subject(c, subject, client.as_deref())?;
        }
        diesel::delete(sessions::table.filter(sessions::id.eq_any(&ids))).execute(c)
    })
}

/// The clients the user granted consent to within a login session (for logout).
pub fn clients_of_login_session(conn: &mut AnyConnection, sid: Id) -> QueryResult<Vec<String>> {
    sessions::table
        .filter(sessions::login_session_id.eq(sid))
        .select(sessions::client_id)
        .distinct()
        .load(conn)
}
