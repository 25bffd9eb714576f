//! The endpoints of the verification and recovery flows, one implementation for both (Kratos'
//! createBrowser…Flow, createNative…Flow, get…Flow, update…Flow for `verification` and
//! `recovery`). What differs (which addresses, what success does) lives in
//! `flow::verification` and `flow::recovery`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use service_kit::db::Id;
use url::Url;

use super::steps::{Step, redeem, reject, restart_expired, send_code};
use super::store::{self, CodeFlowRow};
use super::{CodeFlowConfig, Kind, STATE_SENT, text};
use crate::error::{ApiError, FlowExpired};
use crate::flow::http::{no_store, refuse_browsers, see_other, with_cookies};
use crate::flow::lifecycle::{self, FlowQuery};
use crate::flow::messages::FlowMessages;
use crate::flow::submit::Submission;
use crate::flow::wants_json;
use crate::session;
use crate::state::AppState;

/// Registers `kind`'s four endpoints.
pub fn public_routes(cfg: &mut web::ServiceConfig, kind: Kind) {
    let path = |suffix: &str| format!("/self-service/{}{suffix}", kind.name());
    cfg.route(
        &path("/browser"),
        web::get().to(move |s, r, q| create_browser_flow(kind, s, r, q)),
    )
    .route(
        &path("/api"),
        web::get().to(move |s, r, q| create_native_flow(kind, s, r, q)),
    )
    .route(
        &path("/flows"),
        web::get().to(move |s, r, q| get_flow(kind, s, r, q)),
    )
    .route(
        &path(""),
        web::post().to(move |s, r, q, p| update_flow(kind, s, r, q, p)),
    );
}

#[derive(Deserialize)]
struct InitQuery {
    return_to: Option<String>,
}

pub fn config(state: &AppState, kind: Kind) -> &CodeFlowConfig {
    match kind {
        Kind::Verification => &state.settings.flows.verification,
        Kind::Recovery => &state.settings.flows.recovery,
    }
}

fn enabled(state: &AppState, kind: Kind) -> Result<&CodeFlowConfig, ApiError> {
    let config = config(state, kind);
    if config.enabled {
        Ok(config)
    } else {
        let mut what = kind.name().to_string();
        what[..1].make_ascii_uppercase();
        Err(ApiError::BadRequest(format!(
            "{what} is not allowed because it was disabled."
        )))
    }
}

/// Recovery is for people without a session (Kratos answers the same).
async fn refuse_signed_in(
    state: &AppState,
    req: &HttpRequest,
    kind: Kind,
    return_to: Option<&Url>,
) -> Result<Option<HttpResponse>, ApiError> {
    if kind != Kind::Recovery || session::current(state, req).await?.is_none() {
        return Ok(None);
    }
    if wants_json(req) {
        return Err(ApiError::SessionAlreadyAvailable);
    }
    let target = return_to.unwrap_or(&state.settings.flows.return_to.default);
    Ok(Some(see_other(target.as_str()).finish()))
}

#[tracing::instrument(skip_all, fields(flow = kind.name()))]
async fn create_browser_flow(
    kind: Kind,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<InitQuery>,
) -> Result<HttpResponse, ApiError> {
    enabled(&state, kind)?;
    let return_to = state
        .settings
        .flows
        .return_to
        .check(query.return_to.as_deref())?;
    if let Some(redirect) = refuse_signed_in(&state, &req, kind, return_to.as_ref()).await? {
        return Ok(redirect);
    }
    let (token, cookie) = state.csrf.token_for(&req);
    let request_url = lifecycle::request_url(&state, &req)?;
    let hash = Some(state.csrf.flow_hash(&token));
    let row = insert_flow(
        &state,
        kind,
        true,
        request_url,
        return_to,
        hash,
        FlowMessages::default(),
    )
    .await?;
    if wants_json(&req) {
        let flow = super::to_wire(
            kind,
            &row,
            &state.settings.public_url,
            Some(state.csrf.mask(&token)),
        );
        return Ok(with_cookies(no_store(HttpResponse::Ok()), [cookie]).json(flow));
    }
    Ok(with_cookies(see_other(ui_url(&state, kind, &row).as_str()), [cookie]).finish())
}

#[tracing::instrument(skip_all, fields(flow = kind.name()))]
async fn create_native_flow(
    kind: Kind,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<InitQuery>,
) -> Result<HttpResponse, ApiError> {
    enabled(&state, kind)?;
    refuse_browsers(&req)?;
    let return_to = state
        .settings
        .flows
        .return_to
        .check(query.return_to.as_deref())?;
    if kind == Kind::Recovery && session::current(&state, &req).await?.is_some() {
        return Err(ApiError::SessionAlreadyAvailable);
    }
    let request_url = lifecycle::request_url(&state, &req)?;
    let row = insert_flow(
        &state,
        kind,
        false,
        request_url,
        return_to,
        None,
        FlowMessages::default(),
    )
    .await?;
    let flow = super::to_wire(kind, &row, &state.settings.public_url, None);
    Ok(no_store(HttpResponse::Ok()).json(flow))
}

