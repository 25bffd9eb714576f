//! Account recovery by code (Kratos' recovery flow, method `code`): a recovery address gets a
//! code, and the code signs its identity in (a new session, replacing the browser's previous
//! one) and sends the browser to the settings UI (`selfservice.flows.settings.ui_url`) to set a
//! new password. API flows get the session token in `continue_with`. The endpoints are
//! [`crate::flow::code::handlers`]'.

use actix_web::{HttpResponse, web};
use diesel::prelude::*;
use service_kit::db::{AnyConnection, Id};
use shared_types::error::{ErrorEnvelope, GenericError};

use super::code::steps::{Step, reject};
use super::code::{Kind, store, text};
use super::messages::FlowMessages;
use crate::db::schema::{identities, identity_recovery_addresses as addresses};
use crate::error::ApiError;
use crate::flow::http::{no_store, see_other, with_cookies};
use crate::session;

pub mod admin;

pub fn public_routes(cfg: &mut web::ServiceConfig) {
    super::code::handlers::public_routes(cfg, Kind::Recovery);
}

/// The recovery address among `candidates` whose identity is active: its id and stored value.
/// The identity query runs for unknown addresses too, so both take the same work.
pub fn find_address(
    c: &mut AnyConnection,
    candidates: &[String],
) -> QueryResult<Option<(Id, String)>> {
    let found: Option<(Id, Id, String)> = addresses::table
        .filter(addresses::via.eq("email"))
        .filter(addresses::value.eq_any(candidates))
        .select((addresses::id, addresses::identity_id, addresses::value))
        .first(c)
        .optional()?;
    let owner = found
        .as_ref()
        .map_or(Id(uuid::Uuid::nil()), |(_, identity, _)| *identity);
    let active: i64 = identities::table
        .filter(identities::id.eq(owner))
        .filter(identities::state.eq("active"))
        .count()
        .get_result(c)?;
    Ok(found
        .filter(|_| active == 1)
        .map(|(address, _, value)| (address, value)))
}

/// The active identity that owns the recovery address.
fn owner(c: &mut AnyConnection, address_id: Id) -> QueryResult<Option<Id>> {
    let identity: Id = addresses::table
        .find(address_id)
        .select(addresses::identity_id)
        .first(c)?;
    let active: i64 = identities::table
        .filter(identities::id.eq(identity))
        .filter(identities::state.eq("active"))
        .count()
        .get_result(c)?;
    Ok((active == 1).then_some(identity))
}

/// The right code: in one transaction the flow passes, the browser's previous session ends
/// and the identity's new session starts. Browsers go to the settings UI (a 422 naming it for
/// SPAs); API flows get the session token.
pub async fn complete(
    step: Step<'_>,
    address_id: Id,
    code_hash: String,
) -> Result<HttpResponse, ApiError> {
    let state = step.state;
    let id = step.row.id;
    let identity = state
        .db
        .read(move |c| owner(c, address_id).map_err(ApiError::from))
        .await?;
    let Some(identity) = identity else {
        return reject(step, FlowMessages::form(text::code_invalid(Kind::Recovery))).await;
    };
    let now = state.settings.settings.clock.now();
    let (session_row, token) = state.sessions.start(identity, "code_recovery", now);
    let previous = session::current(state, step.req).await?.map(|(s, _)| s.id);
    let messages = FlowMessages::form(text::success(Kind::Recovery)).to_json();
    let (inserted, at) = (session_row.clone(), now.naive_utc());
    // An admin-made browser flow is bound to the browser whose code is accepted.
    let binding = match (admin::unbound(&step.row), step.csrf.as_ref()) {
        (true, Some(token)) => Some(state.csrf.flow_hash(token)),
        _ => None,
    };
    let done = state
        .db
        .write(move |c| {
            c.transaction(|c| {
                if !store::consume(c, Kind::Recovery, id, &code_hash, messages, at)? {
                    return Ok(false);
                }
                if let Some(hash) = &binding {
                    admin::bind(c, id, hash)?;
                }
                if let Some(old) = previous {
                    crate::session::store::deactivate(c, old, at)?;
                }
                crate::session::store::insert(c, &inserted)?;
                Ok::<_, diesel::result::Error>(true)
            })
            .map_err(ApiError::from)
        })
        .await?;
    if !done {
        return reject(step, FlowMessages::form(text::code_invalid(Kind::Recovery))).await;
    }
    tracing::info!(identity_id = %identity.0, session_id = %session_row.id.0, "recovered an account");
    let settings_ui = state
        .settings
        .flows
        .settings_ui
        .clone()
        .unwrap_or_else(|| state.settings.flows.return_to.default.clone());
    if step.row.flow_type == "api" {
        let id = step.row.id;
        let row = state
            .db
            .read(move |c| store::find(c, Kind::Recovery, id).map_err(ApiError::from))
            .await?;
        let mut flow = super::code::to_wire(Kind::Recovery, &row, &state.settings.public_url, None);
        flow.continue_with = vec![serde_json::json!({
            "action": "set_ory_session_token",
            "ory_session_token": token,
        })];
        return Ok(no_store(HttpResponse::Ok()).json(flow));
    }
    let cookie = state
        .sessions
        .cookies
        .issue(&token, session_row.expires_at.and_utc(), now);
    let (_, csrf_cookie) = state.csrf.fresh();
    if step.json {
        let error = GenericError {
            id: Some("browser_location_change_required".into()),
            code: 422,
            status: "Unprocessable Entity".into(),
            reason: Some(
                "In order to complete this flow please redirect the browser to: ".to_string()
                    + settings_ui.as_str(),
            ),
            message: "browser location change required".into(),
            details: None,
            request: None,
        };
        let mut body = serde_json::to_value(ErrorEnvelope { error }).unwrap_or_default();
        body["redirect_browser_to"] = settings_ui.as_str().into();
        let builder = no_store(HttpResponse::UnprocessableEntity());
        return Ok(with_cookies(builder, [Some(cookie), csrf_cookie]).json(body));
    }
    Ok(with_cookies(see_other(settings_ui.as_str()), [Some(cookie), csrf_cookie]).finish())
}
