//! The settings flow's second factors (methods `totp` and `lookup_secret`). A new flow gets the
//! identity's enrolment state and, without a TOTP app, a new secret (sealed to the flow) in its
//! `internal_context`; submissions change the credentials. Every change needs a privileged
//! session (IF-18); the aal2 rule is the settings flow's own (`required_aal`).

use actix_web::HttpResponse;
use serde_json::{Value, json};
use service_kit::db::Json;

use super::store::{self, LookupCodeRow};
use super::{LOOKUP, TOTP, lookup, text, totp};
use crate::error::ApiError;
use crate::flow::http::{no_store, see_other};
use crate::flow::lifecycle;
use crate::flow::messages::FlowMessages;
use crate::flow::settings::complete::{self, Submit};
use crate::flow::settings::handlers::render;
use crate::flow::settings::store::{self as flow_store, SettingsFlowRow};
use crate::flow::settings::{STATE_DONE, STATE_OPEN};
use crate::flow::submit::Submission;
use crate::state::AppState;

/// The method a submission is for: `method`, or (a form that only sent one of the buttons) the
/// method whose fields it carries.
pub fn method_of(submission: &Submission) -> Option<&'static str> {
    match submission.get("method").unwrap_or_default() {
        TOTP => Some(TOTP),
        LOOKUP | "lookup" => Some(LOOKUP),
        "" if submission.get("totp_unlink").is_some() || submission.get("totp_code").is_some() => {
            Some(TOTP)
        }
        "" if submission.with_prefix("lookup_secret_").next().is_some() => Some(LOOKUP),
        _ => None,
    }
}

/// A new secret for the identity, sealed to the flow.
fn pending_totp(state: &AppState, row: &SettingsFlowRow, account: &str) -> Result<Value, ApiError> {
    let issuer = state
        .mfa
        .totp
        .as_ref()
        .map_or("Olympus", |c| c.issuer.as_str());
    let url = totp::generate(issuer, account)?;
    Ok(json!({ "enrolled": false, "pending": totp::seal(&state.mfa.totp_cipher, &url, row.id)? }))
}

fn account_of(identity: &shared_types::identity::Identity) -> String {
    identity.traits["email"]
        .as_str()
        .map_or_else(|| identity.id.to_string(), str::to_string)
}

async fn set_context(
    state: &AppState,
    row: &mut SettingsFlowRow,
    key: &'static str,
    value: Value,
) -> Result<(), ApiError> {
    let id = row.id;
    row.internal_context = state
        .db
        .write(move |c| store::set_settings_context(c, id, key, value).map_err(ApiError::from))
        .await?;
    Ok(())
}

/// Gives a new settings flow the identity's second-factor state.
pub async fn prepare(
    state: &AppState,
    row: &mut SettingsFlowRow,
    identity: &shared_types::identity::Identity,
) -> Result<(), ApiError> {
    let enabled = state.mfa.enabled();
    if enabled.is_empty() {
        return Ok(());
    }
    let has = super::second_factors(state, row.identity_id).await?;
    if state.mfa.totp.is_some() {
        let value = if has.iter().any(|m| m == TOTP) {
            json!({ "enrolled": true })
        } else {
            pending_totp(state, row, &account_of(identity))?
        };
        set_context(state, row, TOTP, value).await?;
    }
    if state.mfa.lookup {
        let enrolled = has.iter().any(|m| m == LOOKUP);
        set_context(state, row, LOOKUP, json!({ "enrolled": enrolled })).await?;
    }
    Ok(())
}

/// `method=totp` or `method=lookup_secret`.
pub async fn submit(
    submit: Submit<'_>,
    method: &'static str,
    submission: &Submission,
) -> Result<HttpResponse, ApiError> {
    let enabled = match method {
        TOTP => submit.state.mfa.totp.is_some(),
        _ => submit.state.mfa.lookup,
    };
    if !enabled {
        let message = crate::flow::text::settings_unsupported_method(method);
        return complete::reject(submit, None, None, FlowMessages::form(message)).await;
    }
    if !submit.privileged() {
        return complete::refresh_required(submit);
    }
    let flag = |name: &str| submission.get(name) == Some("true");
    if method == TOTP {
        if flag("totp_unlink") {
            return unlink_totp(submit).await;
        }
        let code = submission.get("totp_code").unwrap_or_default().to_string();
        return link_totp(submit, &code).await;
    }
    if flag("lookup_secret_confirm") {
        confirm_lookup(submit).await
    } else if flag("lookup_secret_regenerate") {
        regenerate_lookup(submit).await
    } else if flag("lookup_secret_reveal") {
        reveal_lookup(submit).await
    } else if flag("lookup_secret_disable") {
        disable_lookup(submit).await
    } else {
        let message = crate::flow::text::missing("lookup_secret_regenerate");
        complete::reject(submit, Some(LOOKUP), None, FlowMessages::form(message)).await
    }
}

