//! Kratos' session token exchange, for native apps that run the browser OIDC flow in a system
//! browser: an api flow started with `return_session_token_exchange_code=true` shows an init
//! code (`session_token_exchange_code`); the callback completes the flow and sends the browser
//! to the app's `return_to` with `?code=<return_to_code>`; `GET /sessions/token-exchange` with
//! both codes gives the session and a fresh session token, once. Only keyed hashes of the codes
//! are stored (table `session_token_exchanges`).

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use service_kit::db::{AnyConnection, Id};
use sha2::Sha256;

use super::callback::Flow;
use crate::db::schema::{identities, sessions};
use crate::db::schema_exchange::session_token_exchanges as exchanges;
use crate::error::ApiError;
use crate::flow::http::{no_store, see_other};
use crate::session::store::SessionRow;
use crate::state::AppState;

pub fn public_routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/sessions/token-exchange",
        web::get().to(exchange_session_token),
    );
}

/// Whether a new api flow asks for an exchange code.
pub fn requested(req: &HttpRequest) -> bool {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .any(|(k, v)| k == "return_session_token_exchange_code" && v == "true")
}

/// The `return_to` of a new api flow: an exchange flow needs one, listed in
/// `selfservice.allowed_return_urls` (the return_to code goes there); others as usual.
pub fn return_to(
    state: &AppState,
    req: &HttpRequest,
    raw: Option<&str>,
) -> Result<Option<url::Url>, ApiError> {
    let policy = &state.settings.flows.return_to;
    if requested(req) {
        policy.check_exchange(raw).map(Some)
    } else {
        policy.check(raw)
    }
}

