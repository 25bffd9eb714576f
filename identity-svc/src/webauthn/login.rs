//! Signing in with a passkey (usernameless: the authenticator names the user) and, in aal2
//! flows, with a security key as a second factor. A login flow carries one challenge per
//! method, sealed in its `internal_context`; every submission consumes it and leaves a new one,
//! so a replayed assertion finds a challenge it was not made for.

use actix_web::HttpRequest;
use chrono::{NaiveDateTime, SubsecRound};
use serde_json::{Value, json};
use service_kit::db::Id;
use webauthn_rs::prelude::{DiscoverableAuthentication, PublicKeyCredential, WebauthnError};

use super::{CredentialsConfig, Method, nodes, store};
use crate::csrf::CsrfToken;
use crate::error::ApiError;
use crate::flow::login::store::LoginFlowRow;
use crate::flow::messages::FlowMessages;
use crate::flow::submit::Submission;
use crate::state::AppState;

/// Stores a passkey challenge on a new aal1 login flow (and on `row`) when passkeys are on, or
/// a security-key challenge on an aal2 flow.
pub async fn prepare(state: &AppState, row: &mut LoginFlowRow) -> Result<(), ApiError> {
    if row.requested_aal == "aal2" {
        return prepare_second_factor(state, row).await;
    }
    if row.requested_aal != "aal1" || Method::Passkey.relying_party(state).is_none() {
        return Ok(());
    }
    let context = passkey_context(state, row.id)?;
    store_challenge(state, row, Method::Passkey, None, context).await?;
    Ok(())
}

/// A flow made without the challenges (the replacement of an expired flow) gets them when it is
/// first shown.
pub async fn ensure(state: &AppState, row: &mut LoginFlowRow) -> Result<(), ApiError> {
    let key = if row.requested_aal == "aal2" {
        Method::Webauthn
    } else {
        Method::Passkey
    };
    let open = row.state == crate::flow::login::STATE_OPEN;
    if open && row.internal_context.0.get(key.name()).is_none() {
        prepare(state, row).await?;
    }
    Ok(())
}

/// Stores `context` as the flow's challenge for `method`, in the database and on `row`. With
/// `seen`, only if the flow was not changed since then: answers whether the challenge the
/// client answered was still the flow's (and so is consumed now, by this caller alone).
async fn store_challenge(
    state: &AppState,
    row: &mut LoginFlowRow,
    method: Method,
    seen: Option<NaiveDateTime>,
    context: Value,
) -> Result<bool, ApiError> {
    let now = state
        .settings
        .settings
        .clock
        .now()
        .naive_utc()
        .trunc_subsecs(6);
    let (id, stored) = (row.id, context.clone());
    let swapped = state
        .db
        .write(move |c| {
            store::swap_login_context(c, id, seen, method.name(), stored, now)
                .map_err(ApiError::from)
        })
        .await?;
    set_key(&mut row.internal_context.0, method.name(), context);
    row.updated_at = now;
    Ok(swapped)
}

fn set_key(context: &mut Value, key: &str, value: Value) {
    if !context.is_object() {
        *context = json!({});
    }
    if let Some(object) = context.as_object_mut() {
        object.insert(key.into(), value);
    }
}

fn passkey_context(state: &AppState, flow: Id) -> Result<Value, ApiError> {
    let Some(rp) = Method::Passkey.relying_party(state) else {
        return Ok(Value::Null);
    };
    let (mut options, ceremony) = rp
        .start_discoverable_authentication()
        .map_err(|e| anyhow::anyhow!("starting a passkey authentication: {e}"))?;
    // A button press, not the autofill (conditional) mediation.
    options.mediation = None;
    let ceremony = serde_json::to_value(&ceremony).map_err(anyhow::Error::from)?;
    Ok(json!({
        "options": options,
        "state": super::seal(state, flow, Method::Passkey, &ceremony)?,
    }))
}

/// What a passkey submission came to.
pub enum Outcome {
    SignedIn(Id),
    Rejected(FlowMessages),
}

