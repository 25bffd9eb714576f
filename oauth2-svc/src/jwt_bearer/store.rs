//! SQL for trusted issuers and seen assertion ids.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use service_kit::db::{AnyConnection, Id, Json};

use crate::db::schema::{
    oauth2_jwt_assertions as assertions, oauth2_trusted_jwt_issuers as issuers,
};

#[derive(Queryable, Insertable, Clone, Debug)]
#[diesel(table_name = issuers)]
pub struct TrustedIssuerRow {
    pub id: Id,
    pub issuer: String,
    /// `""` when `allow_any_subject`.
    pub subject: String,
    pub allow_any_subject: bool,
    pub scope: Json,
    pub kid: String,
    pub public_jwk: Json,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

pub fn insert(conn: &mut AnyConnection, row: &TrustedIssuerRow) -> QueryResult<()> {
    diesel::insert_into(issuers::table)
        .values(row.clone())
        .execute(conn)
        .map(|_| ())
}

pub fn find(conn: &mut AnyConnection, id: Id) -> QueryResult<TrustedIssuerRow> {
    issuers::table.find(id).first(conn)
}

/// Newest first, at most `limit`, optionally of one issuer.
pub fn list(
    conn: &mut AnyConnection,
    issuer: Option<&str>,
    limit: i64,
    offset: i64,
) -> QueryResult<Vec<TrustedIssuerRow>> {
    let mut query = issuers::table.into_boxed();
    if let Some(issuer) = issuer {
        query = query.filter(issuers::issuer.eq(issuer.to_string()));
    }
    query
        .order((issuers::created_at.desc(), issuers::id.desc()))
        .limit(limit)
        .offset(offset)
        .load(conn)
}

pub fn delete(conn: &mut AnyConnection, id: Id) -> QueryResult<usize> {
    diesel::delete(issuers::table.find(id)).execute(conn)
}

/// The unexpired trust relationships of `issuer`.
pub fn active_for(
    conn: &mut AnyConnection,
    issuer: &str,
    now: NaiveDateTime,
) -> QueryResult<Vec<TrustedIssuerRow>> {
    issuers::table
        .filter(issuers::issuer.eq(issuer.to_string()))
        .filter(issuers::expires_at.gt(now))
        .limit(100)
        .load(conn)
}

/// Remembers an assertion id until `expires_at`; `Ok(false)` when it was seen before (a
/// replay). An expired record of the same id is removed first.
pub fn remember_jti(
    conn: &mut AnyConnection,
    jti_hash: &str,
    expires_at: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::delete(
        assertions::table
            .filter(assertions::jti_hash.eq(jti_hash.to_string()))
            .filter(assertions::expires_at.le(now)),
    )
    .execute(conn)?;
    // A savepoint: on PostgreSQL a failed insert would otherwise abort the caller's transaction.
    let inserted = conn.transaction(|c| {
        diesel::insert_into(assertions::table)
            .values((
                assertions::id.eq(Id::new_v7()),
                assertions::jti_hash.eq(jti_hash.to_string()),
                assertions::expires_at.eq(expires_at),
                assertions::created_at.eq(now),
            ))
            .execute(c)
    });
    match inserted {
        Ok(_) => Ok(true),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(e),
    }
}
