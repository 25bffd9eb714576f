//! SQL for device codes and device challenges. Every step of either state machine is one
//! conditional update, so a user code, a challenge, a verifier and an approval each work once.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use service_kit::db::{AnyConnection, Id, Json};

use crate::db::schema::{oauth2_device_challenges as challenges, oauth2_device_codes as codes};

#[derive(Queryable, Insertable, Clone, Debug)]
#[diesel(table_name = codes)]
pub struct DeviceCodeRow {
    pub id: Id,
    pub client_id: String,
    pub device_code_hash: String,
    pub user_code_hash: String,
    pub state: String,
    /// [`super::DeviceRequest`].
    pub request: Json,
    pub flow_id: Option<Id>,
    pub subject: Option<String>,
    /// The consent's [`crate::flow::code::Grant`] once approved.
    pub grant_data: Option<Json>,
    pub interval_secs: i32,
    pub last_polled_at: Option<NaiveDateTime>,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Queryable, Insertable, Clone, Debug)]
#[diesel(table_name = challenges)]
pub struct ChallengeRow {
    pub id: Id,
    pub challenge_hash: String,
    pub verifier_hash: Option<String>,
    pub browser_hash: String,
    pub state: String,
    pub device_code_id: Option<Id>,
    pub failed_attempts: i32,
    pub request_url: String,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn insert_code(conn: &mut AnyConnection, row: &DeviceCodeRow) -> QueryResult<()> {
    diesel::insert_into(codes::table)
        .values(row.clone())
        .execute(conn)
        .map(|_| ())
}

pub fn find_code_by_hash(
    conn: &mut AnyConnection,
    hashes: &[String],
) -> QueryResult<Option<DeviceCodeRow>> {
    codes::table
        .filter(codes::device_code_hash.eq_any(hashes))
        .first(conn)
        .optional()
}

pub fn find_code(conn: &mut AnyConnection, id: Id) -> QueryResult<Option<DeviceCodeRow>> {
    codes::table.find(id).first(conn).optional()
}

pub fn find_code_by_flow(
    conn: &mut AnyConnection,
    flow_id: Id,
) -> QueryResult<Option<DeviceCodeRow>> {
    codes::table
        .filter(codes::flow_id.eq(flow_id))
        .first(conn)
        .optional()
}

/// A pending, unexpired device code with this user code.
pub fn find_pending_by_user_code(
    conn: &mut AnyConnection,
    hashes: &[String],
    now: NaiveDateTime,
) -> QueryResult<Option<DeviceCodeRow>> {
    codes::table
        .filter(codes::user_code_hash.eq_any(hashes))
        .filter(codes::state.eq(super::PENDING))
        .filter(codes::expires_at.gt(now))
        .first(conn)
        .optional()
}

/// Columns a device-code transition sets; `None` leaves a column as it is.
#[derive(AsChangeset, Default)]
#[diesel(table_name = codes)]
pub struct CodeChanges {
    pub state: Option<String>,
    pub flow_id: Option<Id>,
    pub subject: Option<String>,
    pub grant_data: Option<Json>,
    pub interval_secs: Option<i32>,
    pub last_polled_at: Option<NaiveDateTime>,
    pub updated_at: Option<NaiveDateTime>,
}

/// Moves a device code from `from`; only the first caller succeeds.
pub fn transition_code(
    conn: &mut AnyConnection,
    id: Id,
    from: &str,
    changes: CodeChanges,
) -> QueryResult<bool> {
    let changed = diesel::update(codes::table.find(id).filter(codes::state.eq(from)))
        .set(changes)
        .execute(conn)?;
    Ok(changed == 1)
}

/// Records a poll: the new interval and poll time, whatever the state.
pub fn record_poll(
    conn: &mut AnyConnection,
    id: Id,
    interval_secs: i32,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(codes::table.find(id))
        .set((
            codes::interval_secs.eq(interval_secs),
            codes::last_polled_at.eq(Some(at)),
        ))
        .execute(conn)
        .map(|_| ())
}

pub fn insert_challenge(conn: &mut AnyConnection, row: &ChallengeRow) -> QueryResult<()> {
    diesel::insert_into(challenges::table)
        .values(row.clone())
        .execute(conn)
        .map(|_| ())
}

pub fn find_challenge(
    conn: &mut AnyConnection,
    hashes: &[String],
) -> QueryResult<Option<ChallengeRow>> {
    challenges::table
        .filter(challenges::challenge_hash.eq_any(hashes))
        .first(conn)
        .optional()
}

pub fn find_challenge_by_verifier(
    conn: &mut AnyConnection,
    hashes: &[String],
) -> QueryResult<Option<ChallengeRow>> {
    challenges::table
        .filter(challenges::verifier_hash.eq_any(hashes))
        .first(conn)
        .optional()
}

/// The wrong user codes entered into challenges that have not yet expired: across all of them,
/// and across those of the browser `browser_hash`.
pub fn live_failures(
    conn: &mut AnyConnection,
    browser_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<(i64, i64)> {
    let live = || {
        challenges::table
            .filter(challenges::expires_at.gt(now))
            .filter(challenges::failed_attempts.gt(0))
    };
    let all = live()
        .select(diesel::dsl::sum(challenges::failed_attempts))
        .first::<Option<i64>>(conn)?;
    let browser = live()
        .filter(challenges::browser_hash.eq(browser_hash))
        .select(diesel::dsl::sum(challenges::failed_attempts))
        .first::<Option<i64>>(conn)?;
    Ok((all.unwrap_or_default(), browser.unwrap_or_default()))
}

/// Counts a wrong user code against an open challenge; the last allowed attempt spends it.
pub fn count_failure(conn: &mut AnyConnection, row: &ChallengeRow) -> QueryResult<()> {
    let attempts = row.failed_attempts + 1;
    let state = if attempts >= super::MAX_USER_CODE_ATTEMPTS {
        super::CHALLENGE_SPENT
    } else {
        super::CHALLENGE_OPEN
    };
    diesel::update(
        challenges::table
            .find(row.id)
            .filter(challenges::state.eq(super::CHALLENGE_OPEN)),
    )
    .set((
        challenges::failed_attempts.eq(challenges::failed_attempts + 1),
        challenges::state.eq(state),
    ))
    .execute(conn)
    .map(|_| ())
}

/// Accepting a user code: the challenge gets its verifier and the device code is claimed, both
/// or neither. `Ok(false)` when either was taken first.
pub fn claim(
    conn: &mut AnyConnection,
    challenge: Id,
    verifier_hash: String,
    code: Id,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    conn.transaction(|c| {
        let decided = diesel::update(
            challenges::table
                .find(challenge)
                .filter(challenges::state.eq(super::CHALLENGE_OPEN)),
        )
        .set((
            challenges::state.eq(super::CHALLENGE_DECIDED),
            challenges::verifier_hash.eq(Some(verifier_hash)),
            challenges::device_code_id.eq(Some(code)),
            challenges::updated_at.eq(now),
        ))
        .execute(c)?;
        let changes = CodeChanges {
            state: Some(super::CLAIMED.into()),
            updated_at: Some(now),
            ..Default::default()
        };
        if decided != 1 || !transition_code(c, code, super::PENDING, changes)? {
            return Err(diesel::result::Error::RollbackTransaction);
        }
        Ok(true)
    })
    .or_else(|e| match e {
        diesel::result::Error::RollbackTransaction => Ok(false),
        other => Err(other),
    })
}

/// Redeeming a device verifier: the challenge is used, the flow is stored and the device code
/// points at it, all at once. `Ok(false)` when the verifier was redeemed before.
pub fn start_flow(
    conn: &mut AnyConnection,
    challenge: Id,
    code: Id,
    flow: &crate::flow::store::FlowRow,
) -> QueryResult<bool> {
    conn.transaction(|c| {
        let used = diesel::update(
            challenges::table
                .find(challenge)
                .filter(challenges::state.eq(super::CHALLENGE_DECIDED)),
        )
        .set((
            challenges::state.eq(super::CHALLENGE_USED),
            challenges::updated_at.eq(flow.created_at),
        ))
        .execute(c)?;
        if used != 1 {
            return Ok(false);
        }
        crate::flow::store::insert(c, flow)?;
        diesel::update(codes::table.find(code))
            .set(codes::flow_id.eq(Some(flow.id)))
            .execute(c)?;
        Ok(true)
    })
}
