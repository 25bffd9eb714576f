//! Linking and unlinking upstream accounts in the settings flow (`link=<provider>`,
//! `unlink=<provider>`, Kratos' node names). Unlinking the identity's last way to sign in is
//! refused.

use actix_web::{HttpRequest, HttpResponse};
use service_kit::db::Id;

use super::callback::{Flow, show_message};
use super::link::Context;
use super::start::{self, OnFlow};
use super::store::{self, FlowKind};
use super::upstream::Verified;
use super::{ProviderSettings, Purpose, provider_node, text};
use crate::error::ApiError;
use crate::flow::http::see_other;
use crate::flow::messages::FlowMessages;
use crate::flow::settings::complete::{Submit, reject};
use crate::flow::settings::store::SettingsFlowRow;
use crate::flow::submit::Submission;
use crate::session;
use crate::state::AppState;

/// Whether a settings submission is for this method.
pub fn submitted(state: &AppState, submission: &Submission) -> bool {
    state.settings.flows.oidc.enabled
        && match submission.get("method") {
            Some(method) => method == super::METHOD,
            None => submission
                .non_empty("link")
                .or(submission.non_empty("unlink"))
                .is_some(),
        }
}

/// Remembers which providers the identity has linked, for the buttons of this flow.
pub async fn prepare(state: &AppState, row: &mut SettingsFlowRow) -> Result<(), ApiError> {
    if !state.settings.flows.oidc.enabled {
        return Ok(());
    }
    let identity_id = row.identity_id;
    let linked = linked(state, identity_id).await?;
    let mut context = Context::from_flow(&row.internal_context);
    context.linked = Some(linked);
    let expected = row.internal_context.clone();
    let new = context.into_flow(&row.internal_context);
    let now = state.settings.settings.clock.now().naive_utc();
    let (id, stored) = (row.id, new.clone());
    let swapped = state
        .db
        .write(move |c| {
            store::swap_context(c, FlowKind::Settings, id, &expected, stored, now)
                .map_err(ApiError::from)
        })
        .await?;
    if swapped {
        row.internal_context = new;
    }
    Ok(())
}

async fn linked(state: &AppState, identity_id: Id) -> Result<Vec<String>, ApiError> {
    let credential = state
        .db
        .read(move |c| store::find_credential(c, identity_id).map_err(ApiError::from))
        .await?;
    Ok(
        super::link::providers(credential.and_then(|c| c.config).as_ref())
            .iter()
            .filter_map(|p| p["provider"].as_str().map(str::to_string))
            .collect(),
    )
}

/// `link` buttons for the providers not linked yet, `unlink` for the others.
pub fn nodes(state: &AppState, row: &SettingsFlowRow) -> Vec<shared_types::flow::UiNode> {
    let config = &state.settings.flows.oidc;
    if !config.enabled {
        return Vec::new();
    }
    let linked = Context::from_flow(&row.internal_context)
        .linked
        .unwrap_or_default();
    config
        .providers
        .iter()
        .map(|p| {
            let purpose = if linked.contains(&p.id) {
                Purpose::Unlink
            } else {
                Purpose::Link
            };
            provider_node(p, purpose)
        })
        .collect()
}

pub async fn update(submit: Submit<'_>, submission: &Submission) -> Result<HttpResponse, ApiError> {
    let state = submit.state;
    if let Some(response) = refresh_required(&submit)? {
        return Ok(response);
    }
    if let Some(provider) = submission.non_empty("unlink") {
        return unlink(submit, provider.to_string()).await;
    }
    let flow = OnFlow {
        kind: FlowKind::Settings,
        id: submit.row.id,
        browser: submit.row.flow_type == "browser",
        internal_context: &submit.row.internal_context,
    };
    match start::begin(state, flow, submission.non_empty("link"), submit.json).await? {
        Ok(response) => Ok(response),
        Err(messages) => reject(submit, Some(super::METHOD), None, messages).await,
    }
}

async fn unlink(mut submit: Submit<'_>, provider: String) -> Result<HttpResponse, ApiError> {
    let state = submit.state;
    let identity_id = submit.session.identity_id;
    let methods = state
        .db
        .read(move |c| store::sign_in_methods(c, identity_id).map_err(ApiError::from))
        .await?;
    if methods <= 1 {
        let messages = FlowMessages::form(text::unlink_last());
        return reject(submit, Some(super::METHOD), None, messages).await;
    }
    let now = state.settings.settings.clock.now().naive_utc();
    let gone = provider.clone();
    let removed = state
        .db
        .write(move |c| store::unlink(c, identity_id, &gone, now).map_err(ApiError::from))
        .await?;
    if !removed {
        let messages = FlowMessages::field("unlink", text::unknown_provider(&provider));
        return reject(submit, Some(super::METHOD), None, messages).await;
    }
    tracing::info!(identity_id = %identity_id.0, "unlinked an upstream account");
    submit.row.internal_context =
        Context::from_flow(&submit.row.internal_context).into_flow(&submit.row.internal_context);
    prepare(state, &mut submit.row).await?;
    if !submit.json {
        return saved(state, Flow::Settings(submit.row)).await;
    }
    let row = mark_saved(state, submit.row).await?;
    let identity = session::identity_for(state, identity_id).await?;
    let schema = state
        .schemas
        .get(&identity.schema_id)
        .ok_or_else(|| anyhow::anyhow!("the identity's schema {:?} is gone", identity.schema_id))?;
    let masked = submit.token.as_ref().map(|t| state.csrf.mask(t));
    let public = &state.settings.public_url;
    let mut flow =
        crate::flow::settings::to_wire(&row, identity, schema, public, masked, Vec::new());
    flow.ui.nodes.extend(nodes(state, &row));
    Ok(crate::flow::http::no_store(HttpResponse::Ok()).json(flow))
}

