//! Completing a registration: the identity a submission asks for (traits checked against the
//! schema, the password against the policy and hashed), writing it with the flow's completion
//! and, with the `session` hook, a session; and the success answer.

use actix_web::{HttpRequest, HttpResponse};
use service_kit::settings::Secret;
use shared_types::flow::SuccessfulNativeRegistration;
use shared_types::identity::CreateIdentityBody;

use super::form;
use super::store::{self, Completed, RegistrationFlowRow};
use crate::error::ApiError;
use crate::flow::http::{no_store, see_other, with_cookies};
use crate::flow::lifecycle::FlowRow;
use crate::flow::messages::FlowMessages;
use crate::flow::text;
use crate::identity::store::{IdentityRecord, InsertError};
use crate::schema::IdentitySchema;
use crate::session;
use crate::state::AppState;

/// The identity a submission asks for, with its password hashed, or the messages that say why
/// not (schema problems, a missing or unacceptable password).
pub async fn new_registration(
    state: &AppState,
    schema: &IdentitySchema,
    traits: serde_json::Value,
    password: Option<&str>,
) -> Result<Result<Box<IdentityRecord>, FlowMessages>, ApiError> {
    let mut messages = form::messages(schema.problems(&traits), schema);
    let password = password.filter(|p| !p.is_empty());
    if password.is_none() {
        messages
            .fields
            .insert("password".into(), vec![text::missing("password")]);
    }
    let Some(password) =
        password.filter(|_| messages.form.is_empty() && messages.fields.is_empty())
    else {
        return Ok(Err(messages));
    };
    let body = CreateIdentityBody {
        schema_id: schema.id.clone(),
        traits,
        state: None,
        metadata_public: None,
        metadata_admin: None,
        external_id: None,
        credentials: None,
    };
    let mut record = crate::identity::new_identity(body, &state.schemas)?;
    let Some((credential, identifiers)) = record
        .credentials
        .iter_mut()
        .find(|(c, _)| c.credential_type == "password")
    else {
        return Err(ApiError::BadRequest(format!(
            "identity schema {:?} marks no trait as a password identifier, so it cannot be used to \
             register with a password",
            schema.id
        )));
    };
    let names: Vec<String> = identifiers.iter().map(|i| i.identifier.clone()).collect();
    if let Err(violation) = state.passwords.policy().check(password, &names) {
        let mut messages = FlowMessages::default();
        messages
            .fields
            .insert("password".into(), vec![violation.message()]);
        return Ok(Err(messages));
    }
    let hashed_password = state.passwords.hash(Secret::new(password)).await?;
    credential.config = Some(crate::credential::PasswordConfig { hashed_password }.to_json());
    Ok(Ok(Box::new(record)))
}

/// Completes the flow with the new identity; with the session hook also signs it in, replacing
/// any session the client had (no fixation, IF-15). `None` when the identifier is taken.
pub async fn register(
    state: &AppState,
    req: &HttpRequest,
    row: &RegistrationFlowRow,
    record: IdentityRecord,
    json: bool,
) -> Result<Option<HttpResponse>, ApiError> {
    let now = state.settings.settings.clock.now();
    let identity_id = record.identity.id;
    let started = state
        .settings
        .flows
        .registration
        .session_hook
        .then(|| state.sessions.start(identity_id, "password", now));
    let previous = match (&started, session::current(state, req).await?) {
        (Some(_), Some((old, _))) => Some(old.id),
        _ => None,
    };
    let (flow_id, session_row) = (row.id, started.as_ref().map(|(s, _)| s.clone()));
    let verifications = crate::flow::verification::prepare_codes(
        state,
        &record.verifiable,
        row.csrf_token_hash.as_deref(),
        now,
    );
    let mails = !verifications.is_empty();
    let completed = state
        .db
        .write(move |c| {
            let session = session_row.as_ref().map(|s| (s, previous));
            match store::complete(c, flow_id, record, session, &verifications, now.naive_utc()) {
                Ok(completed) => Ok(Some(completed)),
                Err(InsertError::Identifier(_))
                | Err(InsertError::Query(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                ))) => Ok(None),
                Err(other) => Err(ApiError::from(other)),
            }
        })
        .await?;
    let record = match completed {
        None => return Ok(None),
        Some(Completed::Registered(record)) => *record,
        Some(Completed::AlreadyDone) => {
            return Err(ApiError::BadRequest(
                "this registration flow was already completed; start a new one".into(),
            ));
        }
    };
    if mails {
        state.courier.wake();
    }
    tracing::info!(identity_id = %identity_id.0, session = started.is_some(), "registered with password");
    respond(state, row, record, started, json, now).map(Some)
}

/// The success answer: API flows get the session token (with the session hook), browsers the
/// session cookie and a renewed CSRF cookie, as a 303 or as JSON.
fn respond(
    state: &AppState,
    row: &RegistrationFlowRow,
    record: IdentityRecord,
    started: Option<(crate::session::store::SessionRow, String)>,
    json: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<HttpResponse, ApiError> {
    let mut identity = crate::identity::to_wire(record, &state.settings.public_url, &[])?;
    identity.metadata_admin = None;
    let target = state
        .settings
        .flows
        .return_to
        .target(row.return_to.as_deref());
    let session = started
        .as_ref()
        .map(|(s, _)| session::to_wire(s, identity.clone()));
    if !row.is_browser() {
        let token = started.map(|(_, token)| token);
        let continue_with = token
            .iter()
            .map(|t| serde_json::json!({"action": "set_ory_session_token", "ory_session_token": t}))
            .collect();
        let body = SuccessfulNativeRegistration {
            identity,
            session,
            session_token: token,
            continue_with,
        };
        return Ok(no_store(HttpResponse::Ok()).json(body));
    }
    let cookies = match &started {
        Some((session_row, token)) => {
            let expires_at = session_row.expires_at.and_utc();
            let session_cookie = state.sessions.cookies.issue(token, expires_at, now);
            vec![Some(session_cookie), state.csrf.fresh().1]
        }
        None => Vec::new(),
    };
    if json {
        let body = SuccessfulNativeRegistration {
            identity,
            session,
            session_token: None,
            continue_with: vec![serde_json::json!({
                "action": "redirect_browser_to",
                "redirect_browser_to": target.as_str()
            })],
        };
        return Ok(with_cookies(no_store(HttpResponse::Ok()), cookies).json(body));
    }
    Ok(with_cookies(see_other(target.as_str()), cookies).finish())
}
