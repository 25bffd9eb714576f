//! What a verified upstream account leads to: a session for a known `<provider>:<subject>`, a
//! new identity from the mapped traits, the registration form when required traits are
//! missing, "sign in to link" when the address belongs to an existing identity (never an
//! automatic link), or a link from the settings flow.

use actix_web::{HttpRequest, HttpResponse};
use service_kit::db::Id;
use shared_types::identity::CreateIdentityBody;

use super::callback::Flow;
use super::link::{self, Context, PendingLink};
use super::store::{self, FlowKind};
use super::upstream::Verified;
use super::{METHOD, ProviderSettings, text};
use crate::error::ApiError;
use crate::flow::http::{see_other, with_cookies};
use crate::flow::lifecycle::{self, NewFlow};
use crate::flow::login::store::LoginFlowRow;
use crate::flow::messages::FlowMessages;
use crate::identity::store::{CredentialIdentifierRow, CredentialRow, IdentityRecord};
use crate::session;
use crate::state::AppState;

/// How the outcome reaches the client: the provider's callback (a browser), or a submission of
/// an ID token (`json`: the submission asked for JSON).
#[derive(Clone, Copy)]
pub enum Via {
    Callback,
    Submission { json: bool },
}

pub async fn finish(
    state: &AppState,
    req: &HttpRequest,
    flow: Flow,
    provider: &ProviderSettings,
    verified: Verified,
    via: Via,
) -> Result<HttpResponse, ApiError> {
    let identifier = format!("{}:{}", provider.id, verified.subject);
    if let Flow::Settings(_) = flow {
        return super::settings::link_verified(state, req, flow, provider, &verified, identifier)
            .await;
    }
    if let Some((identity_id, active)) = find_identity(state, &identifier).await? {
        if !active {
            return Err(ApiError::IdentityDisabled);
        }
        return sign_in_existing(state, req, &flow, identity_id, &provider.id, via).await;
    }
    let schema_id = match &flow {
        Flow::Registration(r) => r.identity_schema.clone(),
        _ => state.settings.settings.identity.default_schema_id.clone(),
    };
    let schema = state
        .schemas
        .get(&schema_id)
        .ok_or_else(|| anyhow::anyhow!("the identity schema {schema_id:?} is gone"))?;
    let mut traits = provider.mapper.traits(&verified.claims);
    if let Flow::Registration(r) = &flow
        && let (Some(kept), Some(mapped)) = (r.traits.as_ref(), traits.as_object())
    {
        // What the user typed fills in what the provider did not give.
        let mut merged = kept.0.clone();
        if let Some(object) = merged.as_object_mut() {
            object.extend(mapped.clone());
        }
        traits = merged;
    }
    schema.trim_marked(&mut traits);
    let marked = schema.marked(&traits);
    let mut values = marked.password_identifiers.clone();
    values.extend(marked.verifiable_addresses.iter().map(|(_, v)| v.clone()));
    let probe = values.clone();
    let clash = state
        .db
        .read(move |c| store::find_clash(c, &probe).map_err(ApiError::from))
        .await?;
    let entry = link::entry(state, &provider.id, &verified)?;
    if let Some(existing) = clash {
        // A callback racing this one may have registered this upstream account just now.
        if let Some((identity_id, true)) = find_identity(state, &identifier).await? {
            return sign_in_existing(state, req, &flow, identity_id, &provider.id, via).await;
        }
        let duplicate = values.first().cloned().unwrap_or_default();
        let label = provider
            .label
            .clone()
            .unwrap_or_else(|| provider.id.clone());
        let pending = PendingLink {
            identity_id: existing.0,
            identifier,
            entry,
        };
        return account_exists(state, flow, pending, &duplicate, &label, via).await;
    }
    let problems = schema.problems(&traits);
    if !problems.is_empty() {
        let messages = crate::flow::registration::form::messages(problems, schema);
        return complete_traits(state, flow, traits, messages, via).await;
    }
    let body = CreateIdentityBody {
        schema_id,
        traits,
        state: None,
        metadata_public: None,
        metadata_admin: None,
        external_id: None,
        credentials: None,
    };
    let mut record = crate::identity::new_identity(body, &state.schemas)?;
    // Only the upstream account signs in; a password can be added in settings.
    record.credentials.clear();
    let now = service_kit::db::now();
    let credential = CredentialRow {
        id: Id::new_v7(),
        identity_id: record.identity.id,
        credential_type: METHOD.into(),
        version: 0,
        created_at: now,
        updated_at: now,
        config: Some(service_kit::db::Json(
            serde_json::json!({ "providers": [entry] }),
        )),
    };
    let identifier_row = CredentialIdentifierRow {
        id: Id::new_v7(),
        identity_credential_id: credential.id,
        identity_id: record.identity.id,
        credential_type: METHOD.into(),
        identifier: identifier.clone(),
        created_at: now,
        updated_at: now,
    };
    let upstream = identifier;
    record.credentials.push((credential, vec![identifier_row]));
    // The provider vouches only for the addresses it gave itself, never for what the user typed.
    let vouched = provider.mapper.verified_values(&verified.claims);
    for address in &mut record.verifiable {
        let email = address.via == "email";
        let value = crate::schema::normalise(&address.value, email);
        if vouched
            .iter()
            .any(|v| crate::schema::normalise(v, email) == value)
        {
            address.verified = true;
            address.status = "completed".into();
            address.verified_at = Some(now);
        }
    }
    let identity_id = record.identity.id;
    let new = Some(record);
    if let Some(done) = sign_in(state, req, &flow, identity_id, new, &provider.id, via).await? {
        return Ok(done);
    }
    lost_race(state, req, flow, provider, &upstream, via).await
}

