//! SQL for access tokens.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use service_kit::db::{AnyConnection, Id, Json};

use crate::db::schema::oauth2_access_tokens;

#[derive(Queryable, Insertable, Clone, Debug)]
#[diesel(table_name = oauth2_access_tokens)]
pub struct AccessTokenRow {
    pub id: Id,
    /// The keyed hash of the bearer value (never the value).
    pub token_hash: String,
    /// The authorization code that issued the token: the chain a replay revokes.
    pub code_id: Option<Id>,
    pub client_id: String,
    pub subject: String,
    pub scope: Json,
    pub audience: Json,
    /// `{"userinfo": {…}, "ext": {…}}`: see [`super::TokenClaims`].
    pub claims: Json,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

pub fn insert(conn: &mut AnyConnection, row: &AccessTokenRow) -> QueryResult<()> {
    diesel::insert_into(oauth2_access_tokens::table)
        .values(row.clone())
        .execute(conn)
        .map(|_| ())
}

/// The unexpired token whose hash is one of `hashes` (the value under every configured secret).
pub fn find_active(
    conn: &mut AnyConnection,
    hashes: &[String],
    now: NaiveDateTime,
) -> QueryResult<Option<AccessTokenRow>> {
    oauth2_access_tokens::table
        .filter(oauth2_access_tokens::token_hash.eq_any(hashes))
        .filter(oauth2_access_tokens::expires_at.gt(now))
        .first(conn)
        .optional()
}

/// Revokes every token issued from the given flows (consent sessions): the access and refresh
/// tokens of the chains their codes started (RT-09 d). Called inside the caller's transaction;
/// returns how many access tokens were deleted.
pub fn revoke_by_flow(conn: &mut AnyConnection, flow_ids: &[Id]) -> QueryResult<usize> {
    use crate::db::schema::{oauth2_codes, oauth2_refresh_tokens as refresh};
    if flow_ids.is_empty() {
        return Ok(0);
    }
    // Loaded first: diesel does not take a subselect in an UPDATE or DELETE filter.
    let chains: Vec<Id> = oauth2_codes::table
        .filter(oauth2_codes::flow_id.eq_any(flow_ids))
        .select(oauth2_codes::id)
        .load(conn)?;
    if chains.is_empty() {
        return Ok(0);
    }
    diesel::update(refresh::table.filter(refresh::chain_id.eq_any(&chains)))
        .set(refresh::revoked.eq(true))
        .execute(conn)?;
    diesel::delete(
        oauth2_access_tokens::table.filter(oauth2_access_tokens::code_id.eq_any(&chains)),
    )
    .execute(conn)
}

/// Revokes everything issued to `subject` (for `client`, or for every client), whatever the
/// grant: refresh tokens (device flow and JWT bearer included), access tokens, codes not yet
/// exchanged, and approved device codes not yet collected (RT-09 b: a deleted identity keeps
/// nothing). Called inside the caller's transaction.
pub fn revoke_by_subject(
    conn: &mut AnyConnection,
    subject: &str,
    client: Option<&str>,
) -> QueryResult<()> {
    use crate::db::schema::oauth2_refresh_tokens as refresh;
    use crate::db::schema::{oauth2_codes as codes, oauth2_device_codes as devices};
    // Ids first, then changes in chunks: diesel takes no subselect in UPDATE/DELETE filters,
    // and SQLite bounds the parameters of one statement.
    const CHUNK: usize = 500;
    let mut q = refresh::table
        .filter(refresh::subject.eq(subject))
        .filter(refresh::revoked.eq(false))
        .select(refresh::id)
        .into_boxed();
    if let Some(client) = client {
        q = q.filter(refresh::client_id.eq(client.to_string()));
    }
    for ids in q.load::<Id>(conn)?.chunks(CHUNK) {
        diesel::update(refresh::table.filter(refresh::id.eq_any(ids)))
            .set(refresh::revoked.eq(true))
            .execute(conn)?;
    }
    let mut q = oauth2_access_tokens::table
        .filter(oauth2_access_tokens::subject.eq(subject))
        .select(oauth2_access_tokens::id)
        .into_boxed();
    if let Some(client) = client {
        q = q.filter(oauth2_access_tokens::client_id.eq(client.to_string()));
    }
    for ids in q.load::<Id>(conn)?.chunks(CHUNK) {
        diesel::delete(oauth2_access_tokens::table.filter(oauth2_access_tokens::id.eq_any(ids)))
            .execute(conn)?;
    }
    let mut q = codes::table
        .filter(codes::subject.eq(subject))
        .filter(codes::used.eq(false))
        .select(codes::id)
        .into_boxed();
    if let Some(client) = client {
        q = q.filter(codes::client_id.eq(client.to_string()));
    }
    for ids in q.load::<Id>(conn)?.chunks(CHUNK) {
        diesel::update(codes::table.filter(codes::id.eq_any(ids)))
            .set(codes::used.eq(true))
            .execute(conn)?;
    }
    let mut q = devices::table
        .filter(devices::subject.eq(subject))
        .filter(devices::state.eq(crate::device::APPROVED))
        .select(devices::id)
        .into_boxed();
    if let Some(client) = client {
        q = q.filter(devices::client_id.eq(client.to_string()));
    }
    for ids in q.load::<Id>(conn)?.chunks(CHUNK) {
        diesel::update(devices::table.filter(devices::id.eq_any(ids)))
            .set(devices::state.eq(crate::device::DENIED))
            .execute(conn)?;
    }
    Ok(())
}

/// The token whose hash is one of `hashes`, expired or not.
pub fn find(conn: &mut AnyConnection, hashes: &[String]) -> QueryResult<Option<AccessTokenRow>> {
    oauth2_access_tokens::table
        .filter(oauth2_access_tokens::token_hash.eq_any(hashes))
        .first(conn)
        .optional()
}

pub fn delete_by_id(conn: &mut AnyConnection, id: Id) -> QueryResult<usize> {
    diesel::delete(oauth2_access_tokens::table.find(id)).execute(conn)
}
