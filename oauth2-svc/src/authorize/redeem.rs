//! The browser comes back with a verifier: the login verifier leads on to the consent UI, the
//! consent verifier to the code. Each verifier works once, and only in the browser that
//! started the flow.

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::{HttpRequest, HttpResponse};
use service_kit::db::{Id, Json};

use super::handlers::{now, secure};
use super::response::{
    AuthorizeError, BROWSER_COOKIE, SESSION_COOKIE, client_response, cookie, found,
};
use crate::consent::ConsentData;
use crate::consent::store::ConsentSessionRow;
use crate::error::ApiError;
use crate::flow::code::{CODE_PREFIX, CodeRow, Grant};
use crate::flow::store::{self, FlowChanges, FlowRow, LoginSessionRow, Lookup};
use crate::flow::{self as flows, AuthorizeRequest, Decision, Decisions};
use crate::keyed::{Purpose, new_token};
use crate::state::AppState;
use shared_types::consent::AcceptOAuth2ConsentRequest;

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

pub(super) fn to_client(
    request: &AuthorizeRequest,
    error: &'static str,
    description: impl Into<String>,
) -> AuthorizeError {
    AuthorizeError::ToClient {
        redirect_uri: request.redirect_uri.clone(),
        state: request.state.clone(),
        mode: request.response_mode,
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
    Ok(client_response(
        request.response_mode,
        &request.redirect_uri,
        &params,
        &state.settings.issuer,
    )?)
}

pub(crate) async fn redeem_login(
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

pub(super) async fn redeem_consent(
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
    let subject = row.subject.clone().unwrap_or_default();
    let (code, code_row) = new_code(state, row.id, &request, &subject, &grant, now)?;
    let data = ConsentData {
        session: accepted.session.clone(),
        context: login.context.clone(),
        acr: login.acr.clone(),
        amr: login.amr.clone(),
        requested_scope: request.scope.clone(),
        requested_audience: request.audience.clone(),
        request_url: row.request_url.clone(),
    };
    let consent = consent_row(row.id, &subject, &request, &grant, &data, &accepted, now)?;
    let changes = FlowChanges {
        state: Some(flows::DONE.into()),
        updated_at: Some(now.naive_utc()),
        ..Default::default()
    };
    let id = row.id;
    let issued = state
        .db
        .write(move |c| {
            store::transition_with_code(c, id, flows::CONSENT_DECIDED, changes, &code_row, &consent)
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
    code_response(state, &request, &code)
}

/// The code (and state) to the client in the request's response mode.
pub(super) fn code_response(
    state: &AppState,
    request: &AuthorizeRequest,
    code: &str,
) -> Result<HttpResponse, AuthorizeError> {
    let mut params = vec![("code", code)];
    if let Some(s) = request.state.as_deref() {
        params.push(("state", s));
    }
    Ok(client_response(
        request.response_mode,
        &request.redirect_uri,
        &params,
        &state.settings.issuer,
    )?)
}

/// The consent's `session.*` claims as a JSON object (anything else counts as none).
pub(super) fn object(v: Option<serde_json::Value>) -> serde_json::Map<String, serde_json::Value> {
    match v {
        Some(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}

/// A new code for `grant` and its row (only the keyed hash is stored).
pub(super) fn new_code(
    state: &AppState,
    flow_id: Id,
    request: &AuthorizeRequest,
    subject: &str,
    grant: &Grant,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(String, CodeRow), ApiError> {
    let code = new_token(CODE_PREFIX);
    let row = CodeRow {
        id: Id::new_v7(),
        code_hash: state.hasher.hash(Purpose::AuthorizationCode, &code),
        flow_id,
        client_id: request.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        subject: subject.to_string(),
        grant_data: Json(serde_json::to_value(grant).map_err(anyhow::Error::from)?),
        used: false,
        expires_at: (now + state.settings.settings.ttl.auth_code).naive_utc(),
        created_at: now.naive_utc(),
    };
    Ok((code, row))
}

/// The consent session a granted flow leaves behind (remembered or not).
pub(super) fn consent_row(
    flow_id: Id,
    subject: &str,
    request: &AuthorizeRequest,
    grant: &Grant,
    data: &ConsentData,
    accepted: &AcceptOAuth2ConsentRequest,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<ConsentSessionRow, ApiError> {
    let json = |v: &[String]| Json(serde_json::Value::from(v.to_vec()));
    Ok(ConsentSessionRow {
        id: flow_id,
        subject: subject.to_string(),
        client_id: request.client_id.clone(),
        login_session_id: Some(Id(grant.login_session_id)),
        grant_scope: json(&grant.scope),
        grant_audience: json(&grant.audience),
        remember: accepted.remember,
        remember_for: accepted.remember_for,
        expires_at: crate::consent::expiry(accepted.remember, accepted.remember_for, now),
        data: Json(serde_json::to_value(data).map_err(anyhow::Error::from)?),
        handled_at: now.naive_utc(),
        created_at: now.naive_utc(),
    })
}
