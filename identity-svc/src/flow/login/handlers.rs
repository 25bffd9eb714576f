//! Login (Kratos' createBrowserLoginFlow, createNativeLoginFlow, getLoginFlow, updateLoginFlow).
//! Browser flows carry the CSRF binding and end with a session cookie; API (native) flows have
//! neither and end with a session token in the body.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use service_kit::settings::Secret;
use shared_types::flow::SuccessfulLogin;

use super::identifier_first;
use super::store::{self, LoginFlowRow};
use crate::error::ApiError;
use crate::flow::http::{no_store, refuse_browsers, see_other, with_cookies};
use crate::flow::lifecycle::{self, FlowQuery, NewFlow};
use crate::flow::messages::FlowMessages;
use crate::flow::submit::Submission;
use crate::flow::text;
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

impl InitQuery {
    /// `refresh` defaults to false (`aal` is read by `mfa::login::requested`).
    fn refresh(&self) -> Result<bool, ApiError> {
        Ok(self.refresh.unwrap_or(false))
    }
}

#[tracing::instrument(skip_all)]
async fn create_browser_login_flow(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<InitQuery>,
) -> Result<HttpResponse, ApiError> {
    let return_to = state
        .settings
        .flows
        .return_to
        .check(query.return_to.as_deref())?;
    let refresh = query.refresh()?;
    // A step-up (`aal=aal2`) needs the session that a first-factor flow refuses.
    let aal2 = crate::mfa::login::requested(&state, &req, query.aal.as_deref(), refresh).await?;
    if aal2.is_none() && !refresh && session::current(&state, &req).await?.is_some() {
        return lifecycle::already_signed_in(&state, &req, return_to);
    }
    let (token, cookie) = state.csrf.token_for(&req);
    let hash = Some(state.csrf.flow_hash(&token));
    let new = NewFlow::from_request(&state, &req, return_to, hash)?;
    let mut row: LoginFlowRow = lifecycle::create(&state, new, refresh).await?;
    if let Some(aal2) = aal2 {
        crate::mfa::login::mark(&state, &mut row, aal2).await?;
    }
    crate::webauthn::login::prepare(&state, &mut row).await?;
    lifecycle::created(&state, &req, &row, cookie, || {
        let masked = Some(state.csrf.mask(&token));
        Ok(crate::flow::oidc::login_wire(&state, &row, masked))
    })
}

/// An API flow for a native app: no cookies, no CSRF; the app posts JSON and gets a session
/// token. An app that still holds an active session token must ask for `refresh=true`.
#[tracing::instrument(skip_all)]
async fn create_native_login_flow(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<InitQuery>,
) -> Result<HttpResponse, ApiError> {
    refuse_browsers(&req)?;
    let return_to =
        crate::flow::oidc::exchange::return_to(&state, &req, query.return_to.as_deref())?;
    let refresh = query.refresh()?;
    // A step-up (`aal=aal2`) needs the session that a first-factor flow refuses.
    let aal2 = crate::mfa::login::requested(&state, &req, query.aal.as_deref(), refresh).await?;
    if aal2.is_none() && !refresh && session::current(&state, &req).await?.is_some() {
        return Err(ApiError::SessionAlreadyAvailable);
    }
    let new = NewFlow::from_request(&state, &req, return_to, None)?;
    let mut row: LoginFlowRow = lifecycle::create(&state, new, refresh).await?;
    if let Some(aal2) = aal2 {
        crate::mfa::login::mark(&state, &mut row, aal2).await?;
    }
    crate::webauthn::login::prepare(&state, &mut row).await?;
    let flow = crate::flow::oidc::login_wire(&state, &row, None);
    crate::flow::oidc::exchange::answer(&state, &req, row.id, flow).await
}

/// Browser flows are only shown to the browser that started them (IF-13).
#[tracing::instrument(skip_all)]
async fn get_login_flow(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<FlowQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut row: LoginFlowRow = lifecycle::load(&state, query.shown()).await?;
    let token = lifecycle::shown_token(&state, &req, &row)?;
    lifecycle::check_unexpired(&state, &row)?;
    crate::webauthn::login::ensure(&state, &mut row).await?;
    let masked = token.map(|t| state.csrf.mask(&t));
    let flow = crate::flow::oidc::login_wire(&state, &row, masked);
    Ok(no_store(HttpResponse::Ok()).json(flow))
}

