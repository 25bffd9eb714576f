//! Settings (Kratos' createBrowserSettingsFlow, createNativeSettingsFlow, getSettingsFlow,
//! updateSettingsFlow). Every endpoint needs a session; a flow is shown to and taken from the
//! identity that started it only.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use shared_types::identity::Identity;

use super::complete::{self, Submit};
use super::store::SettingsFlowRow;
use super::to_wire;
use crate::csrf::CsrfToken;
use crate::error::ApiError;
use crate::flow::http::{no_store, refuse_browsers, see_other};
use crate::flow::lifecycle::{self, FlowQuery, NewFlow};
use crate::flow::messages::FlowMessages;
use crate::flow::submit::Submission;
use crate::flow::{text, wants_json};
use crate::session;
use crate::state::AppState;

pub fn public_routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/self-service/settings/browser",
        web::get().to(create_browser_settings_flow),
    )
    .route(
        "/self-service/settings/api",
        web::get().to(create_native_settings_flow),
    )
    .route(
        "/self-service/settings/flows",
        web::get().to(get_settings_flow),
    )
    .route(
        "/self-service/settings",
        web::post().to(update_settings_flow),
    );
}

#[derive(Deserialize)]
struct InitQuery {
    return_to: Option<String>,
}

/// Without a session, browsers start a login flow (as Kratos does); JSON callers get 401.
#[tracing::instrument(skip_all)]
async fn create_browser_settings_flow(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<InitQuery>,
) -> Result<HttpResponse, ApiError> {
    let Some((session, identity)) = session::current(&state, &req).await? else {
        if wants_json(&req) {
            return Err(ApiError::SessionInactive);
        }
        return Ok(to_login(&state));
    };
    if let Some(step_up) = crate::mfa::aal::settings_gate(&state, &req, &session, false).await? {
        return Ok(step_up);
    }
    let return_to = state
        .settings
        .flows
        .return_to
        .check(query.return_to.as_deref())?;
    let (token, cookie) = state.csrf.token_for(&req);
    let hash = Some(state.csrf.flow_hash(&token));
    let new = NewFlow::from_request(&state, &req, return_to, hash)?;
    let mut row: SettingsFlowRow = lifecycle::create(&state, new, session.identity_id).await?;
    crate::webauthn::settings::prepare(&state, &mut row, &identity).await?;
    crate::flow::oidc::settings::prepare(&state, &mut row).await?;
    crate::mfa::settings::prepare(&state, &mut row, &identity).await?;
    lifecycle::created(&state, &req, &row, cookie, || {
        render(&state, &row, identity, Some(&token), Vec::new())
    })
}

#[tracing::instrument(skip_all)]
async fn create_native_settings_flow(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<InitQuery>,
) -> Result<HttpResponse, ApiError> {
    refuse_browsers(&req)?;
    let (session, identity) = session::current(&state, &req)
        .await?
        .ok_or(ApiError::SessionInactive)?;
    if let Some(step_up) = crate::mfa::aal::settings_gate(&state, &req, &session, true).await? {
        return Ok(step_up);
    }
    let return_to = state
        .settings
        .flows
        .return_to
        .check(query.return_to.as_deref())?;
    let new = NewFlow::from_request(&state, &req, return_to, None)?;
    let mut row: SettingsFlowRow = lifecycle::create(&state, new, session.identity_id).await?;
    crate::webauthn::settings::prepare(&state, &mut row, &identity).await?;
    crate::flow::oidc::settings::prepare(&state, &mut row).await?;
    crate::mfa::settings::prepare(&state, &mut row, &identity).await?;
    Ok(no_store(HttpResponse::Ok()).json(render(&state, &row, identity, None, Vec::new())?))
}

