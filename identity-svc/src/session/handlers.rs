//! `/sessions/whoami` (Kratos' toSession) and browser logout (createBrowserLogoutFlow,
//! updateLogoutFlow).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use shared_types::flow::LogoutFlow;

use super::{LOGOUT_TOKEN_PREFIX, current, new_token, store, to_wire};
use crate::error::ApiError;
use crate::flow::wants_json;
use crate::state::AppState;

pub fn public_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/sessions/whoami", web::get().to(to_session))
        .route(
            "/self-service/logout/browser",
            web::get().to(create_browser_logout_flow),
        )
        .route("/self-service/logout", web::get().to(update_logout_flow));
}

#[tracing::instrument(skip_all)]
async fn to_session(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (mut session, identity) = current(&state, &req)
        .await?
        .ok_or(ApiError::SessionInactive)?;
    crate::mfa::aal::check_whoami(&state, &session).await?;
    let mut ok = HttpResponse::Ok();
    // Sliding expiry: a browser's cookie follows the session's new expiry.
    if super::manage::slide(&state, &mut session).await?
        && state.sessions.cookies.in_request(&req)
        && let Some(token) = state.sessions.cookies.token_from(&req)
    {
        let now = state.settings.settings.clock.now();
        ok.cookie(
            state
                .sessions
                .cookies
                .issue(&token, session.expires_at.and_utc(), now),
        );
    }
    Ok(ok
        .insert_header((
            "x-kratos-authenticated-identity-id",
            identity.id.to_string(),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(to_wire(&session, identity)))
}

#[derive(Deserialize)]
struct LogoutBrowserQuery {
    return_to: Option<String>,
}

/// Makes a logout URL for the browser's session; only the session's holder can learn it, which
/// is what protects logout against CSRF.
#[tracing::instrument(skip_all)]
async fn create_browser_logout_flow(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<LogoutBrowserQuery>,
) -> Result<HttpResponse, ApiError> {
    let return_to = state
        .settings
        .flows
        .return_to
        .check(query.return_to.as_deref())?;
    let (session, _) = current(&state, &req)
        .await?
        .ok_or(ApiError::SessionInactive)?;
    let token = new_token(LOGOUT_TOKEN_PREFIX);
    let hash = state.sessions.hasher.hash(&token);
    let now = state.settings.settings.clock.now().naive_utc();
    state
        .db
        .write(move |c| store::set_logout_token(c, session.id, &hash, now).map_err(ApiError::from))
        .await?;
    let mut url = state
        .settings
        .public_url
        .join("self-service/logout")
        .map_err(anyhow::Error::from)?;
    url.query_pairs_mut().append_pair("token", &token);
    if let Some(return_to) = return_to {
        url.query_pairs_mut()
            .append_pair("return_to", return_to.as_str());
    }
    let flow = LogoutFlow {
        logout_url: url.to_string(),
        logout_token: token,
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(flow))
}

#[derive(Deserialize)]
struct LogoutQuery {
    token: Option<String>,
    return_to: Option<String>,
}

#[tracing::instrument(skip_all)]
async fn update_logout_flow(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<LogoutQuery>,
) -> Result<HttpResponse, ApiError> {
    let return_to = state
        .settings
        .flows
        .return_to
        .check(query.return_to.as_deref())?;
    let token = query
        .token
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::LogoutTokenInvalid("No logout token was given."))?;
    let hashes = state.sessions.hasher.candidates(token);
    let now = state.settings.settings.clock.now().naive_utc();
    let session = state
        .db
        .read(move |c| store::find_by_logout_token(c, &hashes, now).map_err(ApiError::from))
        .await?
        .ok_or(ApiError::LogoutTokenInvalid(
            "The logout token is unknown, expired, or was already used.",
        ))?;
    // A browser signed in with another session must not end this one (IF-17).
    if let Some(own) = state.sessions.cookies.token_from(&req)
        && !state
            .sessions
            .hasher
            .candidates(&own)
            .contains(&session.token_hash)
    {
        return Err(ApiError::LogoutTokenInvalid(
            "The logout token belongs to another session.",
        ));
    }
    let ended = state
        .db
        .write(move |c| store::deactivate(c, session.id, now).map_err(ApiError::from))
        .await?;
    if !ended {
        return Err(ApiError::LogoutTokenInvalid(
            "The logout token is unknown, expired, or was already used.",
        ));
    }
    tracing::info!(session_id = %session.id.0, "session ended by logout");
    let clear = state.sessions.cookies.clear();
    if wants_json(&req) {
        return Ok(HttpResponse::NoContent().cookie(clear).finish());
    }
    let target = return_to.unwrap_or_else(|| state.settings.flows.return_to.default.clone());
    Ok(HttpResponse::SeeOther()
        .cookie(clear)
        .insert_header((header::LOCATION, target.to_string()))
        .finish())
}
