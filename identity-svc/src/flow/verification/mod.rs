//! Verification by code (Kratos' verification flow, method `code`): an email address gets a
//! code, and the code marks the address verified (`verified`, `verified_at`, status
//! `completed`). The endpoints are [`crate::flow::code::handlers`]'.

use actix_web::{HttpResponse, web};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use service_kit::db::{AnyConnection, Id};

use super::code::steps::{Step, reject, respond};
use super::code::{Kind, Messages, store, text};
use crate::db::schema::identity_verifiable_addresses as addresses;
use crate::error::ApiError;

pub fn public_routes(cfg: &mut web::ServiceConfig) {
    super::code::handlers::public_routes(cfg, Kind::Verification);
}

/// The email address among `candidates` (forms of what was typed) that an identity has: its
/// id and stored value.
pub fn find_address(
    c: &mut AnyConnection,
    candidates: &[String],
) -> QueryResult<Option<(Id, String)>> {
    addresses::table
        .filter(addresses::via.eq("email"))
        .filter(addresses::value.eq_any(candidates))
        .select((addresses::id, addresses::value))
        .first(c)
        .optional()
}

fn mark_verified(c: &mut AnyConnection, id: Id, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(addresses::table.find(id))
        .set((
            addresses::verified.eq(true),
            addresses::status.eq("completed"),
            addresses::verified_at.eq(now),
            addresses::updated_at.eq(now),
        ))
        .execute(c)
}

/// The right code: the flow passes and the address is verified, in one transaction.
pub async fn complete(
    step: Step<'_>,
    address_id: Id,
    code_hash: String,
) -> Result<HttpResponse, ApiError> {
    let state = step.state;
    let id = step.row.id;
    let now = state.settings.settings.clock.now().naive_utc();
    let messages = Messages::form(text::success(Kind::Verification)).to_json();
    let done = state
        .db
        .write(move |c| {
            c.transaction(|c| {
                if !store::consume(c, Kind::Verification, id, &code_hash, messages, now)? {
                    return Ok(false);
                }
                mark_verified(c, address_id, now)?;
                Ok::<_, diesel::result::Error>(true)
            })
            .map_err(ApiError::from)
        })
        .await?;
    if !done {
        return reject(step, Messages::form(text::code_invalid(Kind::Verification))).await;
    }
    tracing::info!(flow_id = %id.0, address_id = %address_id.0, "verified an address");
    let row = state
        .db
        .read(move |c| store::find(c, Kind::Verification, id).map_err(ApiError::from))
        .await?;
    respond(Step { row, ..step }, HttpResponse::Ok())
}