/// `method=passkey` with `passkey_login` (the assertion as JSON). The flow's challenge is
/// replaced first; `row` gets the new one for the next render.
pub async fn passkey(
    state: &AppState,
    _req: &HttpRequest,
    row: &mut LoginFlowRow,
    submission: &Submission,
    _token: Option<&CsrfToken>,
) -> Result<Outcome, ApiError> {
    let Some(rp) = Method::Passkey.relying_party(state) else {
        let unsupported = crate::flow::text::unsupported_method("passkey");
        return Ok(Outcome::Rejected(FlowMessages::form(unsupported)));
    };
    let sealed = row.internal_context.0["passkey"]["state"].clone();
    let fresh = passkey_context(state, row.id)?;
    let seen = Some(row.updated_at);
    let consumed = store_challenge(state, row, Method::Passkey, seen, fresh).await?;
    let ceremony: Option<DiscoverableAuthentication> = consumed
        .then(|| super::open(state, row.id, Method::Passkey, &sealed))
        .flatten();
    let assertion = submission
        .non_empty("passkey_login")
        .and_then(|raw| serde_json::from_str::<PublicKeyCredential>(raw).ok());
    let (Some(ceremony), Some(assertion)) = (ceremony, assertion) else {
        return Ok(Outcome::Rejected(FlowMessages::form(nodes::validation(
            "The passkey response was malformed or its challenge was already used; try again.",
        ))));
    };
    let rejected = || {
        Ok(Outcome::Rejected(FlowMessages::form(
            nodes::invalid_credentials(),
        )))
    };
    let Ok((handle, credential_id)) = rp.identify_discoverable_authentication(&assertion) else {
        return rejected();
    };
    let credential_id = credential_id.to_vec();
    let handle = handle.to_string();
    let found = state
        .db
        .read(move |c| store::find_by_handle(c, Method::Passkey, &handle).map_err(ApiError::from))
        .await?;
    let Some((credential, identity_state)) = found else {
        return rejected();
    };
    let Some(mut config) = CredentialsConfig::from_json(credential.config.as_ref().map(|c| &c.0))
    else {
        return rejected();
    };
    let Some(stored) = config
        .credentials
        .iter_mut()
        .find(|k| k.key.cred_id().as_slice() == credential_id.as_slice())
    else {
        return rejected();
    };
    let result = match rp.finish_discoverable_authentication_v2(&assertion, ceremony, &stored.key) {
        Ok(result) => result,
        Err(WebauthnError::CredentialPossibleCompromise) => {
            tracing::warn!(
                identity_id = %credential.identity_id.0,
                "a passkey's signature counter went backwards: the key may have been cloned"
            );
            return rejected();
        }
        Err(e) => {
            tracing::info!(error = %e, "a passkey assertion did not verify");
            return rejected();
        }
    };
    if identity_state != "active" {
        return Err(ApiError::IdentityDisabled);
    }
    if stored.key.update_credential(&result) == Some(true) {
        let (id, config, at) = (credential.id, config.to_json(), row.updated_at);
        state
            .db
            .write(move |c| store::update_config(c, id, config, at).map_err(ApiError::from))
            .await?;
    }
    Ok(Outcome::SignedIn(credential.identity_id))
}

/// The identity an aal2 flow belongs to (the AAL2 module keeps it in `internal_context`).
fn aal2_identity(row: &LoginFlowRow) -> Option<Id> {
    let context = &row.internal_context.0["aal2"];
    let offered = context["methods"]
        .as_array()
        .is_some_and(|m| m.iter().any(|m| m == Method::Webauthn.name()));
    let raw = context["identity_id"].as_str().filter(|_| offered)?;
    uuid::Uuid::parse_str(raw).ok().map(Id)
}

/// The security-key challenge of an aal2 flow: the identity's keys are the allowed ones.
async fn security_key_context(
    state: &AppState,
    flow: Id,
    identity_id: Id,
) -> Result<Value, ApiError> {
    let Some(rp) = Method::Webauthn.relying_party(state) else {
        return Ok(Value::Null);
    };
    let found = state
        .db
        .read(move |c| store::find(c, identity_id, Method::Webauthn).map_err(ApiError::from))
        .await?;
    let keys: Vec<_> = found
        .and_then(|row| CredentialsConfig::from_json(row.config.as_ref().map(|c| &c.0)))
        .map(|config| config.credentials.into_iter().map(|k| k.key).collect())
        .unwrap_or_default();
    if keys.is_empty() {
        return Ok(Value::Null);
    }
    let (options, ceremony) = rp
        .start_passkey_authentication(&keys)
        .map_err(|e| anyhow::anyhow!("starting a security key authentication: {e}"))?;
    let ceremony = serde_json::to_value(&ceremony).map_err(anyhow::Error::from)?;
    Ok(json!({
        "options": options,
        "state": super::seal(state, flow, Method::Webauthn, &ceremony)?,
    }))
}

