//! Registration (Kratos' createBrowserRegistrationFlow, createNativeRegistrationFlow,
//! getRegistrationFlow, updateRegistrationFlow).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use service_kit::db::Id;
use url::Url;

use super::complete::{new_registration, register};
use super::store::{self, RegistrationFlowRow};
use super::{NewFlow, closed_since, form, kept_traits, new_flow, to_wire};
use crate::csrf::CsrfToken;
use crate::error::{ApiError, FlowExpired};
use crate::flow::http::{no_store, refuse_browsers, see_other, with_cookies};
use crate::flow::login::FlowMessages;
use crate::flow::submit::Submission;
use crate::flow::{text, wants_json};
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
        if wants_json(&req) {
            return Err(ApiError::SessionAlreadyAvailable);
        }
        let target = return_to.unwrap_or_else(|| state.settings.flows.return_to.default.clone());
        return Ok(see_other(target.as_str()).finish());
    }
    let (token, cookie) = state.csrf.token_for(&req);
    let new = new_flow_for(&state, &req, return_to, Some(state.csrf.flow_hash(&token)))?;
    let row = insert_flow(&state, new).await?;
    if wants_json(&req) {
        let flow = render(&state, &row, Some(&token))?;
        return Ok(with_cookies(no_store(HttpResponse::Ok()), [cookie]).json(flow));
    }
    Ok(with_cookies(see_other(ui_url(&state, &row).as_str()), [cookie]).finish())
}

#[tracing::instrument(skip_all)]
async fn create_native_registration_flow(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<InitQuery>,
) -> Result<HttpResponse, ApiError> {
    refuse_browsers(&req)?;
    let return_to = state
        .settings
        .flows
        .return_to
        .check(query.return_to.as_deref())?;
    if session::current(&state, &req).await?.is_some() {
        return Err(ApiError::SessionAlreadyAvailable);
    }
    let new = new_flow_for(&state, &req, return_to, None)?;
    let row = insert_flow(&state, new).await?;
    Ok(no_store(HttpResponse::Ok()).json(render(&state, &row, None)?))
}

#[derive(Deserialize)]
struct FlowQuery {
    id: Option<String>,
    flow: Option<String>,
}

/// Browser flows are only shown to the browser that started them (IF-13); API flows to whoever
/// holds the id.
#[tracing::instrument(skip_all)]
async fn get_registration_flow(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<FlowQuery>,
) -> Result<HttpResponse, ApiError> {
    let row = load(&state, query.id.as_deref().or(query.flow.as_deref())).await?;
    let token = if row.is_browser() {
        let token = state.csrf.cookie_token(&req).filter(|t| {
            row.csrf_token_hash
                .as_deref()
                .is_some_and(|stored| state.csrf.matches_flow(t, stored))
        });
        Some(token.ok_or_else(|| {
            ApiError::CsrfViolation(
                "The flow was started in another browser, or its anti-CSRF cookie is missing."
                    .into(),
            )
        })?)
    } else {
        None
    };
    let now = state.settings.settings.clock.now();
    if row.expires_at.and_utc() <= now {
        return Err(expired(&state, &row, now, None));
    }
    Ok(no_store(HttpResponse::Ok()).json(render(&state, &row, token.as_ref())?))
}

#[tracing::instrument(skip_all)]
async fn update_registration_flow(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<FlowQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let limits = &state.settings.settings.serve.request_limits;
    let body =
        service_kit::http::read_body(payload, limits.form_body_bytes.max(limits.json_body_bytes))
            .await?;
    let row = load(&state, query.flow.as_deref().or(query.id.as_deref())).await?;
    let submission = Submission::parse(&req, &body)?;
    let json = !row.is_browser() || submission.json || wants_json(&req);
    let token = if row.is_browser() {
        let token = state
            .csrf
            .verify(
                &req,
                row.csrf_token_hash.as_deref(),
                submission.get("csrf_token"),
            )
            .map_err(ApiError::CsrfViolation)?;
        Some(token)
    } else {
        None
    };
    let now = state.settings.settings.clock.now();
    if let Some(since) = closed_since(&row, now) {
        let minutes = (now - since).num_seconds() as f64 / 60.0;
        let new = NewFlow {
            request_url: row.request_url.clone(),
            return_to: row.return_to.as_deref().and_then(|r| Url::parse(r).ok()),
            csrf_token_hash: row.csrf_token_hash.clone(),
            identity_schema: row.identity_schema.clone(),
            messages: FlowMessages::form(text::registration_flow_expired(minutes)),
        };
        let replacement = insert_flow(&state, new).await?;
        if json {
            return Err(expired(&state, &row, now, Some(replacement.id.0)));
        }
        return Ok(see_other(ui_url(&state, &replacement).as_str()).finish());
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
    if json {
        let flow = render(state, &row, token)?;
        return Ok(no_store(HttpResponse::BadRequest()).json(flow));
    }
    Ok(see_other(ui_url(state, &row).as_str()).finish())
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
    Ok(to_wire(row, schema, &state.settings.public_url, masked))
}

fn new_flow_for(
    state: &AppState,
    req: &HttpRequest,
    return_to: Option<Url>,
    csrf_token_hash: Option<String>,
) -> Result<NewFlow, ApiError> {
    let request_url = state
        .settings
        .public_url
        .join(&req.uri().to_string())
        .map_err(anyhow::Error::from)?;
    Ok(NewFlow {
        request_url: request_url.into(),
        return_to,
        csrf_token_hash,
        identity_schema: state.settings.settings.identity.default_schema_id.clone(),
        messages: FlowMessages::default(),
    })
}

async fn load(state: &AppState, id: Option<&str>) -> Result<RegistrationFlowRow, ApiError> {
    let id = id
        .and_then(|raw| uuid::Uuid::parse_str(raw).ok())
        .ok_or(ApiError::NotFound)?;
    state
        .db
        .read(move |c| store::find(c, Id(id)).map_err(ApiError::from))
        .await
}

async fn insert_flow(state: &AppState, new: NewFlow) -> Result<RegistrationFlowRow, ApiError> {
    let row = new_flow(
        new,
        state.settings.settings.clock.now(),
        state.settings.flows.registration.lifespan,
    );
    let stored = row.clone();
    state
        .db
        .write(move |c| store::insert(c, &stored).map_err(ApiError::from))
        .await?;
    Ok(row)
}

/// 410 for an expired (or used) flow: browsers restart at the browser init URL (with the
/// flow's `return_to`); `use_flow_id` names the replacement when a submission made one.
fn expired(
    state: &AppState,
    row: &RegistrationFlowRow,
    now: chrono::DateTime<chrono::Utc>,
    use_flow_id: Option<uuid::Uuid>,
) -> ApiError {
    let expired_at = row.expires_at.and_utc().min(now);
    let redirect_to = row.is_browser().then(|| {
        let mut restart = state
            .settings
            .public_url
            .join("self-service/registration/browser")
            .expect("a fixed relative path joins");
        if let Some(return_to) = &row.return_to {
            restart
                .query_pairs_mut()
                .append_pair("return_to", return_to);
        }
        restart.into()
    });
    let since = (now - expired_at).num_nanoseconds().unwrap_or(i64::MAX);
    ApiError::FlowExpired(Box::new(FlowExpired {
        expired_at,
        since,
        use_flow_id,
        redirect_to,
    }))
}

fn ui_url(state: &AppState, row: &RegistrationFlowRow) -> Url {
    let mut url = state.settings.flows.registration.ui.clone();
    url.query_pairs_mut()
        .append_pair("flow", &row.id.0.to_string());
    url
}
