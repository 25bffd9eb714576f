//! SQL for refresh tokens and for revoking whole chains (a chain is every refresh and access
//! token descending from one authorization code: `chain_id` here, `code_id` on access tokens).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use service_kit::db::{AnyConnection, Id, Json};

use crate::db::schema::{oauth2_access_tokens as access, oauth2_refresh_tokens as refresh};

#[derive(Queryable, Insertable, Clone, Debug)]
#[diesel(table_name = refresh)]
pub struct RefreshTokenRow {
    pub id: Id,
    /// The keyed hash of the bearer value (never the value).
    pub token_hash: String,
    pub chain_id: Id,
    pub client_id: String,
    pub subject: String,
    /// The scope of the refresh token: fixed for the whole chain (RFC 6749 §6).
    pub scope: Json,
    /// The [`crate::flow::code::Grant`] (without the nonce).
    pub grant_data: Json,
    pub used_at: Option<NaiveDateTime>,
    pub grace_used: bool,
    pub revoked: bool,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

pub fn insert(conn: &mut AnyConnection, row: &RefreshTokenRow) -> QueryResult<()> {
    diesel::insert_into(refresh::table)
        .values(row.clone())
        .execute(conn)
        .map(|_| ())
}

/// The token whose hash is one of `hashes`, whatever its state.
pub fn find(conn: &mut AnyConnection, hashes: &[String]) -> QueryResult<Option<RefreshTokenRow>> {
    refresh::table
        .filter(refresh::token_hash.eq_any(hashes))
        .first(conn)
        .optional()
}

pub fn find_by_id(conn: &mut AnyConnection, id: Id) -> QueryResult<RefreshTokenRow> {
    refresh::table.find(id).first(conn)
}

/// Marks the token used if nobody did before (one conditional UPDATE): of concurrent callers
/// exactly one gets `true`.
pub fn consume(conn: &mut AnyConnection, id: Id, now: NaiveDateTime) -> QueryResult<bool> {
    let won = diesel::update(
        refresh::table
            .filter(refresh::id.eq(id))
            .filter(refresh::used_at.is_null())
            .filter(refresh::revoked.eq(false)),
    )
    .set(refresh::used_at.eq(Some(now)))
    .execute(conn)?;
    Ok(won == 1)
}

/// Takes the one retry a grace period allows, if the token was used after `since` and the retry
/// is still free (one conditional UPDATE).
pub fn take_grace(conn: &mut AnyConnection, id: Id, since: NaiveDateTime) -> QueryResult<bool> {
    let won = diesel::update(
        refresh::table
            .filter(refresh::id.eq(id))
            .filter(refresh::grace_used.eq(false))
            .filter(refresh::revoked.eq(false))
            .filter(refresh::used_at.gt(since)),
    )
    .set(refresh::grace_used.eq(true))
    .execute(conn)?;
    Ok(won == 1)
}

/// Revokes every refresh token of the chain and deletes its access tokens; returns how many
/// tokens of each kind it hit.
pub fn revoke_chain(conn: &mut AnyConnection, chain_id: Id) -> QueryResult<(usize, usize)> {
    let refresh_tokens = diesel::update(refresh::table.filter(refresh::chain_id.eq(chain_id)))
        .set(refresh::revoked.eq(true))
        .execute(conn)?;
    let access_tokens =
        diesel::delete(access::table.filter(access::code_id.eq(chain_id))).execute(conn)?;
    Ok((refresh_tokens, access_tokens))
}

/// Revokes every refresh and access token of a client (`DELETE /admin/oauth2/tokens`).
pub fn revoke_client(conn: &mut AnyConnection, client_id: &str) -> QueryResult<(usize, usize)> {
    let refresh_tokens = diesel::update(refresh::table.filter(refresh::client_id.eq(client_id)))
        .set(refresh::revoked.eq(true))
        .execute(conn)?;
    let access_tokens =
        diesel::delete(access::table.filter(access::client_id.eq(client_id))).execute(conn)?;
    Ok((refresh_tokens, access_tokens))
}
