//! `GET|POST /oauth2/sessions/logout` (Hydra's revokeOidcSession) on the public listener, and
//! `/admin/oauth2/auth/requests/logout[/accept|/reject]` (also without `/admin`, reading
//! `logout_challenge` or the `challenge` alias) on the admin listener, with the challenge table
//! of login and consent: unknown → 404; first accept → 200 with a single-use verifier, first
//! reject → 204; anything after the decision or after `ttl.login_consent_request` → 410.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use service_kit::db::Id;
use shared_types::consent::{OAuth2LogoutRequest, OAuth2RedirectTo};

use super::backchannel::BackChannel;
use super::store::{self, LogoutRow};
use super::{ACCEPTED, REJECTED, UNUSED};
use crate::authorize::response::{AuthorizeError, BROWSER_COOKIE, cookie, found};
use crate::error::ApiError;
use crate::keyed::{Purpose, new_token};
use crate::state::AppState;

pub fn public_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/oauth2/sessions/logout")
            .route(web::get().to(revoke_oidc_session))
            .route(web::post().to(revoke_oidc_session_form)),
    )
    .route(
        "/oauth2/fallbacks/logout/callback",
        web::get().to(logout_fallback),
    );
}

pub fn admin_routes(cfg: &mut web::ServiceConfig) {
    for prefix in ["/admin", ""] {
        cfg.route(
            &format!("{prefix}/oauth2/auth/requests/logout"),
            web::get().to(get_oauth2_logout_request),
        )
        .route(
            &format!("{prefix}/oauth2/auth/requests/logout/accept"),
            web::put().to(accept_oauth2_logout_request),
        )
        .route(
            &format!("{prefix}/oauth2/auth/requests/logout/reject"),
            web::put().to(reject_oauth2_logout_request),
        );
    }
    super::sessions::admin_routes(cfg);
}

async fn revoke_oidc_session(
    state: web::Data<AppState>,
    back: web::Data<BackChannel>,
    req: HttpRequest,
) -> HttpResponse {
    let raw = req.query_string().to_string();
    respond(&state, dispatch(&state, &back, &req, &raw).await)
}

async fn revoke_oidc_session_form(
    state: web::Data<AppState>,
    back: web::Data<BackChannel>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let limit = state.settings.settings.serve.request_limits.form_body_bytes;
    let outcome = match service_kit::http::read_body(payload, limit).await {
        Ok(body) => match std::str::from_utf8(&body) {
            Ok(raw) => dispatch(&state, &back, &req, raw).await,
            Err(_) => Err(page("The form is not UTF-8.")),
        },
        Err(e) => Err(AuthorizeError::Api(e.into())),
    };
    respond(&state, outcome)
}

fn respond(state: &AppState, outcome: Result<HttpResponse, AuthorizeError>) -> HttpResponse {
    outcome.unwrap_or_else(|e| e.render(&state.settings.issuer, &state.settings.error_ui))
}

fn page(description: &str) -> AuthorizeError {
    AuthorizeError::ToErrorPage {
        error: "invalid_request",
        description: description.into(),
    }
}

async fn dispatch(
    state: &AppState,
    back: &BackChannel,
    req: &HttpRequest,
    raw: &str,
) -> Result<HttpResponse, AuthorizeError> {
    let params = crate::authorize::parameters(raw)?;
    if let Some(verifier) = params.get("logout_verifier") {
        return super::sessions::redeem(state, back, req, verifier).await;
    }
    initiate(state, req, &params).await
}

/// What the request names: the session to end and where the browser goes afterwards.
struct Target {
    client_id: Option<String>,
    post_logout: Option<String>,
    session: Option<(Id, String)>,
}

