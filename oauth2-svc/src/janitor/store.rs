//! SQL of the janitor: each function deletes at most `limit` rows that can never be used again
//! and returns how many it deleted. Ids are selected with LIMIT and then deleted by id, which
//! works on both SQLite and PostgreSQL (neither `DELETE … LIMIT` nor `USING` is portable).

use chrono::NaiveDateTime;
use diesel::dsl::{exists, not};
use diesel::prelude::*;
use service_kit::db::{AnyConnection, Id};

use crate::db::schema::{
    oauth2_access_tokens as access, oauth2_client_assertion_jtis as client_jtis,
    oauth2_codes as codes, oauth2_device_challenges as device_challenges,
    oauth2_device_codes as device_codes, oauth2_flows as flows,
    oauth2_jwt_assertions as jwt_assertions, oauth2_login_sessions as login_sessions,
    oauth2_logout_requests as logout_requests, oauth2_refresh_tokens as refresh,
};

// The NOT EXISTS subqueries below: a chain (code or device code) is kept while any of its
// tokens is, and a flow while a code or device code points at it.
diesel::allow_tables_to_appear_in_same_query!(oauth2_codes, oauth2_access_tokens);
diesel::allow_tables_to_appear_in_same_query!(oauth2_codes, oauth2_refresh_tokens);
diesel::allow_tables_to_appear_in_same_query!(oauth2_device_codes, oauth2_access_tokens);
diesel::allow_tables_to_appear_in_same_query!(oauth2_device_codes, oauth2_refresh_tokens);
diesel::allow_tables_to_appear_in_same_query!(oauth2_flows, oauth2_codes);
diesel::allow_tables_to_appear_in_same_query!(oauth2_flows, oauth2_device_codes);
use crate::db::schema::{
    oauth2_access_tokens, oauth2_codes, oauth2_device_codes, oauth2_flows, oauth2_refresh_tokens,
};

/// Rows of `$table` whose `$column` is before `$cutoff`, by id.
macro_rules! delete_expired {
    ($conn:expr, $table:ident, $column:ident, $cutoff:expr, $limit:expr) => {{
        let ids: Vec<Id> = $table::table
            .filter($table::$column.lt($cutoff))
            .select($table::id)
            .limit($limit)
            .load($conn)?;
        delete_ids!($conn, $table, ids)
    }};
}

macro_rules! delete_ids {
    ($conn:expr, $table:ident, $ids:expr) => {{
        if $ids.is_empty() {
            Ok(0)
        } else {
            diesel::delete($table::table.filter($table::id.eq_any(&$ids))).execute($conn)
        }
    }};
}

pub fn access_tokens(
    c: &mut AnyConnection,
    limit: i64,
    cutoff: NaiveDateTime,
) -> QueryResult<usize> {
    delete_expired!(c, access, expires_at, cutoff, limit)
}

/// Used, rotated and revoked refresh tokens stay until they expire: reuse detection needs them.
pub fn refresh_tokens(
    c: &mut AnyConnection,
    limit: i64,
    cutoff: NaiveDateTime,
) -> QueryResult<usize> {
    delete_expired!(c, refresh, expires_at, cutoff, limit)
}

/// Expired codes whose chain has no token left: a replay of the code must still find it to
/// revoke what it issued, and consent revocation finds the tokens through `codes.flow_id`.
pub fn codes(c: &mut AnyConnection, limit: i64, cutoff: NaiveDateTime) -> QueryResult<usize> {
    let live_access = access::table
        .filter(access::code_id.eq(codes::id.nullable()))
        .filter(access::expires_at.ge(cutoff));
    let live_refresh = refresh::table
        .filter(refresh::chain_id.eq(codes::id))
        .filter(refresh::expires_at.ge(cutoff));
    let ids: Vec<Id> = codes::table
        .filter(codes::expires_at.lt(cutoff))
        .filter(not(exists(live_access)))
        .filter(not(exists(live_refresh)))
        .select(codes::id)
        .limit(limit)
        .load(c)?;
    delete_ids!(c, codes, ids)
}

pub fn device_challenges(
    c: &mut AnyConnection,
    limit: i64,
    cutoff: NaiveDateTime,
) -> QueryResult<usize> {
    delete_expired!(c, device_challenges, expires_at, cutoff, limit)
}

/// Expired device codes whose chain (the device code is the chain of its tokens) has no token
/// left.
pub fn device_codes(
    c: &mut AnyConnection,
    limit: i64,
    cutoff: NaiveDateTime,
) -> QueryResult<usize> {
    let live_access = access::table
        .filter(access::code_id.eq(device_codes::id.nullable()))
        .filter(access::expires_at.ge(cutoff));
    let live_refresh = refresh::table
        .filter(refresh::chain_id.eq(device_codes::id))
        .filter(refresh::expires_at.ge(cutoff));
    let ids: Vec<Id> = device_codes::table
        .filter(device_codes::expires_at.lt(cutoff))
        .filter(not(exists(live_access)))
        .filter(not(exists(live_refresh)))
        .select(device_codes::id)
        .limit(limit)
        .load(c)?;
    delete_ids!(c, device_codes, ids)
}

/// Flows requested before `requested_before` (the cutoff less the challenge lifetime) that no
/// code or device code points at any more: unfinished ones, and finished ones whose code the
/// janitor already removed.
pub fn flows(
    c: &mut AnyConnection,
    limit: i64,
    requested_before: NaiveDateTime,
) -> QueryResult<usize> {
    let with_code = codes::table.filter(codes::flow_id.eq(flows::id));
    let with_device = device_codes::table.filter(device_codes::flow_id.eq(flows::id.nullable()));
    let ids: Vec<Id> = flows::table
        .filter(flows::requested_at.lt(requested_before))
        .filter(not(exists(with_code)))
        .filter(not(exists(with_device)))
        .select(flows::id)
        .limit(limit)
        .load(c)?;
    delete_ids!(c, flows, ids)
}

/// Logout requests requested before `requested_before` (the cutoff less the challenge lifetime).
pub fn logout_requests(
    c: &mut AnyConnection,
    limit: i64,
    requested_before: NaiveDateTime,
) -> QueryResult<usize> {
    delete_expired!(c, logout_requests, requested_at, requested_before, limit)
}

pub fn login_sessions(
    c: &mut AnyConnection,
    limit: i64,
    cutoff: NaiveDateTime,
) -> QueryResult<usize> {
    delete_expired!(c, login_sessions, expires_at, cutoff, limit)
}

pub fn client_assertion_jtis(
    c: &mut AnyConnection,
    limit: i64,
    cutoff: NaiveDateTime,
) -> QueryResult<usize> {
    delete_expired!(c, client_jtis, expires_at, cutoff, limit)
}

pub fn jwt_assertions(
    c: &mut AnyConnection,
    limit: i64,
    cutoff: NaiveDateTime,
) -> QueryResult<usize> {
    delete_expired!(c, jwt_assertions, expires_at, cutoff, limit)
}

/// Failed-authentication counters whose window is over.
pub fn client_auth_throttle(
    c: &mut AnyConnection,
    limit: i64,
    cutoff: NaiveDateTime,
) -> QueryResult<usize> {
    crate::client::store::delete_stale_auth_failures(c, cutoff, limit)
}
