//! `GET /oauth2/device/verify` (Hydra's performOAuth2DeviceVerificationFlow): the browser side
//! of the device flow. Without a verifier it opens a device challenge bound to this browser and
//! sends it to `urls.device.verification`; with `device_verifier` (after the UI accepted a user
//! code) it starts a login/consent flow for the device's client; the login and consent
//! verifiers of that flow come back here, and the consent verifier decides the device code.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde_json::json;
use service_kit::db::{Id, Json};

use super::store::{self, ChallengeRow, CodeChanges, DeviceCodeRow};
use super::{CLAIMED, DEVICE_CHALLENGE_PREFIX, DeviceRequest};
use crate::authorize::response::{AuthorizeError, BROWSER_COOKIE, cookie, found};
use crate::error::ApiError;
use crate::flow::store::FlowRow;
use crate::flow::{self as flows, AuthorizeRequest, Decisions};
use crate::keyed::{Purpose, new_token};
use crate::state::AppState;

#[tracing::instrument(skip_all)]
pub async fn perform_oauth2_device_verification_flow(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> HttpResponse {
    let outcome = match crate::authorize::parameters(req.query_string()) {
        Ok(params) => dispatch(&state, &req, params).await,
        Err(e) => Err(e),
    };
    outcome.unwrap_or_else(|e| e.render(&state.settings.issuer, &state.settings.error_ui))
}

async fn dispatch(
    state: &AppState,
    req: &HttpRequest,
    params: BTreeMap<String, String>,
) -> Result<HttpResponse, AuthorizeError> {
    if let Some(verifier) = params.get("login_verifier") {
        return crate::authorize::redeem::redeem_login(state, req, verifier).await;
    }
    if let Some(verifier) = params.get("consent_verifier") {
        return super::decide::redeem_consent(state, req, verifier).await;
    }
    if let Some(verifier) = params.get("device_verifier") {
        return redeem_device_verifier(state, req, verifier).await;
    }
    new_challenge(state, req, params.get("user_code")).await
}

fn now(state: &AppState) -> DateTime<Utc> {
    state.settings.settings.clock.now()
}

pub(super) fn error_page(error: &'static str, description: &str) -> AuthorizeError {
    AuthorizeError::ToErrorPage {
        error,
        description: description.into(),
    }
}

/// Whether the browser's binding cookie is the one `hash` was made from.
pub(super) fn same_browser(state: &AppState, req: &HttpRequest, hash: &str) -> bool {
    req.cookie(BROWSER_COOKIE).is_some_and(|c| {
        state
            .cookie_hasher
            .verify(Purpose::Browser, c.value(), hash)
            .is_some()
    })
}

/// A new device challenge for this browser; a user code from `verification_uri_complete` is
/// passed on to the UI (normalised, so nothing else is reflected).
async fn new_challenge(
    state: &AppState,
    req: &HttpRequest,
    user_code: Option<&String>,
) -> Result<HttpResponse, AuthorizeError> {
    let (browser, new_cookie) = match req.cookie(BROWSER_COOKIE) {
        Some(c) if c.value().len() >= 40 => (c.value().to_string(), false),
        _ => (new_token(""), true),
    };
    let challenge = new_token(DEVICE_CHALLENGE_PREFIX);
    let now = now(state);
    let row = ChallengeRow {
        id: Id::new_v7(),
        challenge_hash: state.hasher.hash(Purpose::Challenge, &challenge),
        verifier_hash: None,
        browser_hash: state.cookie_hasher.hash(Purpose::Browser, &browser),
        state: super::CHALLENGE_OPEN.into(),
        device_code_id: None,
        failed_attempts: 0,
        request_url: super::authorization::verification_uri(state),
        expires_at: (now + state.settings.settings.ttl.login_consent_request).naive_utc(),
        created_at: now.naive_utc(),
        updated_at: now.naive_utc(),
    };
    state
        .db
        .write(move |c| store::insert_challenge(c, &row).map_err(ApiError::from))
        .await?;
    let mut target = state.settings.device_verification_ui.clone();
    target
        .query_pairs_mut()
        .append_pair("device_challenge", &challenge);
    if let Some(code) = user_code.and_then(|c| super::normalise_user_code(c)) {
        let shown = format!("{}-{}", &code[..4], &code[4..]);
        target.query_pairs_mut().append_pair("user_code", &shown);
    }
    let mut response = found(target.as_str());
    if new_cookie {
        let secure = !state.settings.settings.dev;
        response.cookie(cookie(BROWSER_COOKIE, browser, None, secure));
    }
    Ok(response.finish())
}

/// The UI accepted a user code: start the login and consent flow for the device's request.
async fn redeem_device_verifier(
    state: &AppState,
    req: &HttpRequest,
    verifier: &str,
) -> Result<HttpResponse, AuthorizeError> {
    let hashes = state.hasher.candidates(Purpose::Verifier, verifier);
    let challenge = state
        .db
        .read(move |c| store::find_challenge_by_verifier(c, &hashes).map_err(ApiError::from))
        .await?
        .ok_or_else(|| error_page("invalid_request", "The device verifier is not valid."))?;
    if !same_browser(state, req, &challenge.browser_hash) {
        return Err(AuthorizeError::Forbidden(
            "This device sign-in was started in another browser, or its cookie is missing.",
        ));
    }
    let code_id = challenge
        .device_code_id
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("decided challenge without a code")))?;
    let code = state
        .db
        .read(move |c| store::find_code(c, code_id).map_err(ApiError::from))
        .await?
        .filter(|code| code.state == CLAIMED)
        .ok_or_else(|| {
            error_page(
                "access_denied",
                "The device verifier has already been used.",
            )
        })?;
    let now = now(state);
    if code.expires_at <= now.naive_utc() {
        return Err(error_page(
            "expired_token",
            "The user code has expired; start again on the device.",
        ));
    }
    let login_challenge = new_token(flows::CHALLENGE_PREFIX);
    let flow = device_flow_row(state, &code, &challenge, &login_challenge, now)?;
    let (challenge_id, code_id) = (challenge.id, code.id);
    let started = state
        .db
        .write(move |c| store::start_flow(c, challenge_id, code_id, &flow).map_err(ApiError::from))
        .await?;
    if !started {
        return Err(error_page(
            "access_denied",
            "The device verifier has already been used.",
        ));
    }
    let mut login = state.settings.login_ui.clone();
    login
        .query_pairs_mut()
        .append_pair("login_challenge", &login_challenge);
    Ok(found(login.as_str()).finish())
}

