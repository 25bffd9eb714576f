//! `/login`: with `login_challenge`, finds or creates the browser's identity-svc session and
//! accepts the challenge with its identity id; with `flow`, renders identity-svc's login form.
//!
//! The accepted subject is only ever the identity id `whoami` returned for the browser's own
//! cookies, or the subject oauth2-svc remembered (`skip`): nothing from the request.
//!
//! `prompt=login` and `max_age` (OIDC Core §3.1.2.1) are honoured here too: identity-svc's
//! session is reused only when it is recent enough, otherwise the browser signs in again
//! (`refresh=true`) and comes back with a signed stamp of when that was asked for.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use service_kit::http::RequestId;
use shared_types::consent::{AcceptOAuth2LoginRequest, OAuth2LoginRequest};

use super::{cookies, csrf, problem, see_other, unavailable};
use crate::api::{Answer, Kind};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct LoginQuery {
    login_challenge: Option<String>,
    flow: Option<String>,
    /// `<unix seconds>.<mac>`: when login-ui sent this browser to sign in again.
    reauth: Option<String>,
    /// Starting a login without a challenge: passed on to identity-svc.
    return_to: Option<String>,
    aal: Option<String>,
    refresh: Option<String>,
}

pub async fn get_login(
    state: web::Data<AppState>,
    req: HttpRequest,
    rid: RequestId,
    query: web::Query<LoginQuery>,
) -> HttpResponse {
    match (&query.login_challenge, &query.flow) {
        (Some(challenge), _) => {
            let reauth = query.reauth.as_deref();
            answer_challenge(&state, &req, &rid, challenge, reauth).await
        }
        (None, flow) => {
            let query = crate::flows::FlowQuery {
                flow: flow.clone(),
                return_to: query.return_to.clone(),
                aal: query.aal.clone(),
                refresh: query.refresh.clone(),
            };
            crate::flows::page(&state, &req, &rid, crate::flows::FlowKind::Login, &query).await
        }
    }
}

async fn answer_challenge(
    state: &AppState,
    req: &HttpRequest,
    rid: &RequestId,
    challenge: &str,
    reauth: Option<&str>,
) -> HttpResponse {
    let request: OAuth2LoginRequest = match state
        .upstreams
        .get_request(Kind::Login, challenge, rid)
        .await
    {
        Ok(Answer::Ok(request)) => request,
        // Used or expired: restart the authorization, which makes a fresh challenge.
        Ok(Answer::Gone(restart)) => return super::to_oauth2(state, req, &restart, None),
        Ok(_) => return invalid_link(state),
        Err(e) => return unavailable(state, e),
    };
    let (subject, amr) = if request.skip {
        (request.subject.clone(), Vec::new())
    } else {
        match state.upstreams.whoami(cookies(req), rid).await {
            Ok(Answer::Ok(session))
                if !fresh_enough(state, &request, &session, challenge, reauth) =>
            {
                return see_other(reauthenticate(state, challenge).as_str());
            }
            Ok(Answer::Ok(session)) => {
                let amr = session
                    .authentication_methods
                    .iter()
                    .map(|m| amr_value(&m.method))
                    .collect();
                (session.identity.id.to_string(), amr)
            }
            Ok(_) => {
                // No session: sign in at identity-svc, which sends the browser back here.
                let mut back = state
                    .settings
                    .public_url
                    .join("login")
                    .expect("a fixed relative path joins");
                back.query_pairs_mut()
                    .append_pair("login_challenge", challenge);
                return see_other(state.upstreams.browser_login(Some(back.as_str())).as_str());
            }
            Err(e) => return unavailable(state, e),
        }
    };
    let body = AcceptOAuth2LoginRequest {
        subject,
        remember: true,
        amr,
        ..Default::default()
    };
    match state
        .upstreams
        .decide(Kind::Login, "accept", challenge, &body, rid)
        .await
    {
        Ok(Answer::Ok(redirect)) => super::to_oauth2(
            state,
            req,
            &redirect.redirect_to,
            Some(&request.request_url),
        ),
        Ok(Answer::Gone(restart)) => {
            super::to_oauth2(state, req, &restart, Some(&request.request_url))
        }
        Ok(_) => invalid_link(state),
        Err(e) => unavailable(state, e),
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Whether identity-svc's session satisfies the request's `prompt=login` / `max_age`: it is
/// young enough, or it began after login-ui asked this browser to sign in again for this
/// challenge (a stamp only login-ui can make).
fn fresh_enough(
    state: &AppState,
    request: &OAuth2LoginRequest,
    session: &shared_types::flow::Session,
    challenge: &str,
    reauth: Option<&str>,
) -> bool {
    let Ok(url) = url::Url::parse(&request.request_url) else {
        return true;
    };
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let prompt_login = param("prompt").is_some_and(|p| {
        p.split_whitespace()
            .any(|v| v == "login" || v == "select_account")
    });
    let max_age = param("max_age").and_then(|v| v.parse::<i64>().ok());
    if !prompt_login && max_age.is_none() {
        return true;
    }
    let authenticated_at = session.authenticated_at.timestamp();
    let stamped = reauth.and_then(|stamp| {
        let (at, mac) = stamp.split_once('.')?;
        let secrets = &state.settings.settings.secrets.cookie;
        csrf::verify_value(secrets, csrf::Purpose::Reauth, at, challenge, mac)
            .then(|| at.parse::<i64>().ok())
            .flatten()
    });
    if stamped.is_some_and(|at| authenticated_at >= at) {
        return true;
    }
    // max_age=0 asks for a sign-in during this request, like prompt=login.
    !prompt_login && max_age.is_some_and(|max| max > 0 && unix_now() - authenticated_at <= max)
}

/// identity-svc's login with `refresh=true`, coming back here with a stamp of now.
fn reauthenticate(state: &AppState, challenge: &str) -> url::Url {
    let at = unix_now().to_string();
    let mac = csrf::token(
        &state.settings.settings.secrets.cookie,
        csrf::Purpose::Reauth,
        &at,
        challenge,
    );
    let mut back = state
        .settings
        .public_url
        .join("login")
        .expect("a fixed relative path joins");
    back.query_pairs_mut()
        .append_pair("login_challenge", challenge)
        .append_pair("reauth", &format!("{at}.{mac}"));
    state.upstreams.browser_refresh_login(back.as_str())
}

/// RFC 8176 names for identity-svc's methods.
fn amr_value(method: &str) -> String {
    match method {
        "password" => "pwd".into(),
        "totp" | "lookup_secret" => "otp".into(),
        "webauthn" | "passkey" => "hwk".into(),
        other => other.into(),
    }
}

fn invalid_link(state: &AppState) -> HttpResponse {
    problem(
        state,
        StatusCode::NOT_FOUND,
        "login.invalid.title",
        "login.invalid.message",
        None,
    )
}