/// Linking and unlinking change how the account signs in: like a password change they need a
/// recent sign-in (`privileged_session_max_age`); else sign in again and come back (JSON: 403
/// `session_refresh_required`).
fn refresh_required(submit: &Submit<'_>) -> Result<Option<HttpResponse>, ApiError> {
    let state = submit.state;
    let max_age = state.settings.flows.settings.privileged_session_max_age;
    let now = state.settings.settings.clock.now();
    let authenticated_at = submit.session.authenticated_at.and_utc();
    if crate::flow::settings::is_privileged(authenticated_at, now, max_age) {
        return Ok(None);
    }
    let login = sign_in_again(state);
    if submit.json {
        return Err(ApiError::SessionRefreshRequired(login.into()));
    }
    Ok(Some(see_other(login.as_str()).finish()))
}

/// The sign-in that refreshes the session and comes back to the settings page.
fn sign_in_again(state: &AppState) -> url::Url {
    let mut login = state
        .settings
        .public_url
        .join("self-service/login/browser")
        .expect("a fixed relative path joins");
    login
        .query_pairs_mut()
        .append_pair("refresh", "true")
        .append_pair("return_to", state.settings.flows.settings.ui.as_str());
    login
}

/// The callback of a `link` round trip: links the upstream account to the flow's identity (the
/// signed-in one), unless another identity has it.
pub async fn link_verified(
    state: &AppState,
    req: &HttpRequest,
    flow: Flow,
    provider: &ProviderSettings,
    verified: &Verified,
    identifier: String,
) -> Result<HttpResponse, ApiError> {
    let Flow::Settings(mut row) = flow else {
        unreachable!("only settings flows link")
    };
    let (current, _) = session::current(state, req)
        .await?
        .ok_or(ApiError::SessionInactive)?;
    if current.identity_id != row.identity_id {
        return Err(ApiError::IdentityMismatch);
    }
    // The round trip took time: the session must still be recent and at the settings' AAL.
    let max_age = state.settings.flows.settings.privileged_session_max_age;
    let now = state.settings.settings.clock.now();
    let authenticated_at = current.authenticated_at.and_utc();
    if !crate::flow::settings::is_privileged(authenticated_at, now, max_age) {
        return Ok(see_other(sign_in_again(state).as_str()).finish());
    }
    if let Some(step_up) = crate::mfa::aal::settings_gate(state, req, &current, false).await? {
        return Ok(step_up);
    }
    let lookup = identifier.clone();
    let owner = state
        .db
        .read(move |c| store::find_identity(c, &lookup).map_err(ApiError::from))
        .await?;
    if owner.is_some() {
        let messages = FlowMessages::form(text::account_exists());
        return show_message(state, Flow::Settings(row), messages).await;
    }
    let entry = super::link::entry(state, &provider.id, verified)?;
    let now = state.settings.settings.clock.now().naive_utc();
    let identity_id = row.identity_id;
    state
        .db
        .write(move |c| {
            store::link(c, identity_id, &identifier, entry, now).map_err(ApiError::from)
        })
        .await?;
    tracing::info!(identity_id = %identity_id.0, "linked an upstream account in settings");
    row = crate::flow::lifecycle::load(state, Some(&row.id.0.to_string())).await?;
    prepare(state, &mut row).await?;
    saved(state, Flow::Settings(row)).await
}

/// The flow says "saved" and the browser returns to the settings page.
async fn saved(state: &AppState, flow: Flow) -> Result<HttpResponse, ApiError> {
    let Flow::Settings(row) = flow else {
        unreachable!("only settings flows")
    };
    let row = mark_saved(state, row).await?;
    Ok(see_other(crate::flow::lifecycle::ui_url(state, &row).as_str()).finish())
}

async fn mark_saved(
    state: &AppState,
    mut row: SettingsFlowRow,
) -> Result<SettingsFlowRow, ApiError> {
    row.state = crate::flow::settings::STATE_DONE.into();
    row.active = Some(super::METHOD.into());
    row.ui_messages = FlowMessages::form(crate::flow::text::settings_saved()).to_json();
    let now = state.settings.settings.clock.now().naive_utc();
    let stored = row.clone();
    state
        .db
        .write(move |c| {
            crate::flow::settings::store::update_ui(c, &stored, now).map_err(ApiError::from)
        })
        .await?;
    Ok(row)
}
