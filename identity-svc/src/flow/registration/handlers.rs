//! Registration (Kratos' createBrowserRegistrationFlow, createNativeRegistrationFlow,
//! getRegistrationFlow, updateRegistrationFlow).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use url::Url;

use super::complete::{new_registration, register};
use super::store::{self, RegistrationFlowRow};
use super::{form, kept_traits, to_wire};
use crate::csrf::CsrfToken;
use crate::error::ApiError;
use crate::flow::http::{no_store, refuse_browsers};
use crate::flow::lifecycle::{self, FlowQuery, NewFlow};
use crate::flow::messages::FlowMessages;
use crate::flow::submit::Submission;
use crate::flow::text;
use crate::session;
use crate::state::AppState;

pub fn public_routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/self-service/registration/browser",
        web::get().to(create_browser_registration_flow),
    )
    .route(
        "/self-service/registration/api",
        web::get().to(create_native_registration_flow),
    )
    .route(
        "/self-service/registration/flows",
        web::get().to(get_registration_flow),
    )
    .route(
        "/self-service/registration",
        web::post().to(update_registration_flow),
    );
}

#[derive(Deserialize)]
struct InitQuery {
    return_to: Option<String>,
}

#[tracing::instrument(skip_all)]
async fn create_browser_registration_flow(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<InitQuery>,
) -> Result<HttpResponse, ApiError> {
    let return_to = state
        .settings
        .flows
        .return_to
        .check(query.return_to.as_deref())?;
    if session::current(&state, &req).await?.is_some() {
        return lifecycle::already_signed_in(&state, &req, return_to);
    }
    let (token, cookie) = state.csrf.token_for(&req);
    let hash = Some(state.csrf.flow_hash(&token));
    let row = insert_flow(&state, &req, return_to, hash).await?;
    lifecycle::created(&state, &req, &row, cookie, || {
        render(&state, &row, Some(&token))
    })
}

#[tracing::instrument(skip_all)]
async fn create_native_registration_flow(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<InitQuery>,
) -> Result<HttpResponse, ApiError> {
    refuse_browsers(&req)?;
    let return_to =
        crate::flow::oidc::exchange::return_to(&state, &req, query.return_to.as_deref())?;
    if session::current(&state, &req).await?.is_some() {
        return Err(ApiError::SessionAlreadyAvailable);
    }
    let row = insert_flow(&state, &req, return_to, None).await?;
    let flow = render(&state, &row, None)?;
    crate::flow::oidc::exchange::answer(&state, &req, row.id, flow).await
}

/// Browser flows are only shown to the browser that started them (IF-13); API flows to whoever
/// holds the id.
#[tracing::instrument(skip_all)]
async fn get_registration_flow(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<FlowQuery>,
) -> Result<HttpResponse, ApiError> {
    let row: RegistrationFlowRow = lifecycle::load(&state, query.shown()).await?;
    let token = lifecycle::shown_token(&state, &req, &row)?;
    lifecycle::check_unexpired(&state, &row)?;
    Ok(no_store(HttpResponse::Ok()).json(render(&state, &row, token.as_ref())?))
}

#[tracing::instrument(skip_all)]
async fn update_registration_flow(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<FlowQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let row: RegistrationFlowRow = lifecycle::load(&state, query.submitted()).await?;
    lifecycle::mark_api_flow(&req, &row);
    let body = lifecycle::read_body(&state, payload).await?;
    let submission = Submission::parse(&req, &body)?;
    let json = lifecycle::answers_json(&req, &row, &submission);
    let token = lifecycle::submitted_token(&state, &req, &row, &submission)?;
    let now = state.settings.settings.clock.now();
    if let Some(since) = lifecycle::closed_since(&row, now) {
        return lifecycle::restart(&state, &row, since, now, json).await;
    }
    let typed = crate::flow::oidc::submitted(&submission)
        .then(|| state.schemas.get(&row.identity_schema))
        .flatten()
        .and_then(|schema| form::traits(schema, &submission, &body).ok());
    let oidc =
        crate::flow::oidc::start::on_registration(&state, &req, &row, &submission, typed, json);
    if let Some(outcome) = oidc.await? {
        return match outcome {
            Ok(response) => Ok(response),
            Err(messages) => reject(&state, row, None, messages, json, token.as_ref()).await,
        };
    }
    let method = submission.get("method").unwrap_or("password");
    if method != "password" {
        let messages = FlowMessages::form(text::registration_unsupported_method(method));
        return reject(&state, row, None, messages, json, token.as_ref()).await;
    }
    let schema = state
        .schemas
        .get(&row.identity_schema)
        .ok_or_else(|| anyhow::anyhow!("the flow's schema {:?} is gone", row.identity_schema))?;
    let mut traits = form::traits(schema, &submission, &body)?;
    schema.trim_marked(&mut traits);
    let messages =
        match new_registration(&state, schema, traits.clone(), submission.get("password")).await? {
            Ok(record) => match register(&state, &req, &row, *record, json).await? {
                Some(response) => return Ok(response),
                // A taken identifier: Kratos' generic message, on the form (IF-03).
                None => FlowMessages::form(text::duplicate_credentials()),
            },
            Err(messages) => messages,
        };
    reject(&state, row, Some(traits), messages, json, token.as_ref()).await
}

/// Keeps the flow, with messages and the typed traits for the next render: back to the form
/// (browsers) or the flow as a 400 (JSON).
async fn reject(
    state: &AppState,
    mut row: RegistrationFlowRow,
    traits: Option<serde_json::Value>,
    messages: FlowMessages,
    json: bool,
    token: Option<&CsrfToken>,
) -> Result<HttpResponse, ApiError> {
    let now = state.settings.settings.clock.now().naive_utc();
    let kept = traits.as_ref().and_then(kept_traits);
    let (id, stored, to_store) = (row.id, messages.to_json(), kept.clone());
    state
        .db
        .write(move |c| store::update_ui(c, id, to_store, stored, now).map_err(ApiError::from))
        .await?;
    row.traits = kept;
    row.ui_messages = messages.to_json();
    row.active = Some("password".into());
    row.updated_at = now;
    lifecycle::rejected(state, &row, json, || render(state, &row, token))
}

fn render(
    state: &AppState,
    row: &RegistrationFlowRow,
    token: Option<&CsrfToken>,
) -> Result<shared_types::flow::RegistrationFlow, ApiError> {
    let schema = state
        .schemas
        .get(&row.identity_schema)
        .ok_or_else(|| anyhow::anyhow!("the flow's schema {:?} is gone", row.identity_schema))?;
    let masked = token.map(|t| state.csrf.mask(t));
    let mut flow = to_wire(row, schema, &state.settings.public_url, masked);
    let oidc = &state.settings.flows.oidc;
    crate::flow::oidc::extend_nodes(
        oidc,
        &mut flow.ui.nodes,
        crate::flow::oidc::Purpose::Registration,
    );
    Ok(flow)
}

/// A new flow for the default identity schema.
async fn insert_flow(
    state: &AppState,
    req: &HttpRequest,
    return_to: Option<Url>,
    csrf_token_hash: Option<String>,
) -> Result<RegistrationFlowRow, ApiError> {
    let new = NewFlow::from_request(state, req, return_to, csrf_token_hash)?;
    let schema = state.settings.settings.identity.default_schema_id.clone();
    lifecycle::create(state, new, schema).await
}
