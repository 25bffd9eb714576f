//! Recovery codes made by an administrator (Kratos' `createRecoveryCodeForIdentity`,
//! `POST /admin/recovery/code`): a recovery flow already in `sent_email`, holding a fresh code for
//! one of the identity's recovery addresses, and the link to the recovery page with its id. No
//! mail is sent: the administrator hands over link and code. The person redeems the code in the
//! ordinary flow (`flow::code`).
//!
//! A browser flow made here belongs to no browser until its code is accepted: any browser that
//! opens the link sees it with its own anti-CSRF token (fetching binds nothing), and the browser
//! whose submission carries the right code binds it as the code is spent. The code is the
//! secret, single use, and spent after [`super::super::code::MAX_SUBMISSIONS`] tries.

use actix_web::cookie::Cookie;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use service_kit::db::{AnyConnection, Id};
use service_kit::http::JsonObject;

use super::super::code::handlers::{config, ui_url};
use super::super::code::{CodeFlowRow, CodeHasher, Kind, STATE_SENT, new_code, new_flow, store};
use super::super::messages::FlowMessages;
use crate::csrf::CsrfToken;
use crate::db::schema::selfservice_recovery_flows as flows;
use crate::db::schema::{identities, identity_recovery_addresses as addresses};
use crate::error::ApiError;
use crate::flow::http::no_store;
use crate::flow::lifecycle;
use crate::state::AppState;

pub fn admin_routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/admin/recovery/code",
        web::post().to(create_recovery_code_for_identity),
    );
}

#[derive(Deserialize)]
struct CreateRecoveryCodeBody {
    identity_id: String,
    /// A Go duration (`15m`, `1h30m`); the recovery flow's lifespan when absent.
    expires_in: Option<String>,
    /// `browser` (the default) or `api`.
    flow_type: Option<String>,
}

#[derive(Serialize)]
struct RecoveryCodeForIdentity {
    recovery_link: String,
    recovery_code: String,
    expires_at: DateTime<Utc>,
}

/// The most a code made here may live: a handed-over secret should not last for weeks.
const MAX_EXPIRES_IN: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

#[tracing::instrument(skip_all)]
async fn create_recovery_code_for_identity(
    state: web::Data<AppState>,
    JsonObject(body): JsonObject<CreateRecoveryCodeBody>,
) -> Result<HttpResponse, ApiError> {
    let config = config(&state, Kind::Recovery);
    if !config.enabled {
        return Err(ApiError::BadRequest(
            "Recovery is not allowed because it was disabled.".into(),
        ));
    }
    let identity = uuid::Uuid::parse_str(&body.identity_id)
        .map(Id)
        .map_err(|_| ApiError::BadRequest("identity_id must be a UUID.".into()))?;
    let lifespan = match body.expires_in.as_deref() {
        None | Some("") => config.lifespan,
        Some(raw) => service_kit::settings::duration::parse(raw)
            .ok()
            .filter(|d| !d.is_zero() && *d <= MAX_EXPIRES_IN)
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "expires_in must be a positive duration such as 15m or 1h, at most {}h.",
                    MAX_EXPIRES_IN.as_secs() / 3600
                ))
            })?,
    };
    let browser = match body.flow_type.as_deref() {
        None | Some("browser") => true,
        Some("api") => false,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "flow_type must be browser or api, not {other:?}."
            )));
        }
    };
    let (address_id, address) = state
        .db
        .read(move |c| recovery_address(c, identity))
        .await?;

    let now = state.settings.settings.clock.now();
    let request_url = state
        .settings
        .public_url
        .join("admin/recovery/code")
        .expect("a fixed relative path joins")
        .to_string();
    let mut row = new_flow(
        browser,
        request_url,
        None,
        None,
        FlowMessages::default(),
        now,
        lifespan,
    );
    let code = new_code();
    row.state = STATE_SENT.into();
    row.active = Some("code".into());
    row.address = Some(address);
    row.address_id = Some(address_id);
    row.code_hash = Some(
        CodeHasher::new(&state.settings.settings.secrets.cookie).hash(
            Kind::Recovery,
            row.id,
            &code,
        ),
    );
    let stored = row.clone();
    state
        .db
        .write(move |c| store::insert(c, Kind::Recovery, &stored).map_err(ApiError::from))
        .await?;
    tracing::info!(identity_id = %identity.0, flow_id = %row.id.0, "admin recovery code created");
    let answer = RecoveryCodeForIdentity {
        recovery_link: ui_url(&state, Kind::Recovery, &row).into(),
        recovery_code: code,
        expires_at: row.expires_at.and_utc(),
    };
    Ok(no_store(HttpResponse::Created()).json(answer))
}

/// The identity's first recovery address: 404 for an unknown identity, 400 for an inactive one
/// or one without a recovery address (there is nothing the code could recover through).
fn recovery_address(c: &mut AnyConnection, identity: Id) -> Result<(Id, String), ApiError> {
    let state: Option<String> = identities::table
        .find(identity)
        .select(identities::state)
        .first(c)
        .optional()?;
    match state.as_deref() {
        None => return Err(ApiError::NotFound),
        Some("active") => {}
        Some(_) => {
            return Err(ApiError::BadRequest(
                "The identity is not active and cannot be recovered.".into(),
            ));
        }
    }
    addresses::table
        .filter(addresses::identity_id.eq(identity))
        .filter(addresses::via.eq("email"))
        .order(addresses::created_at)
        .select((addresses::id, addresses::value))
        .first(c)
        .optional()?
        .ok_or_else(|| ApiError::BadRequest("The identity has no recovery address.".into()))
}

/// Whether `row` is a browser flow an administrator made that no browser has redeemed yet.
pub fn unbound(row: &CodeFlowRow) -> bool {
    row.flow_type == "browser" && row.csrf_token_hash.is_none()
}

/// The CSRF token a browser is shown the flow with, and the cookie to set. Fetching an unbound
/// admin-made flow claims nothing: each browser sees it with its own token (a new cookie when
/// it has none), so a link-preview bot that opens the link first cannot spoil it.
pub fn shown_token(
    state: &AppState,
    req: &HttpRequest,
    row: &CodeFlowRow,
) -> Result<(Option<CsrfToken>, Option<Cookie<'static>>), ApiError> {
    if unbound(row) {
        let (token, cookie) = state.csrf.token_for(req);
        return Ok((Some(token), cookie));
    }
    let browser = row.flow_type == "browser";
    let token = lifecycle::cookie_bound_token(state, req, browser, row.csrf_token_hash.as_deref())?;
    Ok((token, None))
}

/// The binding a browser submission is checked against: the flow's own, or, for an unbound
/// admin-made flow, the submitting browser's (its cookie and form token must still match).
pub fn expected_hash(state: &AppState, req: &HttpRequest, row: &CodeFlowRow) -> Option<String> {
    if unbound(row) {
        return state
            .csrf
            .cookie_token(req)
            .map(|t| state.csrf.flow_hash(&t));
    }
    row.csrf_token_hash.clone()
}

/// Binds an admin-made flow to the browser whose code was accepted; runs in the transaction
/// that spends the code, so of two browsers racing exactly one binds it.
pub fn bind(c: &mut AnyConnection, id: Id, hash: &str) -> QueryResult<usize> {
    diesel::update(
        flows::table
            .find(id)
            .filter(flows::csrf_token_hash.is_null()),
    )
    .set(flows::csrf_token_hash.eq(hash))
    .execute(c)
}