fn code() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn code_hash(state: &AppState, what: &str, code: &str) -> String {
    let secret = state.settings.settings.secrets.cookie.current().expose();
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(b"session-token-exchange:");
    mac.update(what.as_bytes());
    mac.update(b":");
    mac.update(code.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// The api flow's answer: `wire` (the flow), with `session_token_exchange_code` when asked for.
pub async fn answer(
    state: &AppState,
    req: &HttpRequest,
    flow_id: Id,
    wire: impl serde::Serialize,
) -> Result<HttpResponse, ApiError> {
    let mut body = serde_json::to_value(wire).map_err(anyhow::Error::from)?;
    if requested(req) {
        let init = code();
        let hash = code_hash(state, "init", &init);
        let now = state.settings.settings.clock.now();
        let lifespan = state.settings.flows.oidc.exchange_lifespan;
        let expires = (now + lifespan).naive_utc();
        let at = now.naive_utc();
        state
            .db
            .write(move |c| {
                diesel::insert_into(exchanges::table)
                    .values((
                        exchanges::id.eq(Id::new_v7()),
                        exchanges::flow_id.eq(flow_id),
                        exchanges::init_code_hash.eq(hash),
                        exchanges::created_at.eq(at),
                        exchanges::expires_at.eq(expires),
                    ))
                    .execute(c)
                    .map_err(ApiError::from)
            })
            .await?;
        body["session_token_exchange_code"] = serde_json::Value::String(init);
    }
    Ok(no_store(HttpResponse::Ok()).json(body))
}

/// Whether the api flow was started with an exchange code (it may then go through a browser).
pub async fn offered(state: &AppState, flow_id: Id) -> Result<bool, ApiError> {
    state
        .db
        .read(move |c| {
            exchanges::table
                .filter(exchanges::flow_id.eq(flow_id))
                .filter(exchanges::return_to_code_hash.is_null())
                .count()
                .get_result::<i64>(c)
                .map(|n| n > 0)
                .map_err(ApiError::from)
        })
        .await
}

/// The browser leg of an api flow completed with `session`: the exchange takes the session and
/// the browser goes to `target` (the app's `return_to`) with the return_to code.
pub async fn complete(
    state: &AppState,
    flow: &Flow,
    session: Option<SessionRow>,
    target: url::Url,
) -> Result<HttpResponse, ApiError> {
    let Some(session) = session else {
        // A registration without the `session` hook: nothing to exchange.
        return Ok(see_other(target.as_str()).finish());
    };
    let returned = code();
    let hash = code_hash(state, "return_to", &returned);
    let now = state.settings.settings.clock.now();
    let expires = (now + state.settings.flows.oidc.exchange_lifespan).naive_utc();
    let (flow_id, session_id) = (flow.id(), session.id);
    let set = state
        .db
        .write(move |c| {
            diesel::update(
                exchanges::table
                    .filter(exchanges::flow_id.eq(flow_id))
                    .filter(exchanges::return_to_code_hash.is_null()),
            )
            .set((
                exchanges::return_to_code_hash.eq(hash),
                exchanges::session_id.eq(session_id),
                exchanges::expires_at.eq(expires),
            ))
            .execute(c)
            .map_err(ApiError::from)
        })
        .await?;
    if set != 1 {
        return Err(ApiError::BadRequest(
            "this flow has no session token exchange".into(),
        ));
    }
    let mut to = target;
    to.query_pairs_mut().append_pair("code", &returned);
    Ok(see_other(to.as_str()).finish())
}

#[derive(Deserialize)]
struct ExchangeQuery {
    init_code: Option<String>,
    return_to_code: Option<String>,
}

/// What a redemption found.
enum Redeemed {
    Session(Id),
    Expired,
    Unknown,
}

/// `GET /sessions/token-exchange` (Kratos' `exchangeSessionToken`).
#[tracing::instrument(skip_all)]
async fn exchange_session_token(
    state: web::Data<AppState>,
    query: web::Query<ExchangeQuery>,
) -> Result<HttpResponse, ApiError> {
    let (Some(init), Some(returned)) = (
        query.init_code.as_deref().filter(|c| !c.is_empty()),
        query.return_to_code.as_deref().filter(|c| !c.is_empty()),
    ) else {
        return Err(ApiError::BadRequest(
            "init_code and return_to_code are required".into(),
        ));
    };
    let init = code_hash(&state, "init", init);
    let returned = code_hash(&state, "return_to", returned);
    let token = crate::session::new_token(crate::session::SESSION_TOKEN_PREFIX);
    let token_hash = state.sessions.hasher.hash(&token);
    let now = state.settings.settings.clock.now().naive_utc();
    let redeemed = state
        .db
        .write(move |c| {
            c.transaction(|c| redeem(c, &init, &returned, &token_hash, now))
                .map_err(ApiError::from)
        })
        .await?;
    let session_id = match redeemed {
        Redeemed::Session(id) => id,
        Redeemed::Unknown => return Err(ApiError::NotFound),
        Redeemed::Expired => {
            return Ok(
                no_store(HttpResponse::Gone()).json(serde_json::json!({"error": {
                    "code": 410, "status": "Gone",
                    "reason": "The session token exchange code expired; sign in again.",
                    "message": "the exchange code expired"
                }})),
            );
        }
    };
    let row: SessionRow = state
        .db
        .read(move |c| crate::session::store::find(c, session_id).map_err(ApiError::from))
        .await?;
    let identity = crate::session::identity_for(&state, row.identity_id).await?;
    let body = shared_types::flow::SuccessfulLogin {
        session: crate::session::to_wire(&row, identity),
        continue_with: Vec::new(),
        session_token: Some(token),
    };
    Ok(no_store(HttpResponse::Ok()).json(body))
}

/// Marks the pair used (once: the update decides) and gives the session a new token hash (the
/// token made at sign-in was never shown).
fn redeem(
    c: &mut AnyConnection,
    init: &str,
    returned: &str,
    token_hash: &str,
    now: chrono::NaiveDateTime,
) -> QueryResult<Redeemed> {
    let pair = exchanges::table
        .filter(exchanges::init_code_hash.eq(init))
        .filter(exchanges::return_to_code_hash.eq(returned))
        .filter(exchanges::used_at.is_null());
    let found: Option<(Option<Id>, chrono::NaiveDateTime)> = pair
        .select((exchanges::session_id, exchanges::expires_at))
        .first(c)
        .optional()?;
    let Some((Some(session_id), expires_at)) = found else {
        return Ok(Redeemed::Unknown);
    };
    if expires_at <= now {
        return Ok(Redeemed::Expired);
    }
    let taken = diesel::update(pair)
        .set(exchanges::used_at.eq(now))
        .execute(c)?;
    if taken != 1 {
        return Ok(Redeemed::Unknown);
    }
    // Only a live session of an active identity is handed out: not one revoked, expired or
    // belonging to an identity disabled since the sign-in.
    let owner: Option<Id> = sessions::table
        .find(session_id)
        .select(sessions::identity_id)
        .first(c)
        .optional()?;
    let identity_active = match owner {
        Some(owner) => {
            identities::table
                .find(owner)
                .filter(identities::state.eq("active"))
                .count()
                .get_result::<i64>(c)?
                > 0
        }
        None => false,
    };
    let updated = if identity_active {
        diesel::update(
            sessions::table
                .filter(sessions::id.eq(session_id))
                .filter(sessions::active.eq(true))
                .filter(sessions::expires_at.gt(now)),
        )
        .set(sessions::token_hash.eq(token_hash))
        .execute(c)?
    } else {
        0
    };
    if updated == 1 {
        return Ok(Redeemed::Session(session_id));
    }
    let expired: Option<chrono::NaiveDateTime> = sessions::table
        .find(session_id)
        .select(sessions::expires_at)
        .first(c)
        .optional()?;
    Ok(match expired {
        Some(at) if at <= now => Redeemed::Expired,
        _ => Redeemed::Unknown,
    })
}

/// Janitor step: exchanges (redeemed or not) that expired before `cutoff`.
pub fn delete_expired(
    c: &mut AnyConnection,
    limit: i64,
    cutoff: chrono::NaiveDateTime,
) -> QueryResult<usize> {
    let ids: Vec<Id> = exchanges::table
        .filter(exchanges::expires_at.lt(cutoff))
        .select(exchanges::id)
        .limit(limit)
        .load(c)?;
    diesel::delete(exchanges::table.filter(exchanges::id.eq_any(&ids))).execute(c)
}