/// Two callbacks registered the same new upstream account at once and this one lost: it signs
/// in to the account the other created. When an address or identifier was taken by another
/// identity instead, the flow stays open with a message.
async fn lost_race(
    state: &AppState,
    req: &HttpRequest,
    flow: Flow,
    provider: &ProviderSettings,
    upstream: &str,
    via: Via,
) -> Result<HttpResponse, ApiError> {
    match find_identity(state, upstream).await? {
        Some((_, false)) => Err(ApiError::IdentityDisabled),
        Some((identity_id, true)) => {
            tracing::info!("the upstream account was registered meanwhile; signing in to it");
            sign_in_existing(state, req, &flow, identity_id, &provider.id, via).await
        }
        None => {
            let reason = "Another account took this address meanwhile; try again.";
            let messages = FlowMessages::form(text::upstream_failed(reason));
            super::native::reply(state, flow, messages, via).await
        }
    }
}

/// The identity an upstream account (`<provider>:<subject>`) signs in to, and whether it is active.
async fn find_identity(state: &AppState, upstream: &str) -> Result<Option<(Id, bool)>, ApiError> {
    let lookup = upstream.to_string();
    state
        .db
        .read(move |c| store::find_identity(c, &lookup).map_err(ApiError::from))
        .await
}

/// [`sign_in`] of an identity that exists (nothing new to register, so never taken).
async fn sign_in_existing(
    state: &AppState,
    req: &HttpRequest,
    flow: &Flow,
    identity_id: Id,
    provider: &str,
    via: Via,
) -> Result<HttpResponse, ApiError> {
    sign_in(state, req, flow, identity_id, None, provider, via)
        .await?
        .ok_or_else(|| anyhow::anyhow!("a sign-in without a new identity was taken").into())
}

/// Completes the flow and starts a session (registering `record` first, when given; a new
/// identity gets a session only with the registration `session` hook, as with a password),
/// replacing the browser's previous session (no fixation); 303 to the flow's `return_to`, or on
/// to the step-up when the identity has a second factor. `None` when the new identity's upstream
/// account, identifier or address was taken meanwhile (nothing was written).
async fn sign_in(
    state: &AppState,
    req: &HttpRequest,
    flow: &Flow,
    identity_id: Id,
    record: Option<IdentityRecord>,
    provider: &str,
    via: Via,
) -> Result<Option<HttpResponse>, ApiError> {
    let now = state.settings.settings.clock.now();
    let registered = record.is_some();
    let hook = !registered || state.settings.flows.registration.session_hook;
    let started = hook.then(|| {
        let (mut row, token) = state.sessions.start(identity_id, METHOD, now);
        if let Some(first) = row.authentication_methods.0.get_mut(0) {
            first["provider"] = serde_json::Value::String(provider.into());
        }
        (row, token)
    });
    // Only a browser flow replaces the browser's session: an api flow finished in the system
    // browser (the exchange) leaves that browser's own session alone.
    let previous = match &started {
        Some(_) if flow.is_browser() => session::current(state, req).await?.map(|(old, _)| old.id),
        _ => None,
    };
    let csrf_hash = match flow {
        Flow::Login(r) => r.csrf_token_hash.clone(),
        Flow::Registration(r) => r.csrf_token_hash.clone(),
        Flow::Settings(r) => r.csrf_token_hash.clone(),
    };
    let verifications = match &record {
        Some(r) => crate::flow::verification::prepare_codes(
            state,
            &r.verifiable,
            csrf_hash.as_deref(),
            now,
        ),
        None => Vec::new(),
    };
    let mails = !verifications.is_empty();
    let (kind, flow_id, at) = (flow.kind(), flow.id(), now.naive_utc());
    let inserted = started.as_ref().map(|(row, _)| row.clone());
    let completed = state
        .db
        .write(move |c| {
            store::complete(
                c,
                kind,
                flow_id,
                record,
                previous,
                inserted,
                &verifications,
                at,
            )
            .map_err(ApiError::from)
        })
        .await?;
    match completed {
        store::Completed::Done => {}
        store::Completed::AlreadyDone => {
            return Err(ApiError::BadRequest(
                "this flow was already completed; start a new one".into(),
            ));
        }
        store::Completed::Taken => return Ok(None),
    }
    if mails {
        state.courier.wake();
    }
    tracing::info!(identity_id = %identity_id.0, registered, session = started.is_some(), "signed in with an upstream provider");
    let return_to = match flow {
        Flow::Login(r) => r.return_to.clone(),
        Flow::Registration(r) => r.return_to.clone(),
        Flow::Settings(r) => r.return_to.clone(),
    };
    let target = state.settings.flows.return_to.target(return_to.as_deref());
    if !flow.is_browser() {
        let done = super::native::signed_in(state, flow, identity_id, started, target, via);
        return done.await.map(Some);
    }
    let Some((session_row, token)) = started else {
        return Ok(Some(see_other(target.as_str()).finish()));
    };
    // An identity with a second factor goes on to the step-up, as after a password.
    let target = crate::mfa::aal::after_first_factor(state, &session_row, target).await?;
    let session_cookie =
        state
            .sessions
            .cookies
            .issue(&token, session_row.expires_at.and_utc(), now);
    let (_, csrf_cookie) = state.csrf.fresh();
    if let Via::Submission { json: true } = via {
        // A single-page app's submission: the session and where to go, as after a password.
        let identity = session::identity_for(state, identity_id).await?;
        let body = shared_types::flow::SuccessfulLogin {
            session: session::to_wire(&session_row, identity),
            session_token: None,
            continue_with: vec![serde_json::json!({
                "action": "redirect_browser_to", "redirect_browser_to": target.as_str()
            })],
        };
        let ok = crate::flow::http::no_store(HttpResponse::Ok());
        return Ok(Some(
            with_cookies(ok, [Some(session_cookie), csrf_cookie]).json(body),
        ));
    }
    Ok(Some(
        with_cookies(
            see_other(target.as_str()),
            [Some(session_cookie), csrf_cookie],
        )
        .finish(),
    ))
}

