//! Native sign-in by ID token: a native app that signed in with the provider's own SDK submits
//! `{method: "oidc", provider, id_token, id_token_nonce}` to a login or registration flow. The
//! token is verified ([`super::idtoken`]), used by one flow only (a hash of its signing input,
//! bound to that flow, kept until it expires), and
//! then leads where a browser callback would ([`super::outcome`]): an api flow answers
//! `{session, session_token, …}` or the flow with messages (400); a browser flow (Kratos accepts
//! the token there too, after the flow's CSRF check) gets the browser's answer.

use actix_web::{HttpRequest, HttpResponse};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use service_kit::db::{AnyConnection, Id};
use sha2::{Digest, Sha256};

use super::callback::{Flow, show_message};
use super::idtoken::{self, LEEWAY, Refused};
use super::outcome::{self, Via};
use super::upstream::Verified;
use super::{Purpose, text};
use crate::db::schema_exchange::oidc_used_id_tokens as used;
use crate::error::ApiError;
use crate::flow::http::no_store;
use crate::flow::messages::FlowMessages;
use crate::flow::submit::Submission;
use crate::state::AppState;

/// Whether the submission carries an ID token (the native path).
pub fn carries_token(submission: &Submission) -> bool {
    submission.non_empty("id_token").is_some()
}

/// Signs in or registers with the submitted ID token; `Ok(Err(messages))` leaves the flow open
/// with a message (unknown provider, a token that does not verify or was used).
pub async fn submit(
    state: &AppState,
    req: &HttpRequest,
    flow: Flow,
    submission: &Submission,
    json: bool,
) -> Result<Result<HttpResponse, FlowMessages>, ApiError> {
    let config = &state.settings.flows.oidc;
    let requested = submission.non_empty("provider");
    let Some(provider) = requested.and_then(|id| config.provider(id)).cloned() else {
        let id = requested.unwrap_or_default();
        return Ok(Err(FlowMessages::form(text::unknown_provider(id))));
    };
    let token = submission.non_empty("id_token").unwrap_or_default();
    let nonce = submission.non_empty("id_token_nonce");
    let now = state.settings.settings.clock.now();
    let checked = match idtoken::verify(&state.oidc, &provider, token, nonce, now).await {
        Ok(checked) => checked,
        Err(refused) => return Ok(Err(refusal(&provider.id, refused))),
    };
    if !spend(state, flow.id(), token, checked.expires_at, now).await? {
        tracing::warn!(provider = %provider.id, "an ID token was submitted again");
        return Ok(Err(FlowMessages::form(text::upstream_failed(
            "This ID token was already used; sign in at the provider again.",
        ))));
    }
    let verified = Verified {
        subject: checked.subject,
        // Only the token's own claims: there is no access token for the userinfo endpoint.
        claims: checked.claims,
        id_token: token.to_string(),
        access_token: String::new(),
        refresh_token: None,
    };
    let via = Via::Submission { json };
    outcome::finish(state, req, flow, &provider, verified, via)
        .await
        .map(Ok)
}

fn refusal(provider: &str, refused: Refused) -> FlowMessages {
    let reason = match refused {
        Refused::Unavailable(e) => {
            tracing::warn!(provider, error = %e, "upstream provider unavailable");
            "The OpenID Connect provider could not be reached; try again later."
        }
        Refused::Invalid(e) => {
            tracing::info!(provider, error = %e, "an ID token was refused");
            "The ID token could not be verified."
        }
        Refused::Nonce(e) => {
            tracing::info!(provider, error = e, "an ID token's nonce was refused");
            "The ID token's nonce does not match the submitted id_token_nonce."
        }
    };
    FlowMessages::form(text::upstream_failed(reason))
}

/// The used-token key: SHA-256 of the JWS signing input (`header.payload`). The signature is
/// left out (an ES256 signature can be re-encoded into another valid one) and no secret goes in
/// (a rotated secret would make a used token look new).
pub fn token_hash(token: &str) -> String {
    let mut parts = token.splitn(3, '.');
    let header = parts.next().unwrap_or_default();
    let payload = parts.next().unwrap_or_default();
    let mut digest = Sha256::new();
    digest.update(header.as_bytes());
    digest.update(b".");
    digest.update(payload.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.finalize())
}

/// Records the token as used by `flow_id`; `false` when another flow already took it. The flow
/// that first took it may submit it again (a missing trait, a lost answer) until it completes —
/// a completed flow takes no submissions.
async fn spend(
    state: &AppState,
    flow_id: Id,
    token: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let hash = token_hash(token);
    // Kept while a clock with the leeway could still take the token.
    let until = (expires_at + LEEWAY * 2).naive_utc();
    let at = now.naive_utc();
    state
        .db
        .write(move |c| {
            c.transaction(|c| insert_used(c, &hash, flow_id, until, at))
                .map_err(ApiError::from)
        })
        .await
}

