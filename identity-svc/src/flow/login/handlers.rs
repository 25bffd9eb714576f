//! Login (Kratos' createBrowserLoginFlow, createNativeLoginFlow, getLoginFlow, updateLoginFlow).
//! Browser flows carry the CSRF binding and end with a session cookie; API (native) flows have
//! neither and end with a session token in the body.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use service_kit::settings::Secret;
use shared_types::flow::SuccessfulLogin;

use super::store::{self, LoginFlowRow};
use super::{FlowMessages, NewFlow, closed_since, new_flow, to_wire};
use crate::error::{ApiError, FlowExpired};
use crate::flow::submit::Submission;
use crate::flow::{text, wants_json};
use crate::session;
use crate::state::AppState;

pub fn public_routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/self-service/login/browser",
        web::get().to(create_browser_login_flow),
    )
    .route(
        "/self-service/login/api",
        web::get().to(create_native_login_flow),
    )
    .route("/self-service/login/flows", web::get().to(get_login_flow))
    .route("/self-service/login", web::post().to(update_login_flow));
}

#[derive(Deserialize)]
struct InitQuery {
    return_to: Option<String>,
    refresh: Option<bool>,
    aal: Option<String>,
}

#[tracing::instrument(skip_all)]
async fn create_browser_login_flow(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<InitQuery>,
) -> Result<HttpResponse, ApiError> {
    let flows = &state.settings.flows;
    let return_to = flows.return_to.check(query.return_to.as_deref())?;
    if query.aal.as_deref().is_some_and(|aal| aal != "aal1") {
        return Err(ApiError::BadRequest(
            "only aal1 (a first factor) can be requested so far".into(),
        ));
    }
    let refresh = query.refresh.unwrap_or(false);
    if !refresh && session::current(&state, &req).await?.is_some() {
        if wants_json(&req) {
            return Err(ApiError::SessionAlreadyAvailable);
        }
        let target = return_to.unwrap_or_else(|| flows.return_to.default.clone());
        return Ok(see_other(target.as_str()).finish());
    }
    let (token, cookie) = state.csrf.token_for(&req);
    let request_url = state
        .settings
        .public_url
        .join(&req.uri().to_string())
        .map_err(anyhow::Error::from)?;
    let new = NewFlow {
        request_url: request_url.into(),
        return_to,
        refresh,
        csrf_token_hash: Some(state.csrf.flow_hash(&token)),
        messages: FlowMessages::default(),
    };
    let row = insert_flow(&state, new).await?;
    if wants_json(&req) {
        let flow = to_wire(
            &row,
            &state.settings.public_url,
            Some(state.csrf.mask(&token)),
        );
        let mut ok = HttpResponse::Ok();
        ok.insert_header((header::CACHE_CONTROL, "no-store"));
        return Ok(with_cookie(ok, cookie).json(flow));
    }
    Ok(with_cookie(see_other(ui_url(&state, &row).as_str()), cookie).finish())
}

/// An API flow for a native app: no cookies, no CSRF; the app posts JSON and gets a session
/// token. An app that still holds an active session token must ask for `refresh=true`.
#[tracing::instrument(skip_all)]
async fn create_native_login_flow(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<InitQuery>,
) -> Result<HttpResponse, ApiError> {
    crate::flow::http::refuse_browsers(&req)?;
    let return_to = state
        .settings
        .flows
        .return_to
        .check(query.return_to.as_deref())?;
    if query.aal.as_deref().is_some_and(|aal| aal != "aal1") {
        return Err(ApiError::BadRequest(
            "only aal1 (a first factor) can be requested so far".into(),
        ));
    }
    let refresh = query.refresh.unwrap_or(false);
    if !refresh && session::current(&state, &req).await?.is_some() {
        return Err(ApiError::SessionAlreadyAvailable);
    }
    let request_url = state
        .settings
        .public_url
        .join(&req.uri().to_string())
        .map_err(anyhow::Error::from)?;
    let new = NewFlow {
        request_url: request_url.into(),
        return_to,
        refresh,
        csrf_token_hash: None,
        messages: FlowMessages::default(),
    };
    let row = insert_flow(&state, new).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(to_wire(&row, &state.settings.public_url, None)))
}

#[derive(Deserialize)]
struct FlowQuery {
    id: Option<String>,
    flow: Option<String>,
}

