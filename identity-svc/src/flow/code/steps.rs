//! The steps of a submission to a verification or recovery flow: send a code, check a code,
//! and the answers that keep the flow.

use actix_web::{HttpRequest, HttpResponse};
use diesel::Connection;
use url::Url;

use super::handlers::{config, expired, insert_flow, load_id, ui_url};
use super::store::{self, IssuedCode};
use super::{CodeFlowRow, CodeHasher, Kind, STATE_PASSED, STATE_SENT, text};
use crate::courier::Vars;
use crate::csrf::CsrfToken;
use crate::error::ApiError;
use crate::flow::http::{no_store, see_other};
use crate::flow::messages::FlowMessages;
use crate::flow::{recovery, verification};
use crate::state::AppState;

/// One submission, with what every step needs.
pub struct Step<'a> {
    pub state: &'a AppState,
    pub req: &'a HttpRequest,
    pub kind: Kind,
    pub row: CodeFlowRow,
    /// Answer in JSON (a JSON body, `Accept: application/json`, or an API flow).
    pub json: bool,
    /// The browser's CSRF token (browser flows).
    pub csrf: Option<CsrfToken>,
}

/// Sends a code to `email` (or, for an address without an account, nothing or the "invalid"
/// mail), doing the same work either way; the answer never tells them apart.
pub(super) async fn send_code(step: Step<'_>, email: &str) -> Result<HttpResponse, ApiError> {
    let (state, kind) = (step.state, step.kind);
    if step.row.state == STATE_PASSED {
        return reject(step, FlowMessages::form(text::code_invalid(kind))).await;
    }
    let email = email.trim().to_string();
    if !super::plausible_email(&email) {
        return reject(
            step,
            FlowMessages::field("email", text::invalid_email(&email)),
        )
        .await;
    }
    let now = state.settings.settings.clock.now();
    if let Some(minutes) = super::limits::count_send(state, kind, step.row.id, &email, now).await? {
        tracing::warn!(flow_id = %step.row.id.0, "code flow: send limit reached; no code sent");
        return reject(
            step,
            FlowMessages::form(super::limits::too_many_codes(minutes)),
        )
        .await;
    }
    let candidates = crate::identity::identifier_candidates(&email);
    let found = state
        .db
        .read(move |c| {
            match kind {
                Kind::Verification => verification::find_address(c, &candidates),
                Kind::Recovery => recovery::find_address(c, &candidates),
            }
            .map_err(ApiError::from)
        })
        .await?;
    let code = super::new_code();
    let hasher = CodeHasher::new(&state.settings.settings.secrets.cookie);
    let code_hash = hasher.hash(kind, step.row.id, &code);
    let config = config(state, kind);
    let minutes_left = (step.row.expires_at.and_utc() - now).num_minutes().max(1);
    // Mail goes to the address as stored; an unknown one gets what was typed.
    let (address_id, recipient) = match found {
        Some((id, stored)) => (Some(id), stored),
        None => (None, email.clone()),
    };
    let mail = match address_id {
        Some(_) => {
            let vars = Vars::from([
                (kind.code_variable(), code),
                ("ExpiresInMinutes", minutes_left.to_string()),
            ]);
            Some(
                state
                    .courier
                    .compose(kind.template(true), &recipient, &vars, now.naive_utc()),
            )
        }
        None if config.notify_unknown_recipients => {
            let template = kind.template(false);
            Some(
                state
                    .courier
                    .compose(template, &email, &Vars::new(), now.naive_utc()),
            )
        }
        None => None,
    };
    let messages = FlowMessages::form(text::code_sent(kind));
    let issued = IssuedCode {
        address: email,
        address_id,
        code_hash,
        messages: messages.to_json(),
    };
    let (id, at, queued) = (step.row.id, now.naive_utc(), mail.is_some());
    state
        .db
        .write(move |c| {
            c.transaction(|c| {
                store::issue_code(c, kind, id, &issued, at)?;
                if let Some(mail) = &mail {
                    crate::courier::store::insert(c, mail)?;
                }
                Ok::<_, diesel::result::Error>(())
            })
            .map_err(ApiError::from)
        })
        .await?;
    if queued {
        state.courier.wake();
    }
    tracing::info!(flow_id = %id.0, "code flow: address submitted");
    let row = load_id(state, kind, id).await?;
    respond(Step { row, ..step }, HttpResponse::Ok())
}

