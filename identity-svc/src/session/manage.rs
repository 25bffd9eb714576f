//! Session management. Admin: listSessions, getSession, disableSession, extendSession,
//! listIdentitySessions, deleteIdentitySessions. Self-service: listMySessions,
//! disableMySession, disableMyOtherSessions. And the sliding expiry whoami applies.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{NaiveDateTime, SubsecRound};
use service_kit::db::Id;
use shared_types::identity::Identity;
use shared_types::session::{DeleteMySessionsCount, ManagedSession};

use super::store::{self, SessionFilter, SessionRow};
use crate::error::ApiError;
use crate::pagination::{Page, QueryParams, next_link};
use crate::state::AppState;

pub fn admin_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/sessions", web::get().to(list_sessions))
        .service(
            web::resource("/admin/sessions/{id}")
                .route(web::get().to(get_session))
                .route(web::delete().to(disable_session)),
        )
        .route(
            "/admin/sessions/{id}/extend",
            web::patch().to(extend_session),
        )
        .service(
            web::resource("/admin/identities/{id}/sessions")
                .route(web::get().to(list_identity_sessions))
                .route(web::delete().to(delete_identity_sessions)),
        );
}

pub fn public_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/sessions")
            .route(web::get().to(list_my_sessions))
            .route(web::delete().to(disable_my_other_sessions)),
    )
    .route("/sessions/{id}", web::delete().to(disable_my_session));
}

/// The session's wire form; `active` also reflects expiry.
fn to_managed(row: &SessionRow, identity: Option<Identity>, now: NaiveDateTime) -> ManagedSession {
    ManagedSession {
        id: row.id.0,
        active: row.active && row.expires_at > now,
        expires_at: row.expires_at.and_utc(),
        authenticated_at: row.authenticated_at.and_utc(),
        issued_at: row.issued_at.and_utc(),
        authenticator_assurance_level: row.aal.clone(),
        authentication_methods: serde_json::from_value(row.authentication_methods.0.clone())
            .unwrap_or_default(),
        identity,
    }
}

fn now(state: &AppState) -> NaiveDateTime {
    state
        .settings
        .settings
        .clock
        .now()
        .naive_utc()
        .trunc_subsecs(6)
}

/// A session id from the path; a malformed one is answered like an unknown one (404).
fn parse_id(raw: &str) -> Result<Id, ApiError> {
    crate::identity::parse_id(raw)
}

/// Whether `expand` asks for the identity (`identity` and `devices` are Kratos' values;
/// Olympus records no devices, so `devices` expands to nothing).
fn expand_identity(params: &QueryParams) -> Result<bool, ApiError> {
    let mut identity = false;
    for value in params.all("expand").iter().flat_map(|v| v.split(',')) {
        match value.trim() {
            "identity" | "Identity" => identity = true,
            "devices" | "Devices" | "" => {}
            other => {
                return Err(ApiError::BadRequest(format!(
                    "expand must be identity or devices, not {other:?}"
                )));
            }
        }
    }
    Ok(identity)
}

/// One page of sessions, with their identities (admin form) when `expand`.
async fn page_of(
    state: &AppState,
    filter: SessionFilter,
    page: Page,
    expand: bool,
) -> Result<(Vec<ManagedSession>, Option<String>), ApiError> {
    let at = now(state);
    let (mut rows, identities) = state
        .db
        .read(move |c| {
            let rows = store::list(c, filter, at, page.after, page.limit())?;
            let mut identities = Vec::new();
            if expand {
                let ids: Vec<Id> = rows.iter().map(|r| r.identity_id).collect();
                identities = crate::identity::store::find_many(c, &ids)?;
            }
            Ok::<_, ApiError>((rows, identities))
        })
        .await?;
    let next = page.finish(&mut rows, |r| r.id);
    let public = &state.settings.public_url;
    let sessions = rows
        .iter()
        .map(|row| {
            let identity = identities
                .iter()
                .find(|i| i.identity.id == row.identity_id)
                .map(|record| crate::identity::to_wire(record.clone(), public, &[]))
                .transpose()?;
            Ok(to_managed(row, identity, at))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok((sessions, next))
}

fn list_response(
    path: &str,
    params: &QueryParams,
    page: Page,
    (sessions, next): (Vec<ManagedSession>, Option<String>),
) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    response.insert_header(("cache-control", "no-store"));
    if let Some(token) = next {
        response.insert_header(("link", next_link(path, params, page.size, &token)));
    }
    response.json(sessions)
}

#[tracing::instrument(skip_all)]
async fn list_sessions(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params = QueryParams::parse(&req, &["page_size", "page_token", "active", "expand"])?;
    let page = params.page()?;
    let filter = SessionFilter {
        active: params.flag("active")?,
        ..Default::default()
    };
    let listed = page_of(&state, filter, page, expand_identity(&params)?).await?;
    Ok(list_response("/admin/sessions", &params, page, listed))
}

#[tracing::instrument(skip_all, fields(session_id = %id))]
async fn get_session(
    state: web::Data<AppState>,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let params = QueryParams::parse(&req, &["expand"])?;
    let expand = expand_identity(&params)?;
    let (row, identity) = state
        .db
        .read(move |c| {
            let row = store::find(c, id)?;
            let identity = match expand {
                true => Some(crate::identity::store::find(c, row.identity_id, false)?),
                false => None,
            };
            Ok::<_, ApiError>((row, identity))
        })
        .await?;
    let identity = identity
        .map(|record| crate::identity::to_wire(record, &state.settings.public_url, &[]))
        .transpose()?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(to_managed(&row, identity, now(&state))))
}

