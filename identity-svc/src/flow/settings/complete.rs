//! Completing a settings submission: new traits (`profile`) or a new password (`password`),
//! checked, then written with the flow's success in one transaction, reusing the admin update's
//! derivation of identifiers and addresses (an address that stays keeps its verification; a new
//! one starts unverified and, with verification on, gets a code mail).

use actix_web::HttpResponse;
use chrono::SubsecRound;
use diesel::Connection;
use serde_json::Value;
use service_kit::settings::Secret;
use shared_types::identity::Identity;

use super::handlers::render;
use super::store::{self, SettingsFlowRow};
use super::{STATE_DONE, STATE_OPEN, is_privileged, kept_traits};
use crate::csrf::CsrfToken;
use crate::error::ApiError;
use crate::flow::http::{no_store, see_other};
use crate::flow::lifecycle;
use crate::flow::messages::FlowMessages;
use crate::flow::registration::form;
use crate::flow::{text, verification};
use crate::identity::store::IdentityRecord;
use crate::identity::update::{self, Changes};
use crate::identity::update_store::{self, Outcome, UpdateError};
use crate::schema::{IdentitySchema, Marked};
use crate::session::store::SessionRow;
use crate::state::AppState;

/// One submission to a flow that passed the session, identity, CSRF and expiry checks.
pub struct Submit<'a> {
    pub state: &'a AppState,
    pub row: SettingsFlowRow,
    pub session: SessionRow,
    pub identity: Identity,
    /// Answer in JSON (a JSON body, `Accept: application/json`, or an API flow).
    pub json: bool,
    pub token: Option<CsrfToken>,
}

impl Submit<'_> {
    pub fn schema(&self) -> Result<&IdentitySchema, ApiError> {
        self.state
            .schemas
            .get(&self.identity.schema_id)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "the identity's schema {:?} is gone",
                    self.identity.schema_id
                )
                .into()
            })
    }

    pub(crate) fn privileged(&self) -> bool {
        is_privileged(
            self.session.authenticated_at.and_utc(),
            self.state.settings.settings.clock.now(),
            self.state
                .settings
                .flows
                .settings
                .privileged_session_max_age,
        )
    }
}

/// `method=profile`: the traits must satisfy the schema; changing an identifier or an address
/// needs a privileged session.
pub async fn profile(submit: Submit<'_>, mut traits: Value) -> Result<HttpResponse, ApiError> {
    let schema = submit.schema()?;
    schema.trim_marked(&mut traits);
    let problems = schema.problems(&traits);
    if !problems.is_empty() {
        let messages = form::messages(problems, schema);
        return reject(submit, Some("profile"), Some(traits), messages).await;
    }
    let current = current_record(&submit).await?;
    let marked = schema.marked(&traits);
    if sensitive_change(&schema.marked(&current.identity.traits.0), &marked) && !submit.privileged()
    {
        return refresh_required(submit);
    }
    let changes = changes_of(&current, traits, None);
    save(submit, current, changes, marked, "profile").await
}

/// `method=password`: needs a privileged session, then the policy (with the identity's
/// identifiers) and an argon2id hash.
pub async fn password(submit: Submit<'_>, password: String) -> Result<HttpResponse, ApiError> {
    if !submit.privileged() {
        return refresh_required(submit);
    }
    if password.is_empty() {
        let mut messages = FlowMessages::default();
        messages
            .fields
            .insert("password".into(), vec![text::missing("password")]);
        return reject(submit, Some("password"), None, messages).await;
    }
    let schema = submit.schema()?;
    let current = current_record(&submit).await?;
    let marked = schema.marked(&current.identity.traits.0);
    if marked.password_identifiers.is_empty() {
        let messages = FlowMessages::form(text::validation_generic(
            "The identity has no trait that its schema marks as a password identifier.",
        ));
        return reject(submit, Some("password"), None, messages).await;
    }
    let policy = submit.state.passwords.policy();
    if let Err(violation) = policy.check(&password, &marked.password_identifiers) {
        let mut messages = FlowMessages::default();
        messages
            .fields
            .insert("password".into(), vec![violation.message()]);
        return reject(submit, Some("password"), None, messages).await;
    }
    let hash = submit.state.passwords.hash(Secret::new(password)).await?;
    let traits = current.identity.traits.0.clone();
    let changes = changes_of(&current, traits, Some(hash));
    save(submit, current, changes, marked, "password").await
}

/// Identifiers or addresses differ (Kratos treats these as privileged, like the password).
fn sensitive_change(before: &Marked, after: &Marked) -> bool {
    fn sorted<T: Ord + Clone>(v: &[T]) -> Vec<T> {
        let mut v = v.to_vec();
        v.sort();
        v
    }
    sorted(&before.password_identifiers) != sorted(&after.password_identifiers)
        || sorted(&before.verifiable_addresses) != sorted(&after.verifiable_addresses)
        || sorted(&before.recovery_addresses) != sorted(&after.recovery_addresses)
}

fn changes_of(current: &IdentityRecord, traits: Value, hashed_password: Option<String>) -> Changes {
    let identity = &current.identity;
    Changes {
        schema_id: identity.schema_id.clone(),
        traits,
        state: None,
        metadata_public: identity.metadata_public.as_ref().map(|m| m.0.clone()),
        metadata_admin: identity.metadata_admin.as_ref().map(|m| m.0.clone()),
        external_id: identity.external_id.clone(),
        verification: Vec::new(),
        hashed_password,
    }
}

