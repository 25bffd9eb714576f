//! `GET|POST /oauth2/auth`: starts a flow (302 to the login UI), and takes the browser back
//! through the login and consent verifiers to the code.

use std::collections::BTreeMap;

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use service_kit::db::{Id, Json};
use shared_types::client::OAuth2Client;

use super::response::{
    AuthorizeError, BROWSER_COOKIE, SESSION_COOKIE, client_redirect, cookie, found,
};
use super::{parameters, validate};
use crate::error::ApiError;
use crate::flow::code::{CODE_PREFIX, CodeRow, Grant};
use crate::flow::store::{self, FlowChanges, FlowRow, LoginSessionRow, Lookup};
use crate::flow::{self as flows, AuthorizeRequest, Decision, Decisions};
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
        return redeem_login(state, req, verifier).await;
    }
    if let Some(verifier) = params.get("consent_verifier") {
        return redeem_consent(state, req, verifier, params.get("client_id")).await;
    }
    start(state, req, params).await
}

fn now(state: &AppState) -> DateTime<Utc> {
    state.settings.settings.clock.now()
}

fn secure(state: &AppState) -> bool {
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

/// A new authorization request: validate, bind to this browser, hand over to the login UI.
async fn start(
    state: &AppState,
    req: &HttpRequest,
    params: BTreeMap<String, String>,
) -> Result<HttpResponse, AuthorizeError> {
    let client_id = params
        .get("client_id")
        .ok_or_else(|| AuthorizeError::ToErrorPage {
            error: "invalid_request",
            description: "The client_id parameter is required.".into(),
        })?;
    let client =
        load_client(state, client_id)
            .await?
            .ok_or_else(|| AuthorizeError::ToErrorPage {
                error: "invalid_client",
                description: "The client is not known.".into(),
            })?;
    let request = validate(
        &params,
        &client,
        state.settings.settings.oauth2.pkce.enforced,
    )?;
    let now = now(state);
    let remembered = if request.force_login {
        None
    } else {
        remembered_login(state, req, now).await?
    };
    let (browser, new_browser_cookie) = match req.cookie(BROWSER_COOKIE) {
        Some(c) if c.value().len() >= 40 => (c.value().to_string(), false),
        _ => (new_token(""), true),
    };
    let challenge = new_token(flows::CHALLENGE_PREFIX);
    let mut request_url = authorize_endpoint(state);
    request_url.query_pairs_mut().extend_pairs(params.iter());
    let at = now.naive_utc();
    let row = FlowRow {
        id: Id::new_v7(),
        client_id: request.client_id.clone(),
        request_url: request_url.into(),
        request: Json(
            serde_json::to_value(&request)
                .map_err(anyhow::Error::from)
                .map_err(ApiError::from)?,
        ),
        browser_hash: state.cookie_hasher.hash(Purpose::Browser, &browser),
        state: flows::LOGIN_UNUSED.into(),
        login_challenge_hash: state.hasher.hash(Purpose::Challenge, &challenge),
        login_verifier_hash: None,
        consent_challenge_hash: None,
        consent_verifier_hash: None,
        subject: remembered.as_ref().map(|s| s.subject.clone()),
        login_session_id: remembered.as_ref().map(|s| s.id),
        decisions: Decisions {
            login_skip: remembered.is_some(),
            ..Default::default()
        }
        .to_json(),
        requested_at: at,
        created_at: at,
        updated_at: at,
    };
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

fn authorize_endpoint(state: &AppState) -> url::Url {
    let base = state.settings.issuer.as_str().trim_end_matches('/');
    url::Url::parse(&format!("{base}/oauth2/auth")).expect("the issuer is a valid URL")
}

/// The login session the browser's signed cookie names, if it is remembered and unexpired.
async fn remembered_login(
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

/// The flow a verifier belongs to, presented by the browser the flow was started in.
async fn verified_flow(
    state: &AppState,
    req: &HttpRequest,
    lookup: Lookup,
    verifier: &str,
) -> Result<(FlowRow, AuthorizeRequest, Decisions), AuthorizeError> {
    let hashes = state.hasher.candidates(Purpose::Verifier, verifier);
    let row = state
        .db
        .read(move |c| store::find(c, lookup, &hashes).map_err(ApiError::from))
        .await?
        .ok_or_else(|| AuthorizeError::ToErrorPage {
            error: "invalid_request",
            description: "The verifier is not valid.".into(),
        })?;
    let bound = req.cookie(BROWSER_COOKIE).is_some_and(|c| {
        state
            .cookie_hasher
            .verify(Purpose::Browser, c.value(), &row.browser_hash)
            .is_some()
    });
    if !bound {
        return Err(AuthorizeError::Forbidden(
            "This sign-in was started in another browser, or its cookie is missing.",
        ));
    }
    let request: AuthorizeRequest =
        serde_json::from_value(row.request.0.clone()).map_err(|e| ApiError::Internal(e.into()))?;
    let decisions: Decisions = serde_json::from_value(row.decisions.0.clone())
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok((row, request, decisions))
}

fn to_client(
    request: &AuthorizeRequest,
    error: &'static str,
    description: impl Into<String>,
) -> AuthorizeError {
    AuthorizeError::ToClient {
        redirect_uri: request.redirect_uri.clone(),
        state: request.state.clone(),
        error,
        description: description.into(),
    }
}

/// A rejection redeemed: the flow ends and the client learns why.
async fn fail(
    state: &AppState,
    row: &FlowRow,
    from: &'static str,
    request: &AuthorizeRequest,
    reject: &shared_types::consent::RejectOAuth2Request,
) -> Result<HttpResponse, AuthorizeError> {
    let changes = FlowChanges {
        state: Some(flows::FAILED.into()),
        updated_at: Some(now(state).naive_utc()),
        ..Default::default()
    };
    let id = row.id;
    if !state
        .db
        .write(move |c| store::transition(c, id, from, changes).map_err(ApiError::from))
        .await?
    {
        return Err(to_client(
            request,
            "access_denied",
            "The verifier has already been used.",
        ));
    }
    let (error, description) = flows::rejection_error(reject);
    let mut params = vec![
        ("error", error.as_str()),
        ("error_description", description.as_str()),
    ];
    if let Some(s) = request.state.as_deref() {
        params.push(("state", s));
    }
    Ok(found(&client_redirect(
        &request.redirect_uri,
        &params,
        &state.settings.issuer,
    )?)
    .finish())
}

async fn redeem_login(
    state: &AppState,
    req: &HttpRequest,
    verifier: &str,
) -> Result<HttpResponse, AuthorizeError> {
    let (row, request, mut decisions) =
        verified_flow(state, req, Lookup::LoginVerifier, verifier).await?;
    let accepted = match decisions.login.clone() {
        Some(Decision::Accepted(accepted)) => accepted,
        Some(Decision::Rejected(reject)) => {
            return fail(state, &row, flows::LOGIN_DECIDED, &request, &reject).await;
        }
        None => {
            return Err(
                ApiError::Internal(anyhow::anyhow!("login verifier without a decision")).into(),
            );
        }
    };
    let now = now(state);
    let ttl = state.settings.settings.ttl.authentication_session;
    let keep = decisions.login_skip && row.subject.as_deref() == Some(accepted.subject.as_str());
    let session = match (keep, row.login_session_id) {
        (true, Some(id)) => (id, None),
        _ => {
            let lifetime = if accepted.remember_for > 0 {
                std::time::Duration::from_secs(accepted.remember_for as u64)
            } else {
                ttl
            };
            let id = Id::new_v7();
            let authenticated_at = decisions.authenticated_at.unwrap_or(now).naive_utc();
            let expires_at = (now + lifetime.min(ttl)).naive_utc();
            (
                id,
                Some(LoginSessionRow {
                    id,
                    subject: accepted.subject.clone(),
                    authenticated_at,
                    remember: accepted.remember,
                    expires_at,
                    created_at: now.naive_utc(),
                }),
            )
        }
    };
    let challenge = new_token(flows::CHALLENGE_PREFIX);
    decisions.consent_requested_at = Some(now);
    let changes = FlowChanges {
        state: Some(flows::CONSENT_UNUSED.into()),
        consent_challenge_hash: Some(state.hasher.hash(Purpose::Challenge, &challenge)),
        subject: Some(accepted.subject.clone()),
        login_session_id: Some(session.0),
        decisions: Some(decisions.to_json()),
        updated_at: Some(now.naive_utc()),
        ..Default::default()
    };
    let (id, new_session) = (row.id, session.1.clone());
    let advanced = state
        .db
        .write(move |c| {
            store::advance_login(c, id, changes, new_session.as_ref()).map_err(ApiError::from)
        })
        .await?;
    if !advanced {
        return Err(to_client(
            &request,
            "access_denied",
            "The login verifier has already been used.",
        ));
    }
    let mut consent = state.settings.consent_ui.clone();
    consent
        .query_pairs_mut()
        .append_pair("consent_challenge", &challenge);
    let mut response = found(consent.as_str());
    if let Some(new) = session.1.filter(|s| s.remember) {
        let sid = new.id.0.to_string();
        let value = format!(
            "{sid}.{}",
            state.cookie_hasher.hash(Purpose::SessionCookie, &sid)
        );
        let max_age =
            CookieDuration::seconds((new.expires_at.and_utc() - now).num_seconds().max(0));
        response.cookie(cookie(SESSION_COOKIE, value, Some(max_age), secure(state)));
    }
    Ok(response.finish())
}

async fn redeem_consent(
    state: &AppState,
    req: &HttpRequest,
    verifier: &str,
    client_id: Option<&String>,
) -> Result<HttpResponse, AuthorizeError> {
    let (row, request, decisions) =
        verified_flow(state, req, Lookup::ConsentVerifier, verifier).await?;
    if client_id.is_some_and(|id| *id != row.client_id) {
        return Err(AuthorizeError::ToErrorPage {
            error: "invalid_client",
            description: "The flow's client does not match the client_id of the request.".into(),
        });
    }
    let accepted = match decisions.consent.clone() {
        Some(Decision::Accepted(accepted)) => accepted,
        Some(Decision::Rejected(reject)) => {
            return fail(state, &row, flows::CONSENT_DECIDED, &request, &reject).await;
        }
        None => {
            return Err(
                ApiError::Internal(anyhow::anyhow!("consent verifier without a decision")).into(),
            );
        }
    };
    let login = match &decisions.login {
        Some(Decision::Accepted(login)) => login.clone(),
        _ => {
            return Err(
                ApiError::Internal(anyhow::anyhow!("consent without an accepted login")).into(),
            );
        }
    };
    let now = now(state);
    let code = new_token(CODE_PREFIX);
    let object = |v: Option<serde_json::Value>| match v {
        Some(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let grant = Grant {
        login_session_id: row.login_session_id.map(|id| id.0).unwrap_or_default(),
        auth_time: decisions.authenticated_at.unwrap_or(now),
        nonce: request.nonce.clone(),
        scope: accepted.grant_scope.clone(),
        audience: accepted.grant_access_token_audience.clone(),
        acr: login.acr.clone(),
        amr: login.amr.clone(),
        id_token_claims: object(accepted.session.id_token.clone()),
        access_token_claims: object(accepted.session.access_token.clone()),
    };
    let code_row = CodeRow {
        id: Id::new_v7(),
        code_hash: state.hasher.hash(Purpose::AuthorizationCode, &code),
        flow_id: row.id,
        client_id: row.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        subject: row.subject.clone().unwrap_or_default(),
        grant_data: Json(serde_json::to_value(&grant).map_err(|e| ApiError::Internal(e.into()))?),
        used: false,
        expires_at: (now + state.settings.settings.ttl.auth_code).naive_utc(),
        created_at: now.naive_utc(),
    };
    let changes = FlowChanges {
        state: Some(flows::DONE.into()),
        updated_at: Some(now.naive_utc()),
        ..Default::default()
    };
    let id = row.id;
    let issued = state
        .db
        .write(move |c| {
            store::transition_with_code(c, id, flows::CONSENT_DECIDED, changes, &code_row)
                .map_err(ApiError::from)
        })
        .await?;
    if !issued {
        return Err(to_client(
            &request,
            "access_denied",
            "The consent verifier has already been used.",
        ));
    }
    tracing::info!(client_id = %row.client_id, "issued an authorization code");
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = request.state.as_deref() {
        params.push(("state", s));
    }
    Ok(found(&client_redirect(
        &request.redirect_uri,
        &params,
        &state.settings.issuer,
    )?)
    .finish())
}
