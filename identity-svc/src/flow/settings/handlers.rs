//! Settings (Kratos' createBrowserSettingsFlow, createNativeSettingsFlow, getSettingsFlow,
//! updateSettingsFlow). Every endpoint needs a session; a flow is shown to and taken from the
//! identity that started it only.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use service_kit::db::Id;
use shared_types::identity::Identity;
use url::Url;

use super::complete::{self, Submit};
use super::store::{self, SettingsFlowRow};
use super::{NewFlow, new_flow, to_wire};
use crate::csrf::CsrfToken;
use crate::error::{ApiError, FlowExpired};
use crate::flow::http::{no_store, refuse_browsers, see_other, with_cookies};
use crate::flow::login::FlowMessages;
use crate::flow::submit::Submission;
use crate::flow::{text, wants_json};
use crate::session::{self, store::SessionRow};
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

#[derive(Deserialize)]
struct FlowQuery {
    id: Option<String>,
    flow: Option<String>,
}

/// Without a session, browsers go to the login page (as Kratos does); JSON callers get 401.
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
        return Ok(see_other(state.settings.flows.login_ui.as_str()).finish());
    };
    let return_to = state
        .settings
        .flows
        .return_to
        .check(query.return_to.as_deref())?;
    let (token, cookie) = state.csrf.token_for(&req);
    let hash = Some(state.csrf.flow_hash(&token));
    let row = insert_flow(&state, &req, &session, return_to, hash).await?;
    if wants_json(&req) {
        let flow = render(&state, &row, identity, Some(&token), Vec::new())?;
        return Ok(with_cookies(no_store(HttpResponse::Ok()), [cookie]).json(flow));
    }
    Ok(with_cookies(see_other(ui_url(&state, &row).as_str()), [cookie]).finish())
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
    let return_to = state
        .settings
        .flows
        .return_to
        .check(query.return_to.as_deref())?;
    let row = insert_flow(&state, &req, &session, return_to, None).await?;
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
    let row = load(&state, query.id.as_deref().or(query.flow.as_deref())).await?;
    if row.identity_id != session.identity_id {
        return Err(ApiError::IdentityMismatch);
    }
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
    let limits = &state.settings.settings.serve.request_limits;
    let body =
        service_kit::http::read_body(payload, limits.form_body_bytes.max(limits.json_body_bytes))
            .await?;
    let (session, identity) = session::current(&state, &req)
        .await?
        .ok_or(ApiError::SessionInactive)?;
    let row = load(&state, query.flow.as_deref().or(query.id.as_deref())).await?;
    if row.identity_id != session.identity_id {
        return Err(ApiError::IdentityMismatch);
    }
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
    if row.expires_at.and_utc() <= now {
        return restart_expired(&state, &session, row, json, now).await;
    }
    let submit = Submit {
        state: &state,
        row,
        session,
        identity,
        json,
        token,
    };
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

/// A submit after expiry: a new flow says so; JSON gets 410 naming it, browsers its page.
async fn restart_expired(
    state: &AppState,
    session: &SessionRow,
    row: SettingsFlowRow,
    json: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<HttpResponse, ApiError> {
    let minutes = (now - row.expires_at.and_utc()).num_seconds() as f64 / 60.0;
    let mut replacement = new_flow(
        NewFlow {
            request_url: row.request_url.clone(),
            return_to: row.return_to.as_deref().and_then(|r| Url::parse(r).ok()),
            csrf_token_hash: row.csrf_token_hash.clone(),
            identity_id: session.identity_id,
            messages: FlowMessages::form(text::settings_flow_expired(minutes)),
        },
        now,
        state.settings.flows.settings.lifespan,
    );
    replacement.flow_type = row.flow_type.clone();
    let stored = replacement.clone();
    state
        .db
        .write(move |c| store::insert(c, &stored).map_err(ApiError::from))
        .await?;
    if json {
        return Err(expired(state, &row, now, Some(replacement.id.0)));
    }
    Ok(see_other(ui_url(state, &replacement).as_str()).finish())
}

pub(super) fn render(
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
    Ok(to_wire(
        row,
        identity,
        schema,
        &state.settings.public_url,
        masked,
        continue_with,
    ))
}

async fn insert_flow(
    state: &AppState,
    req: &HttpRequest,
    session: &SessionRow,
    return_to: Option<Url>,
    csrf_token_hash: Option<String>,
) -> Result<SettingsFlowRow, ApiError> {
    let request_url = state
        .settings
        .public_url
        .join(&req.uri().to_string())
        .map_err(anyhow::Error::from)?;
    let row = new_flow(
        NewFlow {
            request_url: request_url.into(),
            return_to,
            csrf_token_hash,
            identity_id: session.identity_id,
            messages: FlowMessages::default(),
        },
        state.settings.settings.clock.now(),
        state.settings.flows.settings.lifespan,
    );
    let stored = row.clone();
    state
        .db
        .write(move |c| store::insert(c, &stored).map_err(ApiError::from))
        .await?;
    Ok(row)
}

async fn load(state: &AppState, id: Option<&str>) -> Result<SettingsFlowRow, ApiError> {
    let id = id
        .and_then(|raw| uuid::Uuid::parse_str(raw).ok())
        .ok_or(ApiError::NotFound)?;
    state
        .db
        .read(move |c| store::find(c, Id(id)).map_err(ApiError::from))
        .await
}

/// 410 for an expired flow: browsers restart at the browser init URL (with the flow's
/// `return_to`); `use_flow_id` names the replacement when a submission made one.
fn expired(
    state: &AppState,
    row: &SettingsFlowRow,
    now: chrono::DateTime<chrono::Utc>,
    use_flow_id: Option<uuid::Uuid>,
) -> ApiError {
    let expired_at = row.expires_at.and_utc().min(now);
    let redirect_to = row.is_browser().then(|| {
        let mut restart = state
            .settings
            .public_url
            .join("self-service/settings/browser")
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

pub(super) fn ui_url(state: &AppState, row: &SettingsFlowRow) -> Url {
    let mut url = state.settings.flows.settings.ui.clone();
    url.query_pairs_mut()
        .append_pair("flow", &row.id.0.to_string());
    url
}
