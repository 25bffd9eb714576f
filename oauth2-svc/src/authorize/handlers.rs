//! `GET|POST /oauth2/auth`: starts a flow (302 to the login UI), and takes the browser back
//! through the login and consent verifiers to the code.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use service_kit::db::{Id, Json};
use shared_types::client::OAuth2Client;

use super::redeem::{self, to_client};
use super::response::{AuthorizeError, BROWSER_COOKIE, SESSION_COOKIE, cookie, found};
use super::{parameters, validate};
use crate::error::ApiError;
use crate::flow::store::{self, FlowRow, LoginSessionRow};
use crate::flow::{self as flows, AuthorizeRequest, Decisions};
use crate::keyed::{Purpose, new_token};
use crate::state::AppState;

pub fn public_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/oauth2/auth")
            .route(web::get().to(oauth2_authorize))
            .route(web::post().to(oauth2_authorize_form)),
    );
}

async fn oauth2_authorize(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let raw = req.query_string().to_string();
    respond(&state, dispatch(&state, &req, &raw).await)
}

/// The same request as a form post (OIDC Core §3.1.2.1).
async fn oauth2_authorize_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let limit = state.settings.settings.serve.request_limits.form_body_bytes;
    let outcome = match service_kit::http::read_body(payload, limit).await {
        Ok(body) => match std::str::from_utf8(&body) {
            Ok(raw) => dispatch(&state, &req, raw).await,
            Err(_) => Err(AuthorizeError::ToErrorPage {
                error: "invalid_request",
                description: "The form is not UTF-8.".into(),
            }),
        },
        Err(e) => Err(AuthorizeError::Api(e.into())),
    };
    respond(&state, outcome)
}

fn respond(state: &AppState, outcome: Result<HttpResponse, AuthorizeError>) -> HttpResponse {
    outcome.unwrap_or_else(|e| e.render(&state.settings.issuer, &state.settings.error_ui))
}

async fn dispatch(
    state: &AppState,
    req: &HttpRequest,
    raw: &str,
) -> Result<HttpResponse, AuthorizeError> {
    let params = parameters(raw)?;
    if let Some(verifier) = params.get("login_verifier") {
        return redeem::redeem_login(state, req, verifier).await;
    }
    if let Some(verifier) = params.get("consent_verifier") {
        return redeem::redeem_consent(state, req, verifier, params.get("client_id")).await;
    }
    start(state, req, params).await
}

pub(super) fn now(state: &AppState) -> DateTime<Utc> {
    state.settings.settings.clock.now()
}

pub(super) fn secure(state: &AppState) -> bool {
    !state.settings.settings.dev
}

