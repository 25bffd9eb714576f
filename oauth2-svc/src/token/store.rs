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

/// Revokes (deletes) every access token an authorization code issued; returns how many.
pub fn delete_by_code(conn: &mut AnyConnection, code_id: Id) -> QueryResult<usize> {
    diesel::delete(oauth2_access_tokens::table.filter(oauth2_access_tokens::code_id.eq(code_id)))
        .execute(conn)
}