async fn link_totp(mut submit: Submit<'_>, code: &str) -> Result<HttpResponse, ApiError> {
    let state = submit.state;
    let context = submit.row.internal_context.0[TOTP].clone();
    let pending = context
        .get("pending")
        .map(|p| totp::open(&state.mfa.totp_cipher, p, submit.row.id))
        .transpose()?;
    let Some(url) = pending else {
        // Enrolled already (unlink first), or a flow from before the method was turned on.
        let message = text::totp_invalid();
        return complete::reject(
            submit,
            Some(TOTP),
            None,
            FlowMessages::field("totp_code", message),
        )
        .await;
    };
    let now = state.settings.settings.clock.now();
    let Some(step) = totp::check(&url, code, now)? else {
        let message = text::totp_invalid();
        return complete::reject(
            submit,
            Some(TOTP),
            None,
            FlowMessages::field("totp_code", message),
        )
        .await;
    };
    let at = now.naive_utc();
    let mut credential =
        store::new_credential(submit.session.identity_id, TOTP, Json(json!({})), at);
    credential.config = Some(Json(totp::seal(
        &state.mfa.totp_cipher,
        &url,
        credential.id,
    )?));
    state
        .db
        .write(move |c| store::replace_totp(c, &credential, step).map_err(ApiError::from))
        .await?;
    set_context(state, &mut submit.row, TOTP, json!({ "enrolled": true })).await?;
    tracing::info!(identity_id = %submit.session.identity_id.0, "TOTP app linked");
    succeed(submit, TOTP).await
}

async fn unlink_totp(mut submit: Submit<'_>) -> Result<HttpResponse, ApiError> {
    let state = submit.state;
    let identity_id = submit.session.identity_id;
    state
        .db
        .write(move |c| store::delete_credential(c, identity_id, TOTP).map_err(ApiError::from))
        .await?;
    let account = account_of(&submit.identity);
    let value = pending_totp(state, &submit.row, &account)?;
    set_context(state, &mut submit.row, TOTP, value).await?;
    tracing::info!(identity_id = %identity_id.0, "TOTP app unlinked");
    succeed(submit, TOTP).await
}

async fn regenerate_lookup(mut submit: Submit<'_>) -> Result<HttpResponse, ApiError> {
    let state = submit.state;
    let codes = lookup::generate();
    let sealed = lookup::seal_pending(&state.mfa.lookup_cipher, &codes, submit.row.id)?;
    let mut context = submit.row.internal_context.0[LOOKUP].clone();
    if !context.is_object() {
        context = json!({ "enrolled": false });
    }
    context["pending"] = sealed;
    context.as_object_mut().map(|o| o.remove("revealed"));
    set_context(state, &mut submit.row, LOOKUP, context).await?;
    show(submit).await
}

async fn confirm_lookup(mut submit: Submit<'_>) -> Result<HttpResponse, ApiError> {
    let state = submit.state;
    let context = &submit.row.internal_context.0[LOOKUP];
    let Some(codes) = context
        .get("pending")
        .and_then(|p| lookup::open_pending(&state.mfa.lookup_cipher, p, submit.row.id))
    else {
        let message = crate::flow::text::missing("lookup_secret_regenerate");
        return complete::reject(submit, Some(LOOKUP), None, FlowMessages::form(message)).await;
    };
    let at = state.settings.settings.clock.now().naive_utc();
    let credential = store::new_credential(submit.session.identity_id, LOOKUP, Json(json!({})), at);
    let mut rows = Vec::new();
    for (position, code) in codes.iter().enumerate() {
        let id = service_kit::db::Id::new_v7();
        let sealed = state
            .mfa
            .lookup_cipher
            .seal(code.as_bytes(), id.0.as_bytes())?;
        rows.push(LookupCodeRow {
            id,
            identity_credential_id: credential.id,
            code_hash: lookup::hash(&state.mfa.lookup_hash_keys, code),
            sealed_code: sealed.ciphertext,
            key_fingerprint: sealed.fingerprint,
            position: i32::try_from(position).unwrap_or(i32::MAX),
            used_at: None,
            created_at: at,
        });
    }
    state
        .db
        .write(move |c| store::replace_lookup(c, &credential, rows).map_err(ApiError::from))
        .await?;
    set_context(state, &mut submit.row, LOOKUP, json!({ "enrolled": true })).await?;
    tracing::info!(identity_id = %submit.session.identity_id.0, "recovery codes stored");
    succeed(submit, LOOKUP).await
}