fn insert_used(
    c: &mut AnyConnection,
    hash: &str,
    flow_id: Id,
    until: chrono::NaiveDateTime,
    now: chrono::NaiveDateTime,
) -> QueryResult<bool> {
    diesel::delete(used::table.filter(used::expires_at.lt(now))).execute(c)?;
    let row = (
        used::token_hash.eq(hash),
        used::expires_at.eq(until),
        used::flow_id.eq(Some(flow_id)),
    );
    // diesel's ON CONFLICT clauses are per backend, so the query is built for each.
    let inserted = match c {
        AnyConnection::Postgresql(c) => diesel::insert_into(used::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
        AnyConnection::Sqlite(c) => diesel::insert_into(used::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    if inserted == 1 {
        return Ok(true);
    }
    let taken_by: Option<Option<Id>> = used::table
        .find(hash)
        .select(used::flow_id)
        .first(c)
        .optional()?;
    Ok(taken_by == Some(Some(flow_id)))
}

/// Keeps the flow open with `messages` and answers as the submission expects: the browser back
/// to the form, or the flow (with its messages) as a 400.
pub async fn reply(
    state: &AppState,
    flow: Flow,
    messages: FlowMessages,
    via: Via,
) -> Result<HttpResponse, ApiError> {
    let json = match via {
        Via::Callback => return show_message(state, flow, messages).await,
        Via::Submission { json } => json,
    };
    let (kind, id, browser) = (flow.kind(), flow.id(), flow.is_browser());
    let shown = show_message(state, flow, messages).await?;
    if browser && !json {
        return Ok(shown);
    }
    let raw = id.0.to_string();
    let body = match kind {
        super::store::FlowKind::Login => {
            let row = crate::flow::lifecycle::load(state, Some(&raw)).await?;
            serde_json::to_value(super::login_wire(state, &row, None))
        }
        super::store::FlowKind::Registration => {
            let row: crate::flow::registration::store::RegistrationFlowRow =
                crate::flow::lifecycle::load(state, Some(&raw)).await?;
            let schema = state.schemas.get(&row.identity_schema).ok_or_else(|| {
                anyhow::anyhow!("the flow's schema {:?} is gone", row.identity_schema)
            })?;
            let mut wire =
                crate::flow::registration::to_wire(&row, schema, &state.settings.public_url, None);
            let oidc = &state.settings.flows.oidc;
            super::extend_nodes(oidc, &mut wire.ui.nodes, Purpose::Registration);
            serde_json::to_value(wire)
        }
        super::store::FlowKind::Settings => {
            return Err(anyhow::anyhow!("ID tokens are not taken by settings flows").into());
        }
    }
    .map_err(anyhow::Error::from)?;
    Ok(no_store(HttpResponse::BadRequest()).json(body))
}

/// An api flow's sign-in (or registration) is done: the session token for the app, or — when
/// the flow's browser leg came back through the callback — on to the session token exchange.
pub async fn signed_in(
    state: &AppState,
    flow: &Flow,
    identity_id: service_kit::db::Id,
    started: Option<(crate::session::store::SessionRow, String)>,
    target: url::Url,
    via: Via,
) -> Result<HttpResponse, ApiError> {
    if let Via::Callback = via {
        return super::exchange::complete(state, flow, started.map(|(row, _)| row), target).await;
    }
    let identity = crate::session::identity_for(state, identity_id).await?;
    let continue_with = |token: &str| {
        vec![serde_json::json!({"action": "set_ory_session_token", "ory_session_token": token})]
    };
    if let Flow::Registration(_) = flow {
        let session = started
            .as_ref()
            .map(|(row, _)| crate::session::to_wire(row, identity.clone()));
        let token = started.map(|(_, token)| token);
        let body = shared_types::flow::SuccessfulNativeRegistration {
            identity,
            session,
            continue_with: token.as_deref().map(continue_with).unwrap_or_default(),
            session_token: token,
        };
        return Ok(no_store(HttpResponse::Ok()).json(body));
    }
    let (row, token) =
        started.ok_or_else(|| anyhow::anyhow!("a sign-in without a session was answered"))?;
    let body = shared_types::flow::SuccessfulLogin {
        session: crate::session::to_wire(&row, identity),
        continue_with: continue_with(&token),
        session_token: Some(token),
    };
    Ok(no_store(HttpResponse::Ok()).json(body))
}