/// Browser flows are only shown to the browser that started them (IF-13).
#[tracing::instrument(skip_all, fields(flow = kind.name()))]
async fn get_flow(
    kind: Kind,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<FlowQuery>,
) -> Result<HttpResponse, ApiError> {
    let row = load(&state, kind, query.shown()).await?;
    // A browser flow an administrator made (`POST /admin/recovery/code`) is bound to no browser
    // until its code is accepted; showing it claims nothing.
    let (token, cookie) = crate::flow::recovery::admin::shown_token(&state, &req, &row)?;
    let masked = token.map(|t| state.csrf.mask(&t));
    let now = state.settings.settings.clock.now();
    if row.expires_at.and_utc() <= now {
        return Err(expired(&state, kind, &row, now, None));
    }
    let flow = super::to_wire(kind, &row, &state.settings.public_url, masked);
    Ok(with_cookies(no_store(HttpResponse::Ok()), [cookie]).json(flow))
}

#[tracing::instrument(skip_all, fields(flow = kind.name()))]
async fn update_flow(
    kind: Kind,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<FlowQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = lifecycle::read_body(&state, payload).await?;
    let row = load(&state, kind, query.submitted()).await?;
    let browser = row.flow_type == "browser";
    crate::flow::errors::redirect::mark_api_flow(&req, browser);
    let submission = Submission::parse(&req, &body)?;
    let csrf = if browser {
        let stored = match kind {
            Kind::Recovery => crate::flow::recovery::admin::expected_hash(&state, &req, &row),
            Kind::Verification => row.csrf_token_hash.clone(),
        };
        let token = state
            .csrf
            .verify(&req, stored.as_deref(), submission.get("csrf_token"));
        Some(token.map_err(ApiError::CsrfViolation)?)
    } else {
        refuse_browsers(&req)?;
        None
    };
    enabled(&state, kind)?;
    let json = !browser || submission.json || wants_json(&req);
    let step = Step {
        state: &state,
        req: &req,
        kind,
        row,
        json,
        csrf,
    };
    let now = state.settings.settings.clock.now();
    if step.row.expires_at.and_utc() <= now {
        return restart_expired(step, now).await;
    }
    let method = submission.get("method").unwrap_or("code");
    if method != "code" {
        return reject(
            step,
            FlowMessages::form(text::unsupported_method(kind, method)),
        )
        .await;
    }
    match (submission.non_empty("code"), submission.non_empty("email")) {
        (Some(code), _) => redeem(step, code).await,
        // An administrator's code waits in an unbound flow: an address submitted by whoever
        // opened the link must not replace it.
        (None, Some(_)) if kind == Kind::Recovery && crate::flow::recovery::admin::unbound(&step.row) => {
            Err(ApiError::BadRequest(
                "This recovery flow was created by an administrator: submit the recovery code you were given, or start a new recovery flow to receive one by email.".into(),
            ))
        }
        (None, Some(email)) => send_code(step, email).await,
        (None, None) if step.row.state == STATE_SENT => {
            reject(step, FlowMessages::field("code", text::missing("code"))).await
        }
        (None, None) => reject(step, FlowMessages::field("email", text::missing("email"))).await,
    }
}

pub(super) fn expired(
    state: &AppState,
    kind: Kind,
    row: &CodeFlowRow,
    now: chrono::DateTime<chrono::Utc>,
    use_flow_id: Option<uuid::Uuid>,
) -> ApiError {
    let expired_at = row.expires_at.and_utc().min(now);
    let init = if row.flow_type == "browser" {
        "browser"
    } else {
        "api"
    };
    let mut restart = state
        .settings
        .public_url
        .join(&format!("self-service/{}/{init}", kind.name()))
        .expect("a fixed relative path joins");
    if let Some(return_to) = &row.return_to {
        restart
            .query_pairs_mut()
            .append_pair("return_to", return_to);
    }
    let since = (now - expired_at).num_nanoseconds().unwrap_or(i64::MAX);
    ApiError::FlowExpired(Box::new(FlowExpired {
        expired_at,
        since,
        use_flow_id,
        redirect_to: Some(restart.into()),
    }))
}

pub(super) async fn insert_flow(
    state: &AppState,
    kind: Kind,
    browser: bool,
    request_url: String,
    return_to: Option<Url>,
    csrf_token_hash: Option<String>,
    messages: FlowMessages,
) -> Result<CodeFlowRow, ApiError> {
    let now = state.settings.settings.clock.now();
    let lifespan = config(state, kind).lifespan;
    let row = super::new_flow(
        browser,
        request_url,
        return_to,
        csrf_token_hash,
        messages,
        now,
        lifespan,
    );
    let stored = row.clone();
    state
        .db
        .write(move |c| store::insert(c, kind, &stored).map_err(ApiError::from))
        .await?;
    Ok(row)
}

async fn load(state: &AppState, kind: Kind, id: Option<&str>) -> Result<CodeFlowRow, ApiError> {
    let id = id
        .and_then(|raw| uuid::Uuid::parse_str(raw).ok())
        .ok_or(ApiError::NotFound)?;
    load_id(state, kind, Id(id)).await
}

pub(super) async fn load_id(state: &AppState, kind: Kind, id: Id) -> Result<CodeFlowRow, ApiError> {
    state
        .db
        .read(move |c| store::find(c, kind, id).map_err(ApiError::from))
        .await
}

/// The flow's page in the UI.
pub fn ui_url(state: &AppState, kind: Kind, row: &CodeFlowRow) -> Url {
    let mut url = config(state, kind)
        .ui_url
        .clone()
        .unwrap_or_else(|| state.settings.flows.return_to.default.clone());
    url.query_pairs_mut()
        .append_pair("flow", &row.id.0.to_string());
    url
}