/// Ends the session (its row stays, inactive); ending an ended session is not an error.
#[tracing::instrument(skip_all, fields(session_id = %id))]
async fn disable_session(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let at = now(&state);
    state
        .db
        .write(move |c| {
            store::find(c, id)?;
            store::deactivate(c, id, at).map_err(ApiError::from)
        })
        .await?;
    tracing::info!("session disabled by an admin");
    Ok(HttpResponse::NoContent().finish())
}

/// Kratos' extendSession: a new expiry of now + `session.lifespan`, but only for an active
/// session within `session.earliest_possible_extend` of its expiry (when set); anything else,
/// including a repeated call, is 404 as in Kratos.
#[tracing::instrument(skip_all, fields(session_id = %id))]
async fn extend_session(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    extend(&state, id).await?.ok_or(ApiError::NotFound)?;
    tracing::info!("session extended by an admin");
    Ok(HttpResponse::NoContent().finish())
}

/// Extends session `id` if it is due (see [`extend_session`]); the new expiry when it did.
pub async fn extend(state: &AppState, id: Id) -> Result<Option<NaiveDateTime>, ApiError> {
    let at = now(state);
    let sessions = &state.sessions;
    let new_expiry = at + sessions.lifespan;
    let due_before = sessions.earliest_possible_extend.map(|window| at + window);
    state
        .db
        .write(move |c| store::extend(c, id, due_before, new_expiry, at).map_err(ApiError::from))
        .await
}

/// Sliding expiry for whoami: a session within `session.earliest_possible_extend` of its
/// expiry is extended by `session.lifespan` (one conditional UPDATE, so concurrent requests
/// extend it once). Off when the window is unset; a no-op (no write) outside it.
pub async fn slide(state: &AppState, session: &mut SessionRow) -> Result<bool, ApiError> {
    let Some(window) = state.sessions.earliest_possible_extend else {
        return Ok(false);
    };
    if session.expires_at > now(state) + window {
        return Ok(false);
    }
    match extend(state, session.id).await? {
        Some(expires_at) => {
            session.expires_at = expires_at;
            Ok(true)
        }
        None => Ok(false),
    }
}

#[tracing::instrument(skip_all, fields(identity_id = %id))]
async fn list_identity_sessions(
    state: web::Data<AppState>,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let identity_id = crate::identity::parse_id(&id)?;
    let params = QueryParams::parse(&req, &["page_size", "page_token", "active"])?;
    let page = params.page()?;
    let filter = SessionFilter {
        identity_id: Some(identity_id),
        active: params.flag("active")?,
        except: None,
    };
    state
        .db
        .read(move |c| crate::identity::store::find(c, identity_id, false).map_err(ApiError::from))
        .await?;
    let listed = page_of(&state, filter, page, true).await?;
    let path = format!("/admin/identities/{}/sessions", identity_id.0);
    Ok(list_response(&path, &params, page, listed))
}

/// Deletes the identity's sessions (Kratos removes the rows, not only ends them).
#[tracing::instrument(skip_all, fields(identity_id = %id))]
async fn delete_identity_sessions(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let identity_id = crate::identity::parse_id(&id)?;
    let deleted = state
        .db
        .write(move |c| {
            crate::identity::store::find(c, identity_id, false)?;
            store::delete_all_of(c, identity_id).map_err(ApiError::from)
        })
        .await?;
    tracing::info!(deleted, "sessions of an identity deleted by an admin");
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's other active sessions (the current one is whoami's).
#[tracing::instrument(skip_all)]
async fn list_my_sessions(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params = QueryParams::parse(&req, &["page_size", "page_token"])?;
    let page = params.page()?;
    let (current, identity) = super::current(&state, &req)
        .await?
        .ok_or(ApiError::SessionInactive)?;
    // Same rule as whoami: an aal1 session of an identity with a second factor sees nothing.
    crate::mfa::aal::check_whoami(&state, &current).await?;
    let filter = SessionFilter {
        identity_id: Some(current.identity_id),
        active: Some(true),
        except: Some(current.id),
    };
    let (mut sessions, next) = page_of(&state, filter, page, false).await?;
    for session in &mut sessions {
        session.identity = Some(identity.clone());
    }
    Ok(list_response("/sessions", &params, page, (sessions, next)))
}

/// Ends one of the caller's other sessions; the current one is ended by logout instead.
#[tracing::instrument(skip_all, fields(session_id = %id))]
async fn disable_my_session(
    state: web::Data<AppState>,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (current, _) = super::current(&state, &req)
        .await?
        .ok_or(ApiError::SessionInactive)?;
    crate::mfa::aal::check_whoami(&state, &current).await?;
    let id = parse_id(&id)?;
    if id == current.id {
        return Err(ApiError::BadRequest(
            "the current session cannot be revoked here; use logout instead".into(),
        ));
    }
    let at = now(&state);
    let ended = state
        .db
        .write(move |c| {
            store::revoke_own(c, id, current.identity_id, current.id, at).map_err(ApiError::from)
        })
        .await?;
    // Another identity's session is answered like an unknown one.
    if !ended {
        return Err(ApiError::NotFound);
    }
    tracing::info!("session revoked by its owner");
    Ok(HttpResponse::NoContent().finish())
}

#[tracing::instrument(skip_all)]
async fn disable_my_other_sessions(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (current, _) = super::current(&state, &req)
        .await?
        .ok_or(ApiError::SessionInactive)?;
    crate::mfa::aal::check_whoami(&state, &current).await?;
    let at = now(&state);
    let count = state
        .db
        .write(move |c| {
            store::revoke_others(c, current.identity_id, current.id, at).map_err(ApiError::from)
        })
        .await?;
    tracing::info!(count, "other sessions revoked by their owner");
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(DeleteMySessionsCount {
            count: count as i64,
        }))
}
