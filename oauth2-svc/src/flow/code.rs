//! Authorization codes: issued when a consent verifier is redeemed, consumed once by the token
//! endpoint. Only a keyed hash of the code is stored.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use service_kit::db::{AnyConnection, Id, Json};

use crate::db::schema::oauth2_codes;

pub const CODE_PREFIX: &str = "oly_ac_";

/// What the authorization granted; everything the token endpoint needs to mint tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    /// The login session: the ID token's `sid`.
    pub login_session_id: uuid::Uuid,
    pub auth_time: DateTime<Utc>,
    pub nonce: Option<String>,
    pub scope: Vec<String>,
    pub audience: Vec<String>,
    pub acr: Option<String>,
    pub amr: Vec<String>,
    /// The consent's `session.id_token`: extra ID token (and userinfo) claims.
    pub id_token_claims: serde_json::Map<String, serde_json::Value>,
    /// The consent's `session.access_token`: extra access token claims.
    pub access_token_claims: serde_json::Map<String, serde_json::Value>,
}

#[derive(Queryable, Insertable, Clone, Debug)]
#[diesel(table_name = oauth2_codes)]
pub struct CodeRow {
    pub id: Id,
    pub code_hash: String,
    pub flow_id: Id,
    pub client_id: String,
    pub redirect_uri: String,
    /// The S256 challenge, if the client sent one (`BASE64URL(SHA256(verifier))`).
    pub code_challenge: Option<String>,
    pub subject: String,
    pub grant_data: Json,
    pub used: bool,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

impl CodeRow {
    pub fn grant(&self) -> Result<Grant, serde_json::Error> {
        serde_json::from_value(self.grant_data.0.clone())
    }
}

pub fn insert(conn: &mut AnyConnection, row: &CodeRow) -> QueryResult<()> {
    diesel::insert_into(oauth2_codes::table)
        .values(row.clone())
        .execute(conn)
        .map(|_| ())
}

/// The outcome of presenting a code.
#[derive(Debug)]
pub enum Redemption {
    /// First use: the code is now spent.
    Redeemed(CodeRow),
    /// The code was already spent: a replay (or the loser of a race). Revoke what it issued.
    Replayed(CodeRow),
    Unknown,
}

/// Consumes a code atomically (`UPDATE … WHERE used = false`): of concurrent callers exactly one
/// gets `Redeemed`. `hashes` are the code's keyed hashes under every configured secret.
pub fn consume(conn: &mut AnyConnection, hashes: &[String]) -> QueryResult<Redemption> {
    conn.transaction(|c| {
        let won = diesel::update(
            oauth2_codes::table
                .filter(oauth2_codes::code_hash.eq_any(hashes))
                .filter(oauth2_codes::used.eq(false)),
        )
        .set(oauth2_codes::used.eq(true))
        .execute(c)?;
        let row: Option<CodeRow> = oauth2_codes::table
            .filter(oauth2_codes::code_hash.eq_any(hashes))
            .first(c)
            .optional()?;
        Ok(match (won, row) {
            (1, Some(row)) => Redemption::Redeemed(row),
            (_, Some(row)) => Redemption::Replayed(row),
            (_, None) => Redemption::Unknown,
        })
    })
}