/// Checks a submitted code: one of the code's [`super::MAX_SUBMISSIONS`] is spent first, then
/// the code is compared and, if right, consumed with the flow's success in one transaction.
pub(super) async fn redeem(step: Step<'_>, code: &str) -> Result<HttpResponse, ApiError> {
    let (state, kind, id) = (step.state, step.kind, step.row.id);
    let now = state.settings.settings.clock.now().naive_utc();
    let reserved = state
        .db
        .write(move |c| store::reserve_attempt(c, kind, id, now).map_err(ApiError::from))
        .await?;
    if !reserved {
        let used_up = step.row.state == STATE_SENT && step.row.code_hash.is_some();
        if used_up {
            let messages = FlowMessages::form(text::too_many_attempts());
            let stored = messages.to_json();
            state
                .db
                .write(move |c| {
                    store::invalidate_code(c, kind, id, stored, now).map_err(ApiError::from)
                })
                .await?;
            tracing::warn!(flow_id = %id.0, "code flow: submissions used up; code dropped");
            let row = load_id(state, kind, id).await?;
            return respond(Step { row, ..step }, HttpResponse::BadRequest());
        }
        return reject(step, FlowMessages::form(text::code_invalid(kind))).await;
    }
    let hasher = CodeHasher::new(&state.settings.settings.secrets.cookie);
    let right = hasher.matches(kind, id, code, step.row.code_hash.as_deref());
    match (right, step.row.address_id, step.row.code_hash.clone()) {
        (true, Some(address_id), Some(code_hash)) => match kind {
            Kind::Verification => verification::complete(step, address_id, code_hash).await,
            Kind::Recovery => recovery::complete(step, address_id, code_hash).await,
        },
        _ => reject(step, FlowMessages::form(text::code_invalid(kind))).await,
    }
}

/// The flow's answer after a step that kept it: the flow (JSON) or its UI (browsers).
pub fn respond(
    step: Step<'_>,
    status: actix_web::HttpResponseBuilder,
) -> Result<HttpResponse, ApiError> {
    if step.json {
        let masked = step.csrf.as_ref().map(|t| step.state.csrf.mask(t));
        let flow = super::to_wire(
            step.kind,
            &step.row,
            &step.state.settings.public_url,
            masked,
        );
        return Ok(no_store(status).json(flow));
    }
    Ok(see_other(ui_url(step.state, step.kind, &step.row).as_str()).finish())
}

/// Keeps the flow with `messages` for the next render: 400 with the flow (JSON) or back to the
/// form (browsers).
pub async fn reject(mut step: Step<'_>, messages: FlowMessages) -> Result<HttpResponse, ApiError> {
    let (kind, id) = (step.kind, step.row.id);
    let now = step.state.settings.settings.clock.now().naive_utc();
    let stored = messages.to_json();
    step.state
        .db
        .write(move |c| store::set_messages(c, kind, id, stored, now).map_err(ApiError::from))
        .await?;
    step.row.ui_messages = messages.to_json();
    step.row.updated_at = now;
    respond(step, HttpResponse::BadRequest())
}

/// A submit after the flow expired: a new flow says so (JSON: 410 naming it).
pub(super) async fn restart_expired(
    step: Step<'_>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<HttpResponse, ApiError> {
    let (state, kind, row) = (step.state, step.kind, &step.row);
    let minutes = (now - row.expires_at.and_utc()).num_seconds() as f64 / 60.0;
    let return_to = row.return_to.as_deref().and_then(|r| Url::parse(r).ok());
    let hash = step.csrf.as_ref().map(|t| state.csrf.flow_hash(t));
    let messages = FlowMessages::form(text::flow_expired(kind, minutes));
    let browser = row.flow_type == "browser";
    let replacement = insert_flow(
        state,
        kind,
        browser,
        row.request_url.clone(),
        return_to,
        hash,
        messages,
    )
    .await?;
    if step.json {
        return Err(expired(state, kind, row, now, Some(replacement.id.0)));
    }
    Ok(see_other(ui_url(state, kind, &replacement).as_str()).finish())
}