async fn reveal_lookup(mut submit: Submit<'_>) -> Result<HttpResponse, ApiError> {
    let state = submit.state;
    let identity_id = submit.session.identity_id;
    let credential = state
        .db
        .read(move |c| store::find_credential(c, identity_id, LOOKUP).map_err(ApiError::from))
        .await?;
    let Some(credential) = credential else {
        let message = text::no_lookup();
        return complete::reject(submit, Some(LOOKUP), None, FlowMessages::form(message)).await;
    };
    let Some(codes) = lookup::open_codes(state, credential.id).await? else {
        let message = text::lookup_unreadable();
        return complete::reject(submit, Some(LOOKUP), None, FlowMessages::form(message)).await;
    };
    let mut shown = Vec::new();
    for (row, code) in codes {
        shown.push(match row.used_at {
            Some(at) => format!("{code}|{}", at.and_utc().to_rfc3339()),
            None => code,
        });
    }
    let sealed = lookup::seal_pending(&state.mfa.lookup_cipher, &shown, submit.row.id)?;
    let context = json!({ "enrolled": true, "revealed": sealed });
    set_context(state, &mut submit.row, LOOKUP, context).await?;
    show(submit).await
}

async fn disable_lookup(mut submit: Submit<'_>) -> Result<HttpResponse, ApiError> {
    let state = submit.state;
    let identity_id = submit.session.identity_id;
    state
        .db
        .write(move |c| store::delete_credential(c, identity_id, LOOKUP).map_err(ApiError::from))
        .await?;
    set_context(state, &mut submit.row, LOOKUP, json!({ "enrolled": false })).await?;
    tracing::info!(identity_id = %identity_id.0, "recovery codes removed");
    succeed(submit, LOOKUP).await
}

/// A step that shows something (new or revealed codes) and keeps the form open.
async fn show(submit: Submit<'_>) -> Result<HttpResponse, ApiError> {
    answer(submit, LOOKUP, STATE_OPEN, FlowMessages::default()).await
}

/// A change saved: Kratos' "Your changes have been saved!".
async fn succeed(submit: Submit<'_>, method: &str) -> Result<HttpResponse, ApiError> {
    let saved = FlowMessages::form(crate::flow::text::settings_saved());
    answer(submit, method, STATE_DONE, saved).await
}

async fn answer(
    mut submit: Submit<'_>,
    method: &str,
    flow_state: &str,
    messages: FlowMessages,
) -> Result<HttpResponse, ApiError> {
    let state = submit.state;
    let now = state.settings.settings.clock.now().naive_utc();
    submit.row.state = flow_state.into();
    submit.row.active = Some(method.into());
    submit.row.traits = None;
    submit.row.ui_messages = messages.to_json();
    let row = submit.row.clone();
    state
        .db
        .write(move |c| flow_store::update_ui(c, &row, now).map_err(ApiError::from))
        .await?;
    let identity = crate::session::identity_for(state, submit.session.identity_id).await?;
    if submit.json {
        let flow = render(
            state,
            &submit.row,
            identity,
            submit.token.as_ref(),
            Vec::new(),
        )?;
        return Ok(no_store(HttpResponse::Ok()).json(flow));
    }
    let target = match (&submit.row.return_to, flow_state == STATE_DONE) {
        (Some(return_to), true) => return_to.clone(),
        _ => lifecycle::ui_url(state, &submit.row).into(),
    };
    Ok(see_other(&target).finish())
}
