//! `/logout`: answers oauth2-svc's logout challenge. GET asks "Sign out of <client>?" with a
//! form carrying login-ui's own CSRF token (bound to this browser and challenge); POST accepts
//! (the browser goes on to oauth2-svc, which ends the session) or rejects (the user stays
//! signed in).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use service_kit::http::RequestId;
use shared_types::consent::OAuth2LogoutRequest;
use tera::Context;

use super::{csrf, problem_for, see_other, unavailable_for};
use crate::api::{Answer, Kind};
use crate::render;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct LogoutQuery {
    logout_challenge: Option<String>,
}

#[derive(Deserialize)]
pub struct LogoutForm {
    logout_challenge: String,
    csrf_token: String,
    decision: String,
}

fn invalid(state: &AppState, req: &HttpRequest) -> HttpResponse {
    problem_for(
        state,
        req,
        StatusCode::NOT_FOUND,
        "logout.invalid.title",
        "logout.invalid.message",
        None,
    )
}

async fn load(
    state: &AppState,
    req: &HttpRequest,
    rid: &RequestId,
    challenge: &str,
) -> Result<OAuth2LogoutRequest, HttpResponse> {
    match state
        .upstreams
        .get_request(Kind::Logout, challenge, rid)
        .await
    {
        Ok(Answer::Ok(request)) => Ok(request),
        Ok(Answer::Gone(restart)) => Err(super::to_oauth2(state, req, &restart, None)),
        Ok(_) => Err(invalid(state, req)),
        Err(e) => Err(unavailable_for(state, req, e)),
    }
}

pub async fn get_logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    rid: RequestId,
    query: web::Query<LogoutQuery>,
) -> HttpResponse {
    let Some(challenge) = query.logout_challenge.as_deref().filter(|c| !c.is_empty()) else {
        return problem_for(
            &state,
            &req,
            StatusCode::BAD_REQUEST,
            "logout.none.title",
            "logout.none.message",
            None,
        );
    };
    let request = match load(&state, &req, &rid, challenge).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let secure = !state.settings.settings.dev;
    let (cookie, new_cookie) = csrf::cookie_for(&req, csrf::Purpose::Logout, secure);
    let client_name = request
        .client
        .map(|c| {
            if c.client_name.is_empty() {
                c.client_id.unwrap_or_default()
            } else {
                c.client_name
            }
        })
        .unwrap_or_default();
    let mut context = Context::new();
    context.insert("client_name", &client_name);
    context.insert("challenge", challenge);
    context.insert("stayed", &false);
    context.insert(
        "csrf_token",
        &csrf::token(
            &state.settings.settings.secrets.cookie,
            csrf::Purpose::Logout,
            &cookie,
            challenge,
        ),
    );
    let mut response = render::page(&state, &req, "logout.html", context);
    if let Some(cookie) = new_cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

/// Signing out of the apps also signs out of identity-svc: the browser passes through its
/// logout URL, which returns it to oauth2-svc's logout verifier. Without an identity-svc session,
/// or if identity-svc refuses, the browser goes to the verifier directly (oauth2-svc's logout
/// still happens) and the cause is logged.
async fn end_identity_session(
    state: &AppState,
    req: &HttpRequest,
    rid: &RequestId,
    next: &str,
) -> HttpResponse {
    match state
        .upstreams
        .browser_logout(super::cookies(req), next, rid)
        .await
    {
        Ok(Answer::Ok(flow)) => match crate::redirects::from_identity(state, &flow.logout_url) {
            Some(url) => see_other(url.as_str()),
            None => super::bad_redirect(state, req),
        },
        Ok(_) => see_other(next),
        Err(e) => {
            tracing::warn!(error = %e, "identity-svc did not give a logout URL; its session stays");
            see_other(next)
        }
    }
}

pub async fn post_logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    rid: RequestId,
    form: web::Form<LogoutForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let secrets = &state.settings.settings.secrets.cookie;
    let challenge = form.logout_challenge.as_str();
    if !csrf::verify(
        secrets,
        &req,
        csrf::Purpose::Logout,
        challenge,
        &form.csrf_token,
    ) {
        return problem_for(
            &state,
            &req,
            StatusCode::FORBIDDEN,
            "logout.forbidden.title",
            "logout.forbidden.message",
            None,
        );
    }
    if form.decision == "accept" {
        let body = serde_json::json!({});
        return match state
            .upstreams
            .decide(Kind::Logout, "accept", challenge, &body, &rid)
            .await
        {
            Ok(Answer::Ok(redirect)) => {
                match crate::redirects::from_oauth2(&state, &redirect.redirect_to, None) {
                    Some(next) => end_identity_session(&state, &req, &rid, next.as_str()).await,
                    None => super::bad_redirect(&state, &req),
                }
            }
            Ok(Answer::Gone(restart)) => super::to_oauth2(&state, &req, &restart, None),
            Ok(_) => invalid(&state, &req),
            Err(e) => unavailable_for(&state, &req, e),
        };
    }
    match state.upstreams.reject_logout(challenge, &rid).await {
        Ok(Answer::Ok(())) => {
            let mut context = Context::new();
            context.insert("stayed", &true);
            render::page(&state, &req, "logout.html", context)
        }
        Ok(Answer::Gone(restart)) => super::to_oauth2(&state, &req, &restart, None),
        Ok(_) => invalid(&state, &req),
        Err(e) => unavailable_for(&state, &req, e),
    }
}