#[tracing::instrument(skip_all)]
async fn update_login_flow(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<FlowQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let row: LoginFlowRow = lifecycle::load(&state, query.submitted()).await?;
    lifecycle::mark_api_flow(&req, &row);
    let body = lifecycle::read_body(&state, payload).await?;
    let submission = Submission::parse(&req, &body)?;
    let json = lifecycle::answers_json(&req, &row, &submission);
    let token = lifecycle::submitted_token(&state, &req, &row, &submission)?;
    let now = state.settings.settings.clock.now();
    if let Some(since) = lifecycle::closed_since(&row, now) {
        if row.requested_aal == "aal2" {
            return crate::mfa::login::restart(&state, &row, since, now, json).await;
        }
        return lifecycle::restart(&state, &row, since, now, json).await;
    }
    if row.requested_aal == "aal2" && submission.get("method") == Some("webauthn") {
        let step = crate::mfa::login::Step {
            state: &state,
            req: &req,
            row,
            json,
            token,
        };
        return crate::webauthn::login::submit_second_factor(step, &submission).await;
    }
    if crate::mfa::login::handles(&row, &submission) {
        let step = crate::mfa::login::Step {
            state: &state,
            req: &req,
            row,
            json,
            token,
        };
        return crate::mfa::login::submit(step, &submission).await;
    }
    if submission.get("method") == Some(identifier_first::METHOD) {
        let mut row = row;
        return match identifier_first::submit(&state, &mut row, &submission).await? {
            // The same flow again, now with the methods (Kratos: 303 to the UI, or 400 + flow).
            Ok(()) => lifecycle::rejected(&state, &row, json, || {
                let masked = token.as_ref().map(|t| state.csrf.mask(t));
                Ok(crate::flow::oidc::login_wire(&state, &row, masked))
            }),
            Err(messages) => {
                let identifier = submission.non_empty("identifier").map(str::to_string);
                reject(&state, row, identifier, messages, json, token.as_ref()).await
            }
        };
    }
    if submission.get("method") == Some("passkey") {
        let mut row = row;
        let outcome =
            crate::webauthn::login::passkey(&state, &req, &mut row, &submission, token.as_ref())
                .await?;
        return match outcome {
            crate::webauthn::login::Outcome::SignedIn(identity_id) => {
                sign_in(&state, &req, &row, identity_id, "passkey", json).await
            }
            crate::webauthn::login::Outcome::Rejected(messages) => {
                reject(&state, row, None, messages, json, token.as_ref()).await
            }
        };
    }
    if let Some(outcome) =
        crate::flow::oidc::start::on_login(&state, &req, &row, &submission, json).await?
    {
        return match outcome {
            Ok(response) => Ok(response),
            Err(messages) => reject(&state, row, None, messages, json, token.as_ref()).await,
        };
    }
    let mut submission = submission;
    if let Err(messages) = identifier_first::password_identifier(&row, &mut submission) {
        return reject(&state, row, None, messages, json, token.as_ref()).await;
    }
    let identifier = submission.non_empty("identifier").map(str::to_string);
    match check_password(&state, &req, &submission).await? {
        Outcome::SignedIn(identity_id) => {
            sign_in(&state, &req, &row, identity_id, "password", json).await
        }
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
    method: &str,
    json: bool,
) -> Result<HttpResponse, ApiError> {
    let now = state.settings.settings.clock.now();
    let (session_row, token) = state.sessions.start(identity_id, method, now);
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
    tracing::info!(identity_id = %identity_id.0, session_id = %session_row.id.0, method, "signed in");
    let target = state
        .settings
        .flows
        .return_to
        .target(row.return_to.as_deref());
    if row.flow_type != "browser" {
        // An upstream account waiting for this proof is linked now (not below a due aal2).
        crate::flow::oidc::link::after_first_factor(state, row, &session_row, None, target).await?;
        // Only API flows get the token; browsers get it only inside the HttpOnly cookie.
        let identity = session::identity_for(state, identity_id).await?;
        let body = SuccessfulLogin {
            session: session::to_wire(&session_row, identity),
            continue_with: vec![
                serde_json::json!({"action": "set_ory_session_token", "ory_session_token": &token}),
            ],
            session_token: Some(token),
        };
        return Ok(no_store(HttpResponse::Ok()).json(body));
    }
    let session_cookie =
        state
            .sessions
            .cookies
            .issue(&token, session_row.expires_at.and_utc(), now);
    let (csrf, csrf_cookie) = state.csrf.fresh();
    // An identity with a second factor goes on to the step-up (Kratos' aal2 redirect); an
    // upstream account waiting for this proof is linked now, or after the step-up when one is due.
    let target =
        crate::flow::oidc::link::after_first_factor(state, row, &session_row, Some(&csrf), target)
            .await?;
    if json {
        let identity = session::identity_for(state, identity_id).await?;
        let body = SuccessfulLogin {
            session: session::to_wire(&session_row, identity),
            session_token: None,
            continue_with: vec![
                serde_json::json!({"action": "redirect_browser_to", "redirect_browser_to": target.as_str()}),
            ],
        };
        let ok = no_store(HttpResponse::Ok());
        return Ok(with_cookies(ok, [Some(session_cookie), csrf_cookie]).json(body));
    }
    let redirect = see_other(target.as_str());
    Ok(with_cookies(redirect, [Some(session_cookie), csrf_cookie]).finish())
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
    lifecycle::rejected(state, &row, json, || {
        let masked = token.map(|t| state.csrf.mask(t));
        Ok(crate::flow::oidc::login_wire(state, &row, masked))
    })
}