async fn target(
    state: &AppState,
    req: &HttpRequest,
    params: &BTreeMap<String, String>,
) -> Result<Target, AuthorizeError> {
    let now = state.settings.settings.clock.now();
    let requested = params.get("post_logout_redirect_uri");
    let Some(raw_hint) = params.get("id_token_hint") else {
        if requested.is_some() || params.contains_key("state") {
            return Err(page(
                "A post_logout_redirect_uri or state requires an id_token_hint.",
            ));
        }
        let session = crate::authorize::handlers::remembered_login(state, req, now).await?;
        return Ok(Target {
            client_id: None,
            post_logout: None,
            session: session.map(|s| (s.id, s.subject)),
        });
    };
    let issuer = crate::authorize::handlers::issuer(state);
    let hint = super::verify_hint(&state.keys, issuer, raw_hint)
        .ok_or_else(|| page("The id_token_hint is not valid."))?;
    // RP-Initiated Logout §2: a client_id given with a hint must be the hint's audience.
    if params
        .get("client_id")
        .is_some_and(|id| *id != hint.client_id)
    {
        return Err(page("The id_token_hint was not issued to the client_id."));
    }
    let client = match crate::consent::handlers::client_of(state, &hint.client_id).await {
        Ok(client) => client,
        Err(ApiError::NotFound) => return Err(page("The id_token_hint names an unknown client.")),
        Err(e) => return Err(e.into()),
    };
    let post_logout = match requested {
        Some(uri) => Some(
            super::post_logout_target(
                client
                    .post_logout_redirect_uris
                    .as_deref()
                    .unwrap_or_default(),
                uri,
                params.get("state").map(String::as_str),
            )
            .ok_or_else(|| {
                page("The post_logout_redirect_uri is not registered for the client.")
            })?,
        ),
        None => None,
    };
    let (sid, at) = (Id(hint.sid), now.naive_utc());
    let session = state
        .db
        .read(move |c| store::find_login_session(c, sid, at).map_err(ApiError::from))
        .await?
        // The hint's `sub` is the one the client saw (pairwise or public).
        .filter(|(_, subject)| crate::subject::seen_by(state, &client, subject) == hint.subject);
    Ok(Target {
        client_id: Some(hint.client_id),
        post_logout,
        session,
    })
}

/// RP- or user-initiated logout: a logout challenge for the UI, bound to this browser.
async fn initiate(
    state: &AppState,
    req: &HttpRequest,
    params: &BTreeMap<String, String>,
) -> Result<HttpResponse, AuthorizeError> {
    let target = target(state, req, params).await?;
    let Some((sid, subject)) = target.session else {
        // Nothing to end: straight on to where the logout would have ended.
        let next = target
            .post_logout
            .unwrap_or_else(|| state.settings.post_logout_redirect.to_string());
        return Ok(found(&next).finish());
    };
    let (browser, new_browser_cookie) = match req.cookie(BROWSER_COOKIE) {
        Some(c) if c.value().len() >= 40 => (c.value().to_string(), false),
        _ => (new_token(""), true),
    };
    let challenge = new_token(crate::flow::CHALLENGE_PREFIX);
    let mut request_url = url::Url::parse(&format!(
        "{}/oauth2/sessions/logout",
        state.settings.issuer.as_str().trim_end_matches('/')
    ))
    .map_err(|e| ApiError::Internal(e.into()))?;
    request_url.query_pairs_mut().extend_pairs(params.iter());
    let now = state.settings.settings.clock.now().naive_utc();
    let row = LogoutRow {
        id: Id::new_v7(),
        challenge_hash: state.hasher.hash(Purpose::Challenge, &challenge),
        verifier_hash: None,
        browser_hash: state.cookie_hasher.hash(Purpose::Browser, &browser),
        state: UNUSED.into(),
        subject,
        sid,
        rp_initiated: target.client_id.is_some(),
        client_id: target.client_id,
        request_url: request_url.into(),
        post_logout_redirect: target.post_logout,
        requested_at: now,
        updated_at: now,
    };
    state
        .db
        .write(move |c| store::insert(c, &row).map_err(ApiError::from))
        .await?;
    let mut ui = state.settings.logout_ui.clone();
    ui.query_pairs_mut()
        .append_pair("logout_challenge", &challenge);
    let mut response = found(ui.as_str());
    if new_browser_cookie {
        response.cookie(cookie(
            BROWSER_COOKIE,
            browser,
            None,
            !state.settings.settings.dev,
        ));
    }
    Ok(response.finish())
}