/// Stores a security-key challenge on a new aal2 flow whose identity has security keys.
async fn prepare_second_factor(state: &AppState, row: &mut LoginFlowRow) -> Result<(), ApiError> {
    let Some(identity_id) = aal2_identity(row) else {
        return Ok(());
    };
    let context = security_key_context(state, row.id, identity_id).await?;
    if context.is_null() {
        return Ok(());
    }
    store_challenge(state, row, Method::Webauthn, None, context).await?;
    Ok(())
}

/// `method=webauthn` with `webauthn_login` in an aal2 flow, by the flow's identity. As for
/// passkeys, the flow's challenge is replaced first.
pub async fn second_factor(
    state: &AppState,
    row: &mut LoginFlowRow,
    session_identity: Id,
    submission: &Submission,
) -> Result<Outcome, ApiError> {
    let Some(rp) = Method::Webauthn.relying_party(state) else {
        let unsupported = crate::flow::text::unsupported_method("webauthn");
        return Ok(Outcome::Rejected(FlowMessages::form(unsupported)));
    };
    let Some(identity_id) = aal2_identity(row) else {
        let unsupported = crate::flow::text::unsupported_method("webauthn");
        return Ok(Outcome::Rejected(FlowMessages::form(unsupported)));
    };
    if identity_id != session_identity {
        return Err(ApiError::IdentityMismatch);
    }
    let sealed = row.internal_context.0["webauthn"]["state"].clone();
    let fresh = security_key_context(state, row.id, identity_id).await?;
    let seen = Some(row.updated_at);
    let consumed = store_challenge(state, row, Method::Webauthn, seen, fresh).await?;
    let ceremony: Option<webauthn_rs::prelude::PasskeyAuthentication> = consumed
        .then(|| super::open(state, row.id, Method::Webauthn, &sealed))
        .flatten();
    let assertion = submission
        .non_empty("webauthn_login")
        .and_then(|raw| serde_json::from_str::<PublicKeyCredential>(raw).ok());
    let (Some(ceremony), Some(assertion)) = (ceremony, assertion) else {
        return Ok(Outcome::Rejected(FlowMessages::form(nodes::validation(
            "The security key response was malformed or its challenge was already used; try again.",
        ))));
    };
    let rejected = || {
        Ok(Outcome::Rejected(FlowMessages::form(
            nodes::invalid_credentials(),
        )))
    };
    let result = match rp.finish_passkey_authentication(&assertion, &ceremony) {
        Ok(result) => result,
        Err(WebauthnError::CredentialPossibleCompromise) => {
            tracing::warn!(
                identity_id = %identity_id.0,
                "a security key's signature counter went backwards: the key may have been cloned"
            );
            return rejected();
        }
        Err(e) => {
            tracing::info!(error = %e, "a security key assertion did not verify");
            return rejected();
        }
    };
    let found = state
        .db
        .read(move |c| store::find(c, identity_id, Method::Webauthn).map_err(ApiError::from))
        .await?;
    let Some(credential) = found else {
        return rejected();
    };
    let Some(mut config) = CredentialsConfig::from_json(credential.config.as_ref().map(|c| &c.0))
    else {
        return rejected();
    };
    let mut known = false;
    for stored in &mut config.credentials {
        known |= stored.key.update_credential(&result).is_some();
    }
    // The key was removed since the challenge was made.
    if !known {
        return rejected();
    }
    let (id, config, at) = (credential.id, config.to_json(), row.updated_at);
    state
        .db
        .write(move |c| store::update_config(c, id, config, at).map_err(ApiError::from))
        .await?;
    Ok(Outcome::SignedIn(identity_id))
}

/// The aal2 step with a security key: verified here, completed by the AAL2 module (the session
/// is replaced by one with `webauthn` appended).
pub async fn submit_second_factor(
    step: crate::mfa::login::Step<'_>,
    submission: &Submission,
) -> Result<actix_web::HttpResponse, ApiError> {
    let mut step = step;
    let (session, _) = crate::session::current(step.state, step.req)
        .await?
        .ok_or(ApiError::Aal1Required)?;
    let outcome = second_factor(step.state, &mut step.row, session.identity_id, submission).await?;
    match outcome {
        Outcome::SignedIn(_) => {
            crate::mfa::login::finish(step, session, Method::Webauthn.name()).await
        }
        Outcome::Rejected(messages) => crate::mfa::login::reject(step, messages).await,
    }
}
