//! The `oidc` credential's config (Kratos' `{providers: [{subject, provider, initial_*_token}]}`,
//! the upstream tokens sealed under `secrets.cipher`) and the per-flow state of this method:
//! the round trip in progress, and an upstream account waiting to be linked once the user has
//! proven an existing credential (account linking only after proof).

use serde::{Deserialize, Serialize};
use service_kit::cipher::KeyCipher;
use service_kit::db::{Id, Json};
use sha2::{Digest, Sha256};

use url::Url;

use super::CONTEXT_KEY;
use super::upstream::Verified;
use crate::csrf::CsrfToken;
use crate::error::ApiError;
use crate::flow::login::store::LoginFlowRow;
use crate::session::store::SessionRow;
use crate::state::AppState;

const SALT: &[u8] = b"olympus/identity-svc/oidc";

pub fn cipher(state: &AppState) -> KeyCipher {
    KeyCipher::new(&state.settings.settings.secrets.cipher, SALT)
}

/// A round trip to a provider in progress: the state (hashed), and the nonce and PKCE verifier
/// sealed (bound to the flow and the provider).
#[derive(Serialize, Deserialize, Clone)]
pub struct Pending {
    pub provider: String,
    pub state_hash: String,
    pub sealed: String,
    pub fingerprint: String,
}

#[derive(Serialize, Deserialize)]
pub struct Secrets {
    pub nonce: String,
    pub pkce_verifier: Option<String>,
}

/// An upstream account whose address belongs to `identity_id`: linked when that identity signs
/// in on this flow with an existing credential.
#[derive(Serialize, Deserialize, Clone)]
pub struct PendingLink {
    pub identity_id: uuid::Uuid,
    pub identifier: String,
    pub entry: serde_json::Value,
}

/// This method's part of a flow's `internal_context`.
#[derive(Serialize, Deserialize, Default, Clone)]
pub struct Context {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<PendingLink>,
    /// Settings flows: the providers the identity has linked, for the `link`/`unlink` buttons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linked: Option<Vec<String>>,
}

impl Context {
    pub fn from_flow(internal_context: &Json) -> Context {
        internal_context
            .0
            .get(CONTEXT_KEY)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    /// `internal_context` with this method's key replaced (other methods' keys kept).
    pub fn into_flow(self, internal_context: &Json) -> Json {
        let mut all = match &internal_context.0 {
            serde_json::Value::Object(o) => o.clone(),
            _ => serde_json::Map::new(),
        };
        if self.pending.is_none() && self.link.is_none() && self.linked.is_none() {
            all.remove(CONTEXT_KEY);
        } else {
            all.insert(
                CONTEXT_KEY.into(),
                serde_json::to_value(self).unwrap_or_default(),
            );
        }
        Json(serde_json::Value::Object(all))
    }
}

pub fn state_hash(state: &str) -> String {
    base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        Sha256::digest(state.as_bytes()),
    )
}

fn aad(flow_id: Id, provider: &str) -> Vec<u8> {
    format!("{}|{provider}", flow_id.0).into_bytes()
}

pub fn seal_pending(
    state: &AppState,
    flow_id: Id,
    provider: &str,
    oidc_state: &str,
    secrets: &Secrets,
) -> Result<Pending, ApiError> {
    let plain = serde_json::to_vec(secrets).map_err(anyhow::Error::from)?;
    let sealed = cipher(state).seal(&plain, &aad(flow_id, provider))?;
    Ok(Pending {
        provider: provider.into(),
        state_hash: state_hash(oidc_state),
        sealed: sealed.ciphertext,
        fingerprint: sealed.fingerprint,
    })
}

pub fn open_pending(state: &AppState, flow_id: Id, pending: &Pending) -> Option<Secrets> {
    let (plain, _) = cipher(state).open(
        &pending.fingerprint,
        &pending.sealed,
        &aad(flow_id, &pending.provider),
    )?;
    serde_json::from_slice(&plain).ok()
}