/// Only the flow's identity sees it; a browser flow only in the browser that started it.
#[tracing::instrument(skip_all)]
async fn get_settings_flow(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<FlowQuery>,
) -> Result<HttpResponse, ApiError> {
    let (session, identity) = session::current(&state, &req)
        .await?
        .ok_or(ApiError::SessionInactive)?;
    let mut row: SettingsFlowRow = lifecycle::load(&state, query.shown()).await?;
    if row.identity_id != session.identity_id {
        return Err(ApiError::IdentityMismatch);
    }
    if let Some(step_up) = crate::mfa::aal::settings_gate(&state, &req, &session, true).await? {
        return Ok(step_up);
    }
    let token = lifecycle::shown_token(&state, &req, &row)?;
    lifecycle::check_unexpired(&state, &row)?;
    crate::webauthn::settings::ensure(&state, &mut row, &identity).await?;
    let flow = render(&state, &row, identity, token.as_ref(), Vec::new())?;
    Ok(no_store(HttpResponse::Ok()).json(flow))
}

#[tracing::instrument(skip_all)]
async fn update_settings_flow(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<FlowQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let row: SettingsFlowRow = lifecycle::load(&state, query.submitted()).await?;
    // Marked before anything can fail, so that an api flow's errors stay JSON.
    crate::flow::errors::redirect::mark_api_flow(&req, row.flow_type == "browser");
    let body = lifecycle::read_body(&state, payload).await?;
    let submission = Submission::parse(&req, &body)?;
    let Some((session, identity)) = session::current(&state, &req).await? else {
        // A browser's form post without a (live) session: sign in first, as Kratos does.
        if row.flow_type == "browser" && !submission.json && !wants_json(&req) {
            return Ok(to_login(&state));
        }
        return Err(ApiError::SessionInactive);
    };
    if row.identity_id != session.identity_id {
        return Err(ApiError::IdentityMismatch);
    }
    let json = lifecycle::answers_json(&req, &row, &submission);
    let token = lifecycle::submitted_token(&state, &req, &row, &submission)?;
    if let Some(step_up) = crate::mfa::aal::settings_gate(&state, &req, &session, json).await? {
        return Ok(step_up);
    }
    let now = state.settings.settings.clock.now();
    if let Some(since) = lifecycle::closed_since(&row, now) {
        return lifecycle::restart(&state, &row, since, now, json).await;
    }
    let submit = Submit {
        state: &state,
        row,
        session,
        identity,
        json,
        token,
    };
    if crate::flow::oidc::settings::submitted(&state, &submission) {
        return crate::flow::oidc::settings::update(submit, &submission).await;
    }
    if let Some(method) = crate::webauthn::settings::method_of(&submission) {
        return crate::webauthn::settings::update(submit, method, &submission).await;
    }
    if let Some(method) = crate::mfa::settings::method_of(&submission) {
        return crate::mfa::settings::submit(submit, method, &submission).await;
    }
    match submission.get("method").unwrap_or_default() {
        "profile" => {
            let schema = submit.schema()?;
            let traits = crate::flow::registration::form::traits(schema, &submission, &body)?;
            complete::profile(submit, traits).await
        }
        "password" => {
            let password = submission.get("password").unwrap_or_default().to_string();
            complete::password(submit, password).await
        }
        other => {
            let messages = FlowMessages::form(text::settings_unsupported_method(other));
            complete::reject(submit, None, None, messages).await
        }
    }
}

pub(crate) fn render(
    state: &AppState,
    row: &SettingsFlowRow,
    identity: Identity,
    token: Option<&CsrfToken>,
    continue_with: Vec<serde_json::Value>,
) -> Result<shared_types::flow::SettingsFlow, ApiError> {
    let schema = state
        .schemas
        .get(&identity.schema_id)
        .ok_or_else(|| anyhow::anyhow!("the identity's schema {:?} is gone", identity.schema_id))?;
    let masked = token.map(|t| state.csrf.mask(t));
    let mut flow = to_wire(
        row,
        identity,
        schema,
        &state.settings.public_url,
        masked,
        continue_with,
    );
    flow.ui
        .nodes
        .extend(crate::flow::oidc::settings::nodes(state, row));
    crate::mfa::nodes::extend(state, row, &mut flow.ui.nodes);
    Ok(flow)
}

/// A browser without a (live) session: a new login flow that returns to the settings page.
fn to_login(state: &AppState) -> HttpResponse {
    let mut login = state
        .settings
        .public_url
        .join("self-service/login/browser")
        .expect("a fixed relative path joins");
    login
        .query_pairs_mut()
        .append_pair("return_to", state.settings.flows.settings.ui.as_str());
    see_other(login.as_str()).finish()
}
