//! The consent verifier of a device flow: the device code becomes approved (with what the
//! consent granted) or denied, in the same transaction that ends the flow, and the browser goes
//! to `urls.device.success`.

use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::Connection;
use service_kit::db::{AnyConnection, Id, Json};

use super::store::{self, CodeChanges};
use super::verify::{decided, error_page, same_browser};
use super::{APPROVED, CLAIMED, DENIED};
use crate::authorize::response::{AuthorizeError, found};
use crate::error::ApiError;
use crate::flow::code::Grant;
use crate::flow::store::{self as flow_store, FlowChanges, FlowRow, Lookup};
use crate::flow::{self as flows, Decision, Decisions};
use crate::keyed::Purpose;
use crate::state::AppState;

pub async fn redeem_consent(
    state: &AppState,
    req: &HttpRequest,
    verifier: &str,
) -> Result<HttpResponse, AuthorizeError> {
    let hashes = state.hasher.candidates(Purpose::Verifier, verifier);
    let flow = state
        .db
        .read(move |c| {
            flow_store::find(c, Lookup::ConsentVerifier, &hashes).map_err(ApiError::from)
        })
        .await?
        .ok_or_else(|| error_page("invalid_request", "The verifier is not valid."))?;
    if !same_browser(state, req, &flow.browser_hash) {
        return Err(AuthorizeError::Forbidden(
            "This device sign-in was started in another browser, or its cookie is missing.",
        ));
    }
    let decisions: Decisions = serde_json::from_value(flow.decisions.0.clone())
        .map_err(anyhow::Error::from)
        .map_err(ApiError::from)?;
    let now = state.settings.settings.clock.now();
    let outcome = match (&decisions.consent, &decisions.login) {
        (Some(Decision::Accepted(_)), Some(Decision::Accepted(_))) => {
            let grant = grant_of(&flow, &decisions, now)?;
            Outcome::Approved(Box::new(grant))
        }
        (Some(Decision::Rejected(reject)), _) => Outcome::Denied(flows::rejection_error(reject)),
        _ => {
            return Err(
                ApiError::Internal(anyhow::anyhow!("device consent without decisions")).into(),
            );
        }
    };
    let (flow_id, subject) = (flow.id, flow.subject.clone());
    let grant_json = match &outcome {
        Outcome::Approved(grant) => Some(Json(
            serde_json::to_value(grant)
                .map_err(anyhow::Error::from)
                .map_err(ApiError::from)?,
        )),
        Outcome::Denied(_) => None,
    };
    let done = state
        .db
        .write(move |c| finish(c, flow_id, subject, grant_json, now).map_err(ApiError::from))
        .await?;
    if !done {
        return Err(error_page(
            "access_denied",
            "The consent verifier has already been used.",
        ));
    }
    let mut target = state.settings.device_success_ui.clone();
    if let Outcome::Denied((error, description)) = &outcome {
        target
            .query_pairs_mut()
            .append_pair("error", error)
            .append_pair("error_description", description);
    }
    tracing::info!(client_id = %flow.client_id, approved = matches!(outcome, Outcome::Approved(_)), "a device authorization was decided");
    Ok(found(target.as_str()).finish())
}

enum Outcome {
    Approved(Box<Grant>),
    Denied((String, String)),
}

/// Ends the flow and decides its device code, both or neither.
fn finish(
    conn: &mut AnyConnection,
    flow_id: Id,
    subject: Option<String>,
    grant: Option<Json>,
    now: DateTime<Utc>,
) -> diesel::QueryResult<bool> {
    conn.transaction(|c| {
        let approved = grant.is_some();
        let changes = FlowChanges {
            state: Some(if approved { flows::DONE } else { flows::FAILED }.into()),
            updated_at: Some(now.naive_utc()),
            ..Default::default()
        };
        if !flow_store::transition(c, flow_id, flows::CONSENT_DECIDED, changes)? {
            return Ok(false);
        }
        let Some(code) = store::find_code_by_flow(c, flow_id)? else {
            return Err(diesel::result::Error::NotFound);
        };
        let changes = match grant {
            Some(grant) => CodeChanges {
                subject,
                grant_data: Some(grant),
                ..decided(APPROVED, now)
            },
            None => decided(DENIED, now),
        };
        if !store::transition_code(c, code.id, CLAIMED, changes)? {
            return Err(diesel::result::Error::RollbackTransaction);
        }
        Ok(true)
    })
    .or_else(|e| match e {
        diesel::result::Error::RollbackTransaction => Ok(false),
        other => Err(other),
    })
}

/// What the consent granted, as an authorization code would carry it.
fn grant_of(flow: &FlowRow, decisions: &Decisions, now: DateTime<Utc>) -> Result<Grant, ApiError> {
    let (Some(Decision::Accepted(consent)), Some(Decision::Accepted(login))) =
        (&decisions.consent, &decisions.login)
    else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "device grant without decisions"
        )));
    };
    let object = |v: &Option<serde_json::Value>| match v {
        Some(serde_json::Value::Object(map)) => map.clone(),
        _ => serde_json::Map::new(),
    };
    Ok(Grant {
        login_session_id: flow.login_session_id.map(|id| id.0).unwrap_or_default(),
        auth_time: decisions.authenticated_at.unwrap_or(now),
        nonce: None,
        scope: consent.grant_scope.clone(),
        audience: consent.grant_access_token_audience.clone(),
        acr: login.acr.clone(),
        amr: login.amr.clone(),
        id_token_claims: object(&consent.session.id_token),
        access_token_claims: object(&consent.session.access_token),
    })
}