/// The credential entry for a verified upstream account, its tokens sealed.
pub fn entry(
    state: &AppState,
    provider: &str,
    verified: &Verified,
) -> Result<serde_json::Value, ApiError> {
    let cipher = cipher(state);
    let aad = format!("{provider}:{}", verified.subject).into_bytes();
    let seal = |token: &str| -> Result<String, ApiError> {
        Ok(cipher.seal(token.as_bytes(), &aad)?.ciphertext)
    };
    let mut entry = serde_json::json!({
        "subject": verified.subject,
        "provider": provider,
        "initial_id_token": seal(&verified.id_token)?,
        "initial_access_token": seal(&verified.access_token)?,
        "cipher_fingerprint": cipher.current_fingerprint(),
    });
    if let Some(refresh) = &verified.refresh_token {
        entry["initial_refresh_token"] = serde_json::Value::String(seal(refresh)?);
    }
    Ok(entry)
}

/// The `providers[]` of a stored `oidc` credential config.
pub fn providers(config: Option<&Json>) -> Vec<serde_json::Value> {
    config
        .and_then(|c| c.0.get("providers"))
        .and_then(|p| p.as_array())
        .cloned()
        .unwrap_or_default()
}

/// The upstream account a login flow waited for, if `identity_id` is the identity whose address
/// it had.
fn pending_for(internal_context: &Json, identity_id: Id) -> Option<PendingLink> {
    let link = Context::from_flow(internal_context).link?;
    if link.identity_id != identity_id.0 {
        tracing::info!(
            "signed in to another identity than the one the upstream account matched; not linked"
        );
        return None;
    }
    Some(link)
}

/// Links the upstream account a completed login flow waited for (called only after the flow was
/// completed, so the proof is spent). A failure — the account was linked meanwhile — is logged
/// and does not undo the sign-in.
pub async fn link_after_sign_in(state: &AppState, internal_context: &Json, identity_id: Id) {
    let Some(link) = pending_for(internal_context, identity_id) else {
        return;
    };
    let now = state.settings.settings.clock.now().naive_utc();
    let (identifier, entry) = (link.identifier, link.entry);
    let linked = state
        .db
        .write(move |c| {
            super::store::link(c, identity_id, &identifier, entry, now).map_err(ApiError::from)
        })
        .await;
    match linked {
        Ok(()) => {
            tracing::info!(identity_id = %identity_id.0, "linked an upstream account after sign-in");
        }
        Err(e) => {
            tracing::warn!(identity_id = %identity_id.0, error = %e, "the upstream account was not linked");
        }
    }
}

/// After a first factor on a completed login flow: when the session must still step up, an
/// upstream account the flow waited for moves into a new aal2 flow (linked when that one
/// completes) and the browser goes there; otherwise it is linked now. Answers where the browser
/// goes next (`target`, or the step-up). API flows (no `csrf`) link only when no step-up is due.
pub async fn after_first_factor(
    state: &AppState,
    row: &LoginFlowRow,
    session: &SessionRow,
    csrf: Option<&CsrfToken>,
    target: Url,
) -> Result<Url, ApiError> {
    let identity_id = session.identity_id;
    let Some(link) = pending_for(&row.internal_context, identity_id) else {
        return crate::mfa::aal::after_first_factor(state, session, target).await;
    };
    let required = state.settings.settings.session.whoami.required_aal;
    if !crate::mfa::aal::needs_step_up(state, session, required).await? {
        link_after_sign_in(state, &row.internal_context, identity_id).await;
        return Ok(target);
    }
    let Some(csrf) = csrf.filter(|_| row.flow_type == "browser") else {
        tracing::info!("an API sign-in below aal2 does not link the upstream account");
        return crate::mfa::aal::after_first_factor(state, session, target).await;
    };
    let context = Context {
        link: Some(link),
        ..Context::default()
    };
    let value = serde_json::to_value(context).map_err(anyhow::Error::from)?;
    let opened = crate::mfa::login::open_after_first_factor(
        state,
        session,
        &target,
        csrf,
        (CONTEXT_KEY, value),
    )
    .await?;
    match opened {
        Some(flow) => Ok(crate::flow::lifecycle::ui_url(state, &flow)),
        None => crate::mfa::aal::after_first_factor(state, session, target).await,
    }
}