/// `urls.post_logout_redirect`'s default: a plain "signed out" page.
async fn logout_fallback() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .insert_header(("content-security-policy", "default-src 'none'; frame-ancestors 'none'"))
        .content_type("text/html; charset=utf-8")
        .body("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Signed out</title></head><body><h1>You have signed out.</h1></body></html>")
}

#[derive(Deserialize)]
struct ChallengeQuery {
    logout_challenge: Option<String>,
    challenge: Option<String>,
}

/// The open logout request behind a challenge, or the answer the challenge table gives.
async fn open(state: &AppState, query: &ChallengeQuery) -> Result<(String, LogoutRow), ApiError> {
    let challenge = query
        .logout_challenge
        .as_ref()
        .or(query.challenge.as_ref())
        .filter(|c| !c.is_empty())
        .cloned()
        .ok_or_else(|| {
            ApiError::InvalidRequest(
                "Query parameter 'challenge' is not defined but should have been.".into(),
            )
        })?;
    let hashes = state.hasher.candidates(Purpose::Challenge, &challenge);
    let row = state
        .db
        .read(move |c| store::find_by_challenge(c, &hashes).map_err(ApiError::from))
        .await?
        .ok_or(ApiError::NotFound)?;
    let ttl = state.settings.settings.ttl.login_consent_request;
    let expired = row.requested_at.and_utc() + ttl <= state.settings.settings.clock.now();
    if expired || row.state != UNUSED {
        return Err(ApiError::Gone {
            redirect_to: row.request_url,
        });
    }
    Ok((challenge, row))
}

#[tracing::instrument(skip_all)]
async fn get_oauth2_logout_request(
    state: web::Data<AppState>,
    query: web::Query<ChallengeQuery>,
) -> Result<HttpResponse, ApiError> {
    let (challenge, row) = open(&state, &query).await?;
    let client = match &row.client_id {
        Some(id) => Some(crate::consent::handlers::client_of(&state, id).await?),
        None => None,
    };
    let requested_at = row.requested_at.and_utc();
    let body = OAuth2LogoutRequest {
        challenge,
        subject: row.subject,
        sid: row.sid.0.to_string(),
        request_url: row.request_url,
        rp_initiated: row.rp_initiated,
        client,
        expires_at: Some(requested_at + state.settings.settings.ttl.login_consent_request),
        requested_at: Some(requested_at),
    };
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(body))
}

/// Moves an open request to `to`; a lost race is the table's 410.
async fn decide(
    state: &AppState,
    row: LogoutRow,
    to: &'static str,
    verifier_hash: Option<String>,
) -> Result<(), ApiError> {
    let (id, now) = (row.id, state.settings.settings.clock.now().naive_utc());
    let moved = state
        .db
        .write(move |c| {
            store::transition(c, id, UNUSED, to, verifier_hash, now).map_err(ApiError::from)
        })
        .await?;
    if moved {
        Ok(())
    } else {
        Err(ApiError::Gone {
            redirect_to: row.request_url,
        })
    }
}

#[tracing::instrument(skip_all)]
async fn accept_oauth2_logout_request(
    state: web::Data<AppState>,
    query: web::Query<ChallengeQuery>,
) -> Result<HttpResponse, ApiError> {
    let (_, row) = open(&state, &query).await?;
    let verifier = new_token(crate::flow::VERIFIER_PREFIX);
    let hash = state.hasher.hash(Purpose::Verifier, &verifier);
    decide(&state, row, ACCEPTED, Some(hash)).await?;
    let mut redirect = url::Url::parse(&format!(
        "{}/oauth2/sessions/logout",
        state.settings.issuer.as_str().trim_end_matches('/')
    ))
    .map_err(|e| ApiError::Internal(e.into()))?;
    redirect
        .query_pairs_mut()
        .append_pair("logout_verifier", &verifier);
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(OAuth2RedirectTo {
            redirect_to: redirect.into(),
        }))
}

#[tracing::instrument(skip_all)]
async fn reject_oauth2_logout_request(
    state: web::Data<AppState>,
    query: web::Query<ChallengeQuery>,
) -> Result<HttpResponse, ApiError> {
    let (_, row) = open(&state, &query).await?;
    decide(&state, row, REJECTED, None).await?;
    Ok(HttpResponse::NoContent().finish())
}