/// The authorization flow of a device: its verifiers come back to `/oauth2/device/verify`, and
/// errors of the login step go to `urls.device.success` (a device has no redirect_uri).
fn device_flow_row(
    state: &AppState,
    code: &DeviceCodeRow,
    challenge: &ChallengeRow,
    login_challenge: &str,
    now: DateTime<Utc>,
) -> Result<FlowRow, ApiError> {
    let asked: DeviceRequest =
        serde_json::from_value(code.request.0.clone()).map_err(anyhow::Error::from)?;
    // Built from JSON so that flow fields added with defaults need no change here.
    let request: AuthorizeRequest = serde_json::from_value(json!({
        "client_id": code.client_id,
        "redirect_uri": state.settings.device_success_ui.as_str(),
        "scope": asked.scope,
        "audience": asked.audience,
        "state": null, "nonce": null, "code_challenge": null,
        "force_login": true,
        "oidc_context": {},
    }))
    .map_err(anyhow::Error::from)?;
    let at = now.naive_utc();
    Ok(FlowRow {
        id: Id::new_v7(),
        client_id: code.client_id.clone(),
        request_url: challenge.request_url.clone(),
        request: Json(serde_json::to_value(&request).map_err(anyhow::Error::from)?),
        browser_hash: challenge.browser_hash.clone(),
        state: flows::LOGIN_UNUSED.into(),
        login_challenge_hash: state.hasher.hash(Purpose::Challenge, login_challenge),
        login_verifier_hash: None,
        consent_challenge_hash: None,
        consent_verifier_hash: None,
        subject: None,
        login_session_id: None,
        decisions: Decisions::default().to_json(),
        requested_at: at,
        created_at: at,
        updated_at: at,
    })
}

/// The changes that end a claimed device code.
pub(super) fn decided(state: &str, now: DateTime<Utc>) -> CodeChanges {
    CodeChanges {
        state: Some(state.into()),
        updated_at: Some(now.naive_utc()),
        ..Default::default()
    }
}
