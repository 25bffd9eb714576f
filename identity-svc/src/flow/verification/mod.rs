//! Verification by code (Kratos' verification flow, method `code`): an email address gets a
//! code, and the code marks the address verified (`verified`, `verified_at`, status
//! `completed`). The endpoints are [`crate::flow::code::handlers`]'.

use actix_web::{HttpResponse, web};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use service_kit::db::{AnyConnection, Id};

use super::code::steps::{Step, reject, respond};
use super::code::{Kind, store, text};
use super::messages::FlowMessages;
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
    let messages = FlowMessages::form(text::success(Kind::Verification)).to_json();
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
        return reject(
            step,
            FlowMessages::form(text::code_invalid(Kind::Verification)),
        )
        .await;
    }
    tracing::info!(flow_id = %id.0, address_id = %address_id.0, "verified an address");
    let row = state
        .db
        .read(move |c| store::find(c, Kind::Verification, id).map_err(ApiError::from))
        .await?;
    respond(Step { row, ..step }, HttpResponse::Ok())
}

/// A verification flow already in `sent_email` for a new address, and its code mail; made
/// before the transaction that creates the address, stored inside it ([`store_codes`]).
pub struct PendingCode {
    flow: super::code::CodeFlowRow,
    mail: crate::courier::store::CourierMessageRow,
}

/// With verification on, a verification flow and code mail for each new email address (Kratos
/// sends one after registration and after a settings change). Browser flows are bound to the
/// browser's CSRF token (`csrf_token_hash` of the flow that made the address), so the code can
/// be entered in the same browser; otherwise they are API flows.
pub fn prepare_codes(
    state: &crate::state::AppState,
    addresses: &[crate::identity::store::VerifiableAddressRow],
    csrf_token_hash: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<PendingCode> {
    let config = &state.settings.flows.verification;
    if !config.enabled {
        return Vec::new();
    }
    let browser = csrf_token_hash.is_some();
    let init = if browser {
        "self-service/verification/browser"
    } else {
        "self-service/verification/api"
    };
    let request_url = state
        .settings
        .public_url
        .join(init)
        .expect("a fixed relative path joins");
    let hasher = super::code::CodeHasher::new(&state.settings.settings.secrets.cookie);
    let minutes = (config.lifespan.as_secs() / 60).max(1);
    addresses
        .iter()
        .filter(|a| a.via == "email" && !a.verified)
        .map(|address| {
            let mut flow = super::code::new_flow(
                browser,
                request_url.to_string(),
                None,
                csrf_token_hash.map(str::to_string),
                FlowMessages::form(text::code_sent(Kind::Verification)),
                now,
                config.lifespan,
            );
            let code = super::code::new_code();
            flow.state = super::code::STATE_SENT.into();
            flow.active = Some("code".into());
            flow.address = Some(address.value.clone());
            flow.address_id = Some(address.id);
            flow.code_hash = Some(hasher.hash(Kind::Verification, flow.id, &code));
            let vars = crate::courier::Vars::from([
                (Kind::Verification.code_variable(), code),
                ("ExpiresInMinutes", minutes.to_string()),
            ]);
            let mail = state.courier.compose(
                Kind::Verification.template(true),
                &address.value,
                &vars,
                now.naive_utc(),
            );
            PendingCode { flow, mail }
        })
        .collect()
}

/// Stores what [`prepare_codes`] made (inside the caller's transaction). Wake the courier after
/// the commit.
pub fn store_codes(c: &mut AnyConnection, pending: &[PendingCode]) -> QueryResult<()> {
    for p in pending {
        store::insert(c, Kind::Verification, &p.flow)?;
        crate::courier::store::insert(c, &p.mail)?;
    }
    Ok(())
}

/// Kratos' `show_verification_ui` entries for the flows made.
pub fn continue_with(
    state: &crate::state::AppState,
    pending: &[PendingCode],
) -> Vec<serde_json::Value> {
    pending
        .iter()
        .map(|p| {
            let url = super::code::handlers::ui_url(state, Kind::Verification, &p.flow);
            serde_json::json!({
                "action": "show_verification_ui",
                "flow": {
                    "id": p.flow.id.0,
                    "verifiable_address": p.flow.address,
                    "url": url.as_str(),
                },
            })
        })
        .collect()
}