/// Browser flows are only shown to the browser that started them (IF-13).
#[tracing::instrument(skip_all)]
async fn get_login_flow(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<FlowQuery>,
) -> Result<HttpResponse, ApiError> {
    let row = load(&state, query.id.as_deref().or(query.flow.as_deref())).await?;
    let token = state.csrf.cookie_token(&req).filter(|t| {
        row.csrf_token_hash
            .as_deref()
            .is_some_and(|stored| state.csrf.matches_flow(t, stored))
    });
    let browser = row.flow_type == "browser";
    if browser && token.is_none() {
        return Err(ApiError::CsrfViolation(
            "The flow was started in another browser, or its anti-CSRF cookie is missing.".into(),
        ));
    }
    let now = state.settings.settings.clock.now();
    if row.expires_at.and_utc() <= now {
        return Err(expired(&state, &row, now, None));
    }
    let masked = token.filter(|_| browser).map(|t| state.csrf.mask(&t));
    let flow = to_wire(&row, &state.settings.public_url, masked);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(flow))
}

#[tracing::instrument(skip_all)]
async fn update_login_flow(
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
    let browser = row.flow_type == "browser";
    let json = !browser || submission.json || wants_json(&req);
    let token = if browser {
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
            return_to: row
                .return_to
                .as_deref()
                .and_then(|r| url::Url::parse(r).ok()),
            refresh: row.refresh,
            csrf_token_hash: row.csrf_token_hash.clone(),
            messages: FlowMessages::form(text::login_flow_expired(minutes)),
        };
        let replacement = insert_flow(&state, new).await?;
        if json {
            return Err(expired(&state, &row, now, Some(replacement.id.0)));
        }
        return Ok(see_other(ui_url(&state, &replacement).as_str()).finish());
    }
    let identifier = submission.non_empty("identifier").map(str::to_string);
    match check_password(&state, &req, &submission).await? {
        Outcome::SignedIn(identity_id) => sign_in(&state, &req, &row, identity_id, json).await,
        Outcome::Rejected(messages) => {
            reject(&state, row, identifier, messages, json, token.as_ref()).await
        }
    }
}

enum Outcome {
    SignedIn(service_kit::db::Id),
    Rejected(FlowMessages),
}

/// The password method. Every failure after the form is complete (unknown identifier, wrong
/// password, no password set, inactive identity) runs the same hash check and gives the same
/// message (IF-01, IF-02). A locked identifier or client address is refused before the lookup
/// and the hash, with one message whether or not the identifier exists (IF-05).
async fn check_password(
    state: &AppState,
    req: &HttpRequest,
    submission: &Submission,
) -> Result<Outcome, ApiError> {
    let method = submission.get("method").unwrap_or("password");
    if method != "password" {
        return Ok(Outcome::Rejected(FlowMessages::form(
            text::unsupported_method(method),
        )));
    }
    let mut messages = FlowMessages::default();
    for field in ["identifier", "password"] {
        if submission.non_empty(field).is_none() {
            messages
                .fields
                .insert(field.into(), vec![text::missing(field)]);
        }
    }
    let (Some(identifier), Some(password)) = (
        submission.non_empty("identifier"),
        submission.non_empty("password"),
    ) else {
        return Ok(Outcome::Rejected(messages));
    };
    let attempt = state.throttle.attempt(req, identifier);
    let now = state.settings.settings.clock.now();
    if let Some(until) = attempt.begin(&state.db, now).await? {
        return Ok(Outcome::Rejected(FlowMessages::form(text::login_locked(
            until, now,
        ))));
    }
    let identifier = identifier.to_string();
    let found = state
        .db
        .read(move |c| {
            crate::identity::store::find_password_credential(c, &identifier).map_err(ApiError::from)
        })
        .await?;
    let stored = found.as_ref().and_then(|c| c.hashed_password.clone());
    let verified = state
        .passwords
        .verify(Secret::new(password), stored)
        .await?;
    match found {
        Some(credential) if verified && credential.identity_active => {
            attempt.succeeded(&state.db).await;
            crate::identity::manage::upgrade_password_hash(state, &credential, password).await;
            Ok(Outcome::SignedIn(credential.identity_id))
        }
        // The right password of a deactivated identity: Kratos' `identity_disabled`. A wrong
        // password gets the one answer below whatever the state (IF-01).
        Some(_) if verified => Err(ApiError::IdentityDisabled),
        _ => Ok(Outcome::Rejected(FlowMessages::form(
            text::invalid_credentials(),
        ))),
    }
}