/// The address belongs to an existing identity: no link and no session yet. A login flow (this
/// one, or a new one for a registration flow) waits for the user to sign in with an existing
/// credential; only then is the upstream account linked.
async fn account_exists(
    state: &AppState,
    flow: Flow,
    pending: PendingLink,
    duplicate: &str,
    label: &str,
    via: Via,
) -> Result<HttpResponse, ApiError> {
    let login: LoginFlowRow = match flow {
        Flow::Login(row) => row,
        Flow::Registration(row) => {
            let new = NewFlow {
                request_url: row.request_url.clone(),
                return_to: row
                    .return_to
                    .as_deref()
                    .and_then(|r| url::Url::parse(r).ok()),
                csrf_token_hash: row.csrf_token_hash.clone(),
                messages: FlowMessages::default(),
            };
            lifecycle::create(state, new, false).await?
        }
        Flow::Settings(_) => unreachable!("settings links are handled before"),
    };
    let mut context = Context::from_flow(&login.internal_context);
    context.link = Some(pending);
    let expected = login.internal_context.clone();
    let new = context.into_flow(&login.internal_context);
    let now = state.settings.settings.clock.now().naive_utc();
    let id = login.id;
    let swapped = state
        .db
        .write(move |c| {
            store::swap_context(c, FlowKind::Login, id, &expected, new, now).map_err(ApiError::from)
        })
        .await?;
    if !swapped {
        return Err(ApiError::Conflict(
            "the flow changed meanwhile; try again".into(),
        ));
    }
    let mut messages = FlowMessages::form(text::sign_in_to_link(duplicate, label));
    messages.form.push(text::account_exists());
    let mut login = login;
    login.identifier = Some(duplicate.to_string());
    super::native::reply(state, Flow::Login(login), messages, via).await
}

/// Required traits are missing: the registration form with the traits the provider gave and
/// messages on the rest; submitting it with the provider button starts a new round trip whose
/// claims are merged over what the user typed.
async fn complete_traits(
    state: &AppState,
    flow: Flow,
    traits: serde_json::Value,
    messages: FlowMessages,
    via: Via,
) -> Result<HttpResponse, ApiError> {
    let mut row = match flow {
        Flow::Registration(row) => row,
        Flow::Login(row) => {
            let new = NewFlow {
                request_url: row.request_url.clone(),
                return_to: row
                    .return_to
                    .as_deref()
                    .and_then(|r| url::Url::parse(r).ok()),
                csrf_token_hash: row.csrf_token_hash.clone(),
                messages: FlowMessages::default(),
            };
            let schema = state.settings.settings.identity.default_schema_id.clone();
            lifecycle::create(state, new, schema).await?
        }
        Flow::Settings(_) => unreachable!("settings links are handled before"),
    };
    row.traits = crate::flow::registration::kept_traits(&traits);
    super::native::reply(state, Flow::Registration(row), messages, via).await
}
