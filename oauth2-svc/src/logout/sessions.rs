//! Ending login sessions: redeeming a logout verifier (front- and back-channel logout, then the
//! post-logout redirect) and `DELETE /admin/oauth2/auth/sessions/login` (Hydra's
//! revokeOAuth2LoginSessions: by `subject` without notifications, by `sid` with back-channel
//! logout).

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use service_kit::db::Id;
use shared_types::client::OAuth2Client;

use super::backchannel::BackChannel;
use super::store;
use crate::authorize::response::{AuthorizeError, BROWSER_COOKIE, SESSION_COOKIE, cookie, found};
use crate::error::ApiError;
use crate::keyed::Purpose;
use crate::state::AppState;

pub fn admin_routes(cfg: &mut web::ServiceConfig) {
    for prefix in ["/admin", ""] {
        cfg.route(
            &format!("{prefix}/oauth2/auth/sessions/login"),
            web::delete().to(revoke_oauth2_login_sessions),
        );
    }
}

/// The clients the user granted consent to in login session `sid`.
async fn clients_of(state: &AppState, sid: Id) -> Result<Vec<OAuth2Client>, ApiError> {
    let ids = state
        .db
        .read(move |c| {
            crate::consent::store::clients_of_login_session(c, sid).map_err(ApiError::from)
        })
        .await?;
    let mut clients = Vec::with_capacity(ids.len());
    for id in ids {
        match crate::consent::handlers::client_of(state, &id).await {
            Ok(client) => clients.push(client),
            Err(ApiError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(clients)
}

/// Sends logout tokens to every client of the session that has a `backchannel_logout_uri`.
fn notify(state: &AppState, back: &BackChannel, subject: &str, sid: Id, clients: &[OAuth2Client]) {
    let receivers: Vec<(String, String)> = clients
        .iter()
        .filter_map(|c| Some((c.client_id.clone()?, c.backchannel_logout_uri.clone()?)))
        .filter(|(_, uri)| !uri.is_empty())
        .collect();
    if receivers.is_empty() {
        return;
    }
    let issuer = crate::authorize::handlers::issuer(state);
    let now = state.settings.settings.clock.now();
    back.notify(&state.keys, issuer, subject, sid.0, receivers, now);
}

/// The browser returns with the logout verifier: the session ends, the clients hear of it, and
/// the browser goes on to the post-logout URI.
pub async fn redeem(
    state: &AppState,
    back: &BackChannel,
    req: &HttpRequest,
    verifier: &str,
) -> Result<HttpResponse, AuthorizeError> {
    let invalid = |d: &str| AuthorizeError::ToErrorPage {
        error: "invalid_request",
        description: d.into(),
    };
    let hashes = state.hasher.candidates(Purpose::Verifier, verifier);
    let row = state
        .db
        .read(move |c| store::find_by_verifier(c, &hashes).map_err(ApiError::from))
        .await?
        .ok_or_else(|| invalid("The logout verifier is not valid."))?;
    let bound = req.cookie(BROWSER_COOKIE).is_some_and(|c| {
        state
            .cookie_hasher
            .verify(Purpose::Browser, c.value(), &row.browser_hash)
            .is_some()
    });
    if !bound {
        return Err(AuthorizeError::Forbidden(
            "This sign-out was started in another browser, or its cookie is missing.",
        ));
    }
    let now = state.settings.settings.clock.now();
    let (done_row, at) = (row.clone(), now.naive_utc());
    if !state
        .db
        .write(move |c| store::complete(c, &done_row, at).map_err(ApiError::from))
        .await?
    {
        return Err(invalid("The logout verifier has already been used."));
    }
    tracing::info!(sid = %row.sid.0, "ended a login session (logout)");
    let clients = clients_of(state, row.sid).await?;
    notify(state, back, &row.subject, row.sid, &clients);
    let next = row
        .post_logout_redirect
        .clone()
        .unwrap_or_else(|| state.settings.post_logout_redirect.to_string());
    let issuer = crate::authorize::handlers::issuer(state);
    let sid = row.sid.0.to_string();
    let iframes: Vec<url::Url> = clients
        .iter()
        .filter_map(|c| c.frontchannel_logout_uri.as_deref())
        .filter_map(|uri| super::frontchannel::iframe_url(uri, issuer, &sid))
        .collect();
    let mut response = if iframes.is_empty() {
        found(&next).finish()
    } else {
        super::frontchannel::page(&iframes, &next)
    };
    let ours = req
        .cookie(SESSION_COOKIE)
        .is_some_and(|c| c.value().split_once('.').map(|(s, _)| s) == Some(sid.as_str()));
    if ours {
        let secure = !state.settings.settings.dev;
        let cleared = cookie(
            SESSION_COOKIE,
            String::new(),
            Some(CookieDuration::ZERO),
            secure,
        );
        response
            .add_cookie(&cleared)
            .map_err(|e| ApiError::Internal(e.into()))?;
    }
    Ok(response)
}

#[derive(Deserialize)]
struct RevokeQuery {
    subject: Option<String>,
    sid: Option<String>,
}

#[tracing::instrument(skip_all)]
async fn revoke_oauth2_login_sessions(
    state: web::Data<AppState>,
    back: web::Data<BackChannel>,
    query: web::Query<RevokeQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let nonempty = |v: Option<String>| v.filter(|s| !s.is_empty());
    match (nonempty(query.subject), nonempty(query.sid)) {
        (Some(subject), None) => {
            let gone = state
                .db
                .write(move |c| {
                    store::delete_login_sessions_of(c, &subject).map_err(ApiError::from)
                })
                .await?;
            tracing::info!(gone, "revoked the login sessions of a subject");
        }
        (None, Some(sid)) => {
            let sid = uuid::Uuid::parse_str(&sid)
                .map(Id)
                .map_err(|_| ApiError::InvalidRequest("sid is not valid".into()))?;
            let at = state.settings.settings.clock.now().naive_utc();
            let session = state
                .db
                .read(move |c| store::find_login_session(c, sid, at).map_err(ApiError::from))
                .await?;
            state
                .db
                .write(move |c| store::delete_login_session(c, sid).map_err(ApiError::from))
                .await?;
            if let Some((_, subject)) = session {
                let clients = clients_of(&state, sid).await?;
                notify(&state, &back, &subject, sid, &clients);
            }
        }
        _ => {
            return Err(ApiError::InvalidRequest(
                "Exactly one of the query parameters 'subject' or 'sid' must be set.".into(),
            ));
        }
    }
    Ok(HttpResponse::NoContent().finish())
}