/// Ends the flow, replaces any session this browser had (no fixation, IF-15), and issues a new
/// session and a new CSRF token.
async fn sign_in(
    state: &AppState,
    req: &HttpRequest,
    row: &LoginFlowRow,
    identity_id: service_kit::db::Id,
    json: bool,
) -> Result<HttpResponse, ApiError> {
    let now = state.settings.settings.clock.now();
    let (session_row, token) = state.sessions.start(identity_id, "password", now);
    let previous = match session::current(state, req).await? {
        Some((old, _)) => Some(old.id),
        None => None,
    };
    let (flow_id, inserted) = (row.id, session_row.clone());
    let at = now.naive_utc();
    let completed = state
        .db
        .write(move |c| {
            store::complete_with_session(c, flow_id, previous, &inserted, at)
                .map_err(ApiError::from)
        })
        .await?;
    if !completed {
        return Err(ApiError::BadRequest(
            "this login flow was already completed; start a new one".into(),
        ));
    }
    tracing::info!(identity_id = %identity_id.0, session_id = %session_row.id.0, "signed in with password");
    if row.flow_type != "browser" {
        // Only API flows get the token; browsers get it only inside the HttpOnly cookie.
        let identity = session::identity_for(state, identity_id).await?;
        let body = SuccessfulLogin {
            session: session::to_wire(&session_row, identity),
            continue_with: vec![
                serde_json::json!({"action": "set_ory_session_token", "ory_session_token": &token}),
            ],
            session_token: Some(token),
        };
        return Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(body));
    }
    let session_cookie =
        state
            .sessions
            .cookies
            .issue(&token, session_row.expires_at.and_utc(), now);
    let (_, csrf_cookie) = state.csrf.fresh();
    let target = state
        .settings
        .flows
        .return_to
        .target(row.return_to.as_deref());
    if json {
        let identity = session::identity_for(state, identity_id).await?;
        let body = SuccessfulLogin {
            session: session::to_wire(&session_row, identity),
            session_token: None,
            continue_with: vec![
                serde_json::json!({"action": "redirect_browser_to", "redirect_browser_to": target.as_str()}),
            ],
        };
        let mut ok = HttpResponse::Ok();
        ok.insert_header((header::CACHE_CONTROL, "no-store"))
            .cookie(session_cookie);
        return Ok(with_cookie(ok, csrf_cookie).json(body));
    }
    let mut redirect = see_other(target.as_str());
    redirect.cookie(session_cookie);
    Ok(with_cookie(redirect, csrf_cookie).finish())
}

/// Keeps the flow, with messages for the next render: back to the form (browsers) or the flow
/// with its messages as a 400 (JSON).
async fn reject(
    state: &AppState,
    mut row: LoginFlowRow,
    identifier: Option<String>,
    messages: FlowMessages,
    json: bool,
    token: Option<&crate::csrf::CsrfToken>,
) -> Result<HttpResponse, ApiError> {
    let now = state.settings.settings.clock.now().naive_utc();
    let (id, stored, kept) = (row.id, messages.to_json(), identifier.clone());
    state
        .db
        .write(move |c| store::update_ui(c, id, kept, stored, now).map_err(ApiError::from))
        .await?;
    row.identifier = identifier;
    row.ui_messages = messages.to_json();
    row.updated_at = now;
    if json {
        let flow = to_wire(
            &row,
            &state.settings.public_url,
            token.map(|t| state.csrf.mask(t)),
        );
        return Ok(HttpResponse::BadRequest()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(flow));
    }
    Ok(see_other(ui_url(state, &row).as_str()).finish())
}

async fn load(state: &AppState, id: Option<&str>) -> Result<LoginFlowRow, ApiError> {
    let id = id
        .and_then(|raw| uuid::Uuid::parse_str(raw).ok())
        .ok_or(ApiError::NotFound)?;
    state
        .db
        .read(move |c| store::find(c, service_kit::db::Id(id)).map_err(ApiError::from))
        .await
}

async fn insert_flow(state: &AppState, new: NewFlow) -> Result<LoginFlowRow, ApiError> {
    let row = new_flow(
        new,
        state.settings.settings.clock.now(),
        state.settings.flows.login_lifespan,
    );
    let stored = row.clone();
    state
        .db
        .write(move |c| store::insert(c, &stored).map_err(ApiError::from))
        .await?;
    Ok(row)
}

fn expired(
    state: &AppState,
    row: &LoginFlowRow,
    now: chrono::DateTime<chrono::Utc>,
    use_flow_id: Option<uuid::Uuid>,
) -> ApiError {
    let expired_at = row.expires_at.and_utc().min(now);
    let mut restart = state
        .settings
        .public_url
        .join("self-service/login/browser")
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
        // API clients restart with a new API flow; a browser URL would mislead them.
        redirect_to: (row.flow_type == "browser").then(|| restart.into()),
    }))
}

fn ui_url(state: &AppState, row: &LoginFlowRow) -> url::Url {
    let mut url = state.settings.flows.login_ui.clone();
    url.query_pairs_mut()
        .append_pair("flow", &row.id.0.to_string());
    url
}

fn see_other(location: &str) -> actix_web::HttpResponseBuilder {
    let mut builder = HttpResponse::SeeOther();
    builder
        .insert_header((header::LOCATION, location.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    builder
}

fn with_cookie(
    mut builder: actix_web::HttpResponseBuilder,
    cookie: Option<actix_web::cookie::Cookie<'static>>,
) -> actix_web::HttpResponseBuilder {
    if let Some(cookie) = cookie {
        builder.cookie(cookie);
    }
    builder
}
