//! Routes of the device flow, and the admin call that accepts a user code:
//! `PUT /admin/oauth2/auth/requests/device/accept?device_challenge=` (Hydra's
//! acceptUserCodeRequest, also without the `/admin` prefix).
//!
//! Device challenges follow the challenge table: unknown → 404; the first accept → 200 with a
//! single-use verifier; any call after it, after expiry or after too many wrong user codes →
//! 410 with the URL that opens a fresh challenge. A wrong user code → 400 and counts.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use service_kit::http::JsonObject;
use shared_types::consent::OAuth2RedirectTo;

use super::store::{self, ChallengeRow};
use super::{CHALLENGE_OPEN, DEVICE_VERIFIER_PREFIX};
use crate::error::ApiError;
use crate::keyed::{Purpose, new_token};
use crate::state::AppState;

pub fn public_routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/oauth2/device/auth",
        web::post().to(super::authorization::oauth2_device_flow),
    )
    .route(
        "/oauth2/device/verify",
        web::get().to(super::verify::perform_oauth2_device_verification_flow),
    );
}

pub fn admin_routes(cfg: &mut web::ServiceConfig) {
    for prefix in ["/admin", ""] {
        cfg.route(
            &format!("{prefix}/oauth2/auth/requests/device/accept"),
            web::put().to(accept_user_code_request),
        );
    }
}

#[derive(Deserialize)]
struct DeviceChallengeQuery {
    device_challenge: Option<String>,
}

/// Hydra's `acceptDeviceUserCodeRequest`.
#[derive(Deserialize)]
struct AcceptDeviceUserCodeRequest {
    user_code: Option<String>,
}

#[tracing::instrument(skip_all)]
async fn accept_user_code_request(
    state: web::Data<AppState>,
    query: web::Query<DeviceChallengeQuery>,
    JsonObject(body): JsonObject<AcceptDeviceUserCodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let challenge = open(&state, query.device_challenge.as_deref()).await?;
    let now = state.settings.settings.clock.now().naive_utc();
    let limits = &state.settings.settings.oauth2.device_authorization;
    let browser = challenge.browser_hash.clone();
    let (all, of_browser) = state
        .db
        .read(move |c| store::live_failures(c, &browser, now).map_err(ApiError::from))
        .await?;
    if all >= i64::from(limits.max_failed_user_codes)
        || of_browser >= i64::from(limits.max_failed_user_codes_per_browser)
    {
        tracing::warn!(
            all,
            of_browser,
            "refusing user codes: too many wrong ones recently"
        );
        return Err(ApiError::TooManyRequests(
            "Too many wrong user codes were entered recently; try again in a few minutes.".into(),
        ));
    }
    let code = match body
        .user_code
        .as_deref()
        .and_then(super::normalise_user_code)
    {
        Some(normal) => {
            let hashes = state.hasher.candidates(Purpose::UserCode, &normal);
            state
                .db
                .read(move |c| {
                    store::find_pending_by_user_code(c, &hashes, now).map_err(ApiError::from)
                })
                .await?
        }
        None => None,
    };
    let Some(code) = code else {
        return Err(wrong_user_code(&state, challenge).await);
    };
    let verifier = new_token(DEVICE_VERIFIER_PREFIX);
    let hash = state.hasher.hash(Purpose::Verifier, &verifier);
    let (challenge_id, code_id) = (challenge.id, code.id);
    let claimed = state
        .db
        .write(move |c| store::claim(c, challenge_id, hash, code_id, now).map_err(ApiError::from))
        .await?;
    if !claimed {
        // Either this challenge was answered meanwhile (410) or the code was taken (400).
        let again = open(&state, query.device_challenge.as_deref()).await?;
        return Err(wrong_user_code(&state, again).await);
    }
    let mut redirect =
        url::Url::parse(&challenge.request_url).map_err(|e| ApiError::Internal(e.into()))?;
    redirect
        .query_pairs_mut()
        .append_pair("device_verifier", &verifier)
        .append_pair("client_id", &code.client_id);
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(OAuth2RedirectTo {
            redirect_to: redirect.into(),
        }))
}

/// The open challenge, or the answer the challenge table gives instead.
async fn open(state: &AppState, given: Option<&str>) -> Result<ChallengeRow, ApiError> {
    let challenge = given.filter(|c| !c.is_empty()).ok_or_else(|| {
        ApiError::InvalidRequest(
            "Query parameter 'device_challenge' is not defined but should have been.".into(),
        )
    })?;
    let hashes = state.hasher.candidates(Purpose::Challenge, challenge);
    let row = state
        .db
        .read(move |c| store::find_challenge(c, &hashes).map_err(ApiError::from))
        .await?
        .ok_or(ApiError::NotFound)?;
    let now = state.settings.settings.clock.now().naive_utc();
    if row.state != CHALLENGE_OPEN || row.expires_at <= now {
        return Err(ApiError::Gone {
            redirect_to: row.request_url,
        });
    }
    Ok(row)
}

/// Counts the failure against the challenge and answers 400 without saying more.
async fn wrong_user_code(state: &AppState, challenge: ChallengeRow) -> ApiError {
    let counted = state
        .db
        .write(move |c| store::count_failure(c, &challenge).map_err(ApiError::from))
        .await;
    match counted {
        Ok(()) => ApiError::InvalidRequest(
            "The user_code is not valid, was already used or has expired.".into(),
        ),
        Err(e) => e,
    }
}