async fn load_client(state: &AppState, client_id: &str) -> Result<Option<OAuth2Client>, ApiError> {
    let id = client_id.to_string();
    let row = state
        .db
        .read(move |c| crate::client::store::find(c, &id).map_err(ApiError::from))
        .await;
    match row {
        Ok(row) => crate::client::handlers::to_wire(row).map(Some),
        Err(ApiError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A new authorization request: validate, bind to this browser, hand over to the login UI
/// (or, for `prompt=none`, complete silently or fail).
async fn start(
    state: &AppState,
    req: &HttpRequest,
    params: BTreeMap<String, String>,
) -> Result<HttpResponse, AuthorizeError> {
    let client = client_of_request(state, &params).await?;
    let mut request = validate(
        &params,
        &client,
        state.settings.settings.oauth2.pkce.enforced,
    )?;
    let now = now(state);
    if let Some(hint) = params.get("id_token_hint") {
        let claims =
            super::prompt::verify_hint(&state.keys, issuer(state), &request.client_id, hint)
                .ok_or_else(|| {
                    to_client(
                        &request,
                        "invalid_request",
                        "The id_token_hint is not valid.",
                    )
                })?;
        request.oidc_context.id_token_hint_claims = Some(claims);
    }
    let remembered = login_to_reuse(state, req, &client, &request, now).await?;
    if request.prompt_none {
        let session = remembered.ok_or_else(|| {
            to_client(
                &request,
                "login_required",
                "Prompt 'none' was requested, but no existing login session was found.",
            )
        })?;
        return super::silent::complete(state, &client, &request, &params, session).await;
    }
    let (browser, new_browser_cookie) = match req.cookie(BROWSER_COOKIE) {
        Some(c) if c.value().len() >= 40 => (c.value().to_string(), false),
        _ => (new_token(""), true),
    };
    let challenge = new_token(flows::CHALLENGE_PREFIX);
    let mut row = new_flow_row(state, &request, &params, &browser, &challenge, now)?;
    row.subject = remembered.as_ref().map(|s| s.subject.clone());
    row.login_session_id = remembered.as_ref().map(|s| s.id);
    row.decisions = Decisions {
        login_skip: remembered.is_some(),
        ..Default::default()
    }
    .to_json();
    state
        .db
        .write(move |c| store::insert(c, &row).map_err(ApiError::from))
        .await?;
    let mut login = state.settings.login_ui.clone();
    login
        .query_pairs_mut()
        .append_pair("login_challenge", &challenge);
    let mut response = found(login.as_str());
    if new_browser_cookie {
        response.cookie(cookie(BROWSER_COOKIE, browser, None, secure(state)));
    }
    Ok(response.finish())
}

async fn client_of_request(
    state: &AppState,
    params: &BTreeMap<String, String>,
) -> Result<OAuth2Client, AuthorizeError> {
    let client_id = params
        .get("client_id")
        .ok_or_else(|| AuthorizeError::ToErrorPage {
            error: "invalid_request",
            description: "The client_id parameter is required.".into(),
        })?;
    load_client(state, client_id)
        .await?
        .ok_or_else(|| AuthorizeError::ToErrorPage {
            error: "invalid_client",
            description: "The client is not known.".into(),
        })
}

/// The issuer as configured, byte for byte.
pub(crate) fn issuer(state: &AppState) -> &str {
    state
        .settings
        .settings
        .urls
        .self_
        .issuer
        .as_deref()
        .unwrap_or(state.settings.issuer.as_str())
}

/// The remembered login this request may reuse: none with `prompt=login`, none older than
/// `max_age`; a remembered user other than the `id_token_hint`'s subject is `login_required`
/// (the hint's `sub` is the one `client` sees, pairwise or public).
async fn login_to_reuse(
    state: &AppState,
    req: &HttpRequest,
    client: &OAuth2Client,
    request: &AuthorizeRequest,
    now: DateTime<Utc>,
) -> Result<Option<LoginSessionRow>, AuthorizeError> {
    if request.force_login {
        return Ok(None);
    }
    let session = remembered_login(state, req, now).await?;
    let Some(session) = session else {
        return Ok(None);
    };
    if !super::prompt::fresh_enough(request, session.authenticated_at.and_utc(), now) {
        if request.prompt_none {
            return Err(to_client(
                request,
                "login_required",
                "The login session is older than max_age allows; the user must log in again.",
            ));
        }
        return Ok(None);
    }
    let hinted = request.oidc_context.id_token_hint_claims.as_ref();
    let seen = crate::subject::seen_by(state, client, &session.subject);
    if hinted.is_some_and(|claims| claims["sub"].as_str() != Some(seen.as_str())) {
        return Err(to_client(
            request,
            "login_required",
            "The subject claim from id_token_hint does not match the subject from the authentication session.",
        ));
    }
    Ok(Some(session))
}

/// A new flow row for `request`, bound to `browser`, in the state `login_unused`.
pub(super) fn new_flow_row(
    state: &AppState,
    request: &AuthorizeRequest,
    params: &BTreeMap<String, String>,
    browser: &str,
    challenge: &str,
    now: DateTime<Utc>,
) -> Result<FlowRow, ApiError> {
    let mut request_url = authorize_endpoint(state);
    request_url.query_pairs_mut().extend_pairs(params.iter());
    let at = now.naive_utc();
    Ok(FlowRow {
        id: Id::new_v7(),
        client_id: request.client_id.clone(),
        request_url: request_url.into(),
        request: Json(serde_json::to_value(request).map_err(anyhow::Error::from)?),
        browser_hash: state.cookie_hasher.hash(Purpose::Browser, browser),
        state: flows::LOGIN_UNUSED.into(),
        login_challenge_hash: state.hasher.hash(Purpose::Challenge, challenge),
        login_verifier_hash: None,
        consent_challenge_hash: None,
        consent_verifier_hash: None,
        subject: None,
        login_session_id: None,
        decisions: Decisions::default().to_json(),
        requested_at: at,
        created_at: at,
        updated_at: at,
    })
}

fn authorize_endpoint(state: &AppState) -> url::Url {
    let base = state.settings.issuer.as_str().trim_end_matches('/');
    url::Url::parse(&format!("{base}/oauth2/auth")).expect("the issuer is a valid URL")
}

/// The login session the browser's signed cookie names, if it is remembered and unexpired.
pub(crate) async fn remembered_login(
    state: &AppState,
    req: &HttpRequest,
    now: DateTime<Utc>,
) -> Result<Option<LoginSessionRow>, ApiError> {
    let Some(cookie) = req.cookie(SESSION_COOKIE) else {
        return Ok(None);
    };
    let Some((sid, signature)) = cookie.value().split_once('.') else {
        return Ok(None);
    };
    if state
        .cookie_hasher
        .verify(Purpose::SessionCookie, sid, signature)
        .is_none()
    {
        return Ok(None);
    }
    let Ok(id) = uuid::Uuid::parse_str(sid) else {
        return Ok(None);
    };
    let at = now.naive_utc();
    state
        .db
        .read(move |c| store::find_login_session(c, Id(id), at).map_err(ApiError::from))
        .await
}
