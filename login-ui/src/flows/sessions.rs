//! The settings page's list of the identity's other sessions, each with a revoke button: a form
//! of login-ui's own (identity-svc's `DELETE /sessions/{id}` takes the browser's cookie, not a
//! flow), protected by login-ui's CSRF token bound to this browser and that session id.

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use service_kit::http::RequestId;

use super::fetch::{self, uuid_like::SessionId};
use super::{FlowKind, FlowQuery, cookies, see_other, start_url};
use crate::handoff::csrf::{self, Purpose};
use crate::pages::ErrorPage;
use crate::render;
use crate::state::AppState;

/// One other session as the settings page shows it.
#[derive(Debug, Serialize)]
pub struct SessionView {
    pub id: String,
    /// RFC 3339, for `<time datetime>`.
    pub authenticated_at: String,
    /// The same time as people read it in the page's language ("28 Nov 2026, 21:45 UTC").
    pub authenticated_at_text: String,
    pub expires_at: String,
    pub aal: String,
    pub methods: Vec<String>,
    pub csrf_token: String,
}

#[derive(Deserialize)]
pub struct RevokeForm {
    session_id: String,
    csrf_token: String,
}

/// The identity's other sessions with a token for each revoke form, and the CSRF cookie to set
/// if the browser has none yet. An upstream failure shows no list rather than no page.
pub async fn listed(
    state: &AppState,
    req: &HttpRequest,
    rid: &RequestId,
    lang: &str,
) -> (Vec<SessionView>, Option<Cookie<'static>>) {
    let sessions = match fetch::other_sessions(&state.upstreams, cookies(req), rid).await {
        Ok(Some(sessions)) => sessions,
        Ok(None) => return (Vec::new(), None),
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the identity's sessions");
            return (Vec::new(), None);
        }
    };
    let secure = !state.settings.settings.dev;
    let (cookie, new_cookie) = csrf::cookie_for(req, Purpose::Sessions, secure);
    let secrets = &state.settings.settings.secrets.cookie;
    let views = sessions
        .iter()
        .filter(|s| s["active"] != false)
        .filter_map(|s| {
            let id = SessionId::parse(s["id"].as_str()?)?;
            let methods = s["authentication_methods"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m["method"].as_str().map(str::to_string))
                .collect();
            let at = s["authenticated_at"].as_str().unwrap_or_default();
            let (authenticated_at, authenticated_at_text) = readable(state, lang, at);
            Some(SessionView {
                csrf_token: csrf::token(secrets, Purpose::Sessions, &cookie, id.as_str()),
                id: id.as_str().to_string(),
                authenticated_at,
                authenticated_at_text,
                expires_at: s["expires_at"].as_str().unwrap_or_default().into(),
                aal: s["authenticator_assurance_level"]
                    .as_str()
                    .unwrap_or_default()
                    .into(),
                methods,
            })
        })
        .collect();
    (views, new_cookie)
}

/// An RFC 3339 time as a normalised `datetime` value (UTC) and its text in `lang`; a time that
/// does not parse is shown as sent.
fn readable(state: &AppState, lang: &str, at: &str) -> (String, String) {
    match chrono::DateTime::parse_from_rfc3339(at) {
        Ok(t) => {
            let utc = t.with_timezone(&chrono::Utc);
            let text = state.pages.translations().date_time(lang, &utc);
            (utc.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), text)
        }
        Err(_) => (at.to_string(), at.to_string()),
    }
}

/// `POST /settings/sessions/revoke`: revokes one of the identity's other sessions, then shows
/// a fresh settings page.
pub async fn post_revoke_session(
    state: web::Data<AppState>,
    req: HttpRequest,
    rid: RequestId,
    form: web::Form<RevokeForm>,
) -> HttpResponse {
    let secrets = &state.settings.settings.secrets.cookie;
    let session = SessionId::parse(&form.session_id);
    let valid = session.as_ref().is_some_and(|id| {
        csrf::verify(
            secrets,
            &req,
            Purpose::Sessions,
            id.as_str(),
            &form.csrf_token,
        )
    });
    let Some(session) = session.filter(|_| valid) else {
        let page = ErrorPage::new(
            403,
            "settings.sessions.csrf_title",
            "settings.sessions.csrf_message",
        );
        return render::error_page(&state, &req, StatusCode::FORBIDDEN, &page);
    };
    match fetch::revoke_session(&state.upstreams, session, cookies(&req), &rid).await {
        // Revoked, or already gone: either way the list on a new settings page is current.
        Ok(_) => see_other(start_url(&state, FlowKind::Settings, &FlowQuery::default()).as_str()),
        Err(e) => {
            tracing::error!(error = %e, "an upstream call failed");
            let page = ErrorPage::new(502, "error.unavailable.title", "error.unavailable.message");
            render::error_page(&state, &req, StatusCode::BAD_GATEWAY, &page)
        }
    }
}

/// A sample list for the template check.
pub fn sample() -> Vec<SessionView> {
    vec![SessionView {
        id: "00000000-0000-0000-0000-000000000000".into(),
        authenticated_at: "2026-01-01T00:00:00Z".into(),
        authenticated_at_text: "1 Jan 2026, 00:00 UTC".into(),
        expires_at: "2026-01-02T00:00:00Z".into(),
        aal: "aal1".into(),
        methods: vec!["password".into()],
        csrf_token: "t".into(),
    }]
}