async fn current_record(submit: &Submit<'_>) -> Result<IdentityRecord, ApiError> {
    let id = submit.session.identity_id;
    submit
        .state
        .db
        .read(move |c| crate::identity::store::find(c, id, true).map_err(ApiError::from))
        .await
}

/// Writes the identity, the flow's success, the verification mails of new addresses and (after
/// a password change, with `revoke_active_sessions`) the end of the other sessions, in one
/// transaction; then answers with the flow.
async fn save(
    mut submit: Submit<'_>,
    current: IdentityRecord,
    changes: Changes,
    marked: Marked,
    method: &str,
) -> Result<HttpResponse, ApiError> {
    let state = submit.state;
    let now = state
        .settings
        .settings
        .clock
        .now()
        .naive_utc()
        .trunc_subsecs(6);
    let plan = update::plan(current, changes, marked, now)?;
    let submitted = (method == "profile").then(|| plan.record.identity.traits.0.clone());
    let new_addresses: Vec<_> = plan
        .record
        .verifiable
        .iter()
        .filter(|a| !plan.kept_verifiable.contains(&a.id))
        .cloned()
        .collect();
    let pending = verification::prepare_codes(
        state,
        &new_addresses,
        submit.row.csrf_token_hash.as_deref(),
        state.settings.settings.clock.now(),
    );
    let continue_with = verification::continue_with(state, &pending);
    submit.row.state = STATE_DONE.into();
    submit.row.active = Some(method.into());
    submit.row.traits = None;
    submit.row.ui_messages = FlowMessages::form(text::settings_saved()).to_json();
    let revoke = (method == "password"
        && state.settings.flows.settings.revoke_sessions_on_password)
        .then_some((submit.session.identity_id, submit.session.id));
    let row = submit.row.clone();
    let outcome = state
        .db
        .write(move |c| {
            let result = c.transaction(|c| {
                if update_store::update(c, &plan, None)? == Outcome::Stale {
                    return Ok(Outcome::Stale);
                }
                store::update_ui(c, &row, now)?;
                verification::store_codes(c, &pending)?;
                if let Some((identity_id, keep)) = revoke {
                    crate::session::store::revoke_others(c, identity_id, keep, now)?;
                }
                Ok::<_, UpdateError>(Outcome::Applied)
            });
            match result {
                Ok(outcome) => Ok(Some(outcome)),
                Err(UpdateError::Identifier(_) | UpdateError::Address(_)) => Ok(None),
                Err(other) => Err(ApiError::from(other)),
            }
        })
        .await?;
    match outcome {
        None => {
            let messages = FlowMessages::form(text::duplicate_credentials());
            return reject(submit, Some(method), submitted, messages).await;
        }
        Some(Outcome::Stale) => {
            return Err(ApiError::Conflict(
                "the identity changed while this request was applied; try again".into(),
            ));
        }
        Some(Outcome::Applied) => {}
    }
    if !continue_with.is_empty() {
        state.courier.wake();
    }
    tracing::info!(identity_id = %submit.session.identity_id.0, method, "settings saved");
    let identity = crate::session::identity_for(state, submit.session.identity_id).await?;
    if submit.json {
        let flow = render(
            state,
            &submit.row,
            identity,
            submit.token.as_ref(),
            continue_with,
        )?;
        return Ok(no_store(HttpResponse::Ok()).json(flow));
    }
    let target = match &submit.row.return_to {
        Some(return_to) => return_to.clone(),
        None => lifecycle::ui_url(state, &submit.row).into(),
    };
    Ok(see_other(&target).finish())
}

/// Keeps the flow open with `messages` (and the typed traits) for the next render: 400 with the
/// flow (JSON) or back to the settings page (browsers).
pub async fn reject(
    mut submit: Submit<'_>,
    method: Option<&str>,
    traits: Option<Value>,
    messages: FlowMessages,
) -> Result<HttpResponse, ApiError> {
    let state = submit.state;
    let now = state.settings.settings.clock.now().naive_utc();
    submit.row.state = STATE_OPEN.into();
    submit.row.active = method.map(str::to_string).or(submit.row.active.take());
    submit.row.traits = traits.as_ref().and_then(kept_traits);
    submit.row.ui_messages = messages.to_json();
    let row = submit.row.clone();
    state
        .db
        .write(move |c| store::update_ui(c, &row, now).map_err(ApiError::from))
        .await?;
    lifecycle::rejected(state, &submit.row, submit.json, || {
        let token = submit.token.as_ref();
        render(state, &submit.row, submit.identity, token, Vec::new())
    })
}

/// The session is too old for this change (Kratos' `NewFlowNeedsReAuth`): sign in again with
/// `refresh=true`, coming back to the settings page. Browsers are sent there; JSON gets 403
/// `session_refresh_required` naming it. Unlike Kratos the way back names no flow: signing in
/// renews the anti-CSRF cookie this browser flow is bound to, so the page starts a new one.
pub(crate) fn refresh_required(submit: Submit<'_>) -> Result<HttpResponse, ApiError> {
    let state = submit.state;
    let mut login = state
        .settings
        .public_url
        .join("self-service/login/browser")
        .expect("a fixed relative path joins");
    login
        .query_pairs_mut()
        .append_pair("refresh", "true")
        .append_pair("return_to", state.settings.flows.settings.ui.as_str());
    if submit.json {
        return Err(ApiError::SessionRefreshRequired(login.into()));
    }
    Ok(see_other(login.as_str()).finish())
}
