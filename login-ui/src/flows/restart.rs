//! Starting a flow again without looping. Only an expired flow (410, at identity-svc's
//! `redirect_to`, which keeps the flow's `return_to`) and an unknown one (404, a new flow with
//! the page's own `return_to`) restart by themselves, and only once a minute: each automatic
//! restart leaves a short-lived marker cookie on the flow's path, and a second restart while it
//! lives shows an error page instead. So does a 403 (identity-svc's CSRF cookie did not come back:
//! blocked cookies, a cookie domain that does not match, `Secure` cookies over plain http), where
//! a restart would loop forever and write a flow each time.

use actix_web::cookie::{Cookie, SameSite, time::Duration};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use super::{FlowKind, FlowQuery, see_other, start_url};
use crate::pages::ErrorPage;
use crate::render;
use crate::state::AppState;

/// The marker's name; its value says nothing.
pub const MARKER: &str = "olympus_flow_restarted";
/// How long an automatic restart counts as recent.
const MARKER_SECONDS: i64 = 60;

fn path(kind: FlowKind) -> String {
    format!("/{}", kind.name())
}

fn marker(state: &AppState, kind: FlowKind, max_age: Duration) -> Cookie<'static> {
    Cookie::build(MARKER, "1")
        .path(path(kind))
        .http_only(true)
        .secure(!state.settings.settings.dev)
        .same_site(SameSite::Lax)
        .max_age(max_age)
        .finish()
}

/// Restarts the flow at `to` (identity-svc's, checked) or anew, unless it restarted just now.
pub fn again(
    state: &AppState,
    req: &HttpRequest,
    kind: FlowKind,
    query: &FlowQuery,
    to: Option<&str>,
) -> HttpResponse {
    if req.cookie(MARKER).is_some() {
        tracing::info!(flow = kind.name(), "a flow restarted twice within a minute");
        return cookie_trouble(state, req, kind, query, StatusCode::BAD_REQUEST);
    }
    let target = match to {
        Some(to) => match crate::redirects::from_identity(state, to) {
            Some(url) => url,
            None => return bad_redirect(state, req),
        },
        None => start_url(state, kind, query),
    };
    let mut response = see_other(target.as_str());
    let _ = response.add_cookie(&marker(state, kind, Duration::seconds(MARKER_SECONDS)));
    response
}

/// Follows identity-svc's `redirect_browser_to` (a step-up or re-authentication), if it stays
/// within this Olympus domain.
pub fn follow(state: &AppState, req: &HttpRequest, to: &str) -> HttpResponse {
    match crate::redirects::from_identity(state, to) {
        Some(url) => see_other(url.as_str()),
        None => bad_redirect(state, req),
    }
}

/// identity-svc refused the flow to this browser (403) or answered something else that is no
/// flow: an error page explaining cookies, with a link that starts again by hand.
pub fn refused(
    state: &AppState,
    req: &HttpRequest,
    kind: FlowKind,
    query: &FlowQuery,
    status: StatusCode,
) -> HttpResponse {
    let status = if status.is_client_error() {
        status
    } else {
        StatusCode::BAD_REQUEST
    };
    cookie_trouble(state, req, kind, query, status)
}

/// A flow that showed clears the marker, so that a later expiry restarts by itself again.
pub fn forget(req: &HttpRequest, kind: FlowKind, response: &mut HttpResponse) {
    if req.cookie(MARKER).is_some() {
        let mut gone = Cookie::build(MARKER, "").path(path(kind)).finish();
        gone.make_removal();
        let _ = response.add_cookie(&gone);
    }
}

fn cookie_trouble(
    state: &AppState,
    req: &HttpRequest,
    kind: FlowKind,
    query: &FlowQuery,
    status: StatusCode,
) -> HttpResponse {
    let restart = start_url(state, kind, query);
    let page = ErrorPage {
        restart_url: Some(restart.as_str()),
        ..ErrorPage::new(
            status.as_u16(),
            "error.cookies.title",
            "error.cookies.message",
        )
    };
    render::error_page(state, req, status, &page)
}

fn bad_redirect(state: &AppState, req: &HttpRequest) -> HttpResponse {
    tracing::warn!("an upstream answered with a redirect outside this Olympus domain");
    let page = ErrorPage::new(502, "error.redirect.title", "error.redirect.message");
    render::error_page(state, req, StatusCode::BAD_GATEWAY, &page)
}
