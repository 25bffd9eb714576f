//! `prompt=none` (OIDC Core §3.1.2.1): with a remembered login and a remembered consent that
//! covers the request, the code is issued at once, without a round trip through the UIs;
//! otherwise the client hears `consent_required` (a missing login was already
//! `login_required`).

use std::collections::BTreeMap;

use actix_web::HttpResponse;
use service_kit::db::Json;
use shared_types::client::OAuth2Client;
use shared_types::consent::{AcceptOAuth2ConsentRequest, AcceptOAuth2LoginRequest};

use super::handlers::{new_flow_row, now};
use super::redeem::{code_response, consent_row, new_code, object, to_client};
use super::response::AuthorizeError;
use crate::consent::{self, ConsentData};
use crate::error::ApiError;
use crate::flow::code::Grant;
use crate::flow::store::{self, LoginSessionRow};
use crate::flow::{self as flows, AuthorizeRequest, Decision, Decisions};
use crate::keyed::new_token;
use crate::state::AppState;

pub async fn complete(
    state: &AppState,
    client: &OAuth2Client,
    request: &AuthorizeRequest,
    params: &BTreeMap<String, String>,
    session: LoginSessionRow,
) -> Result<HttpResponse, AuthorizeError> {
    let required = || {
        to_client(
            request,
            "consent_required",
            "Prompt 'none' was requested, but no remembered consent covers the request.",
        )
    };
    if !consent::may_skip(client, request) {
        return Err(required());
    }
    let now = now(state);
    let (subject, client_id, at) = (
        session.subject.clone(),
        request.client_id.clone(),
        now.naive_utc(),
    );
    let remembered = state
        .db
        .read(move |c| {
            consent::store::remembered(c, &subject, &client_id, at).map_err(ApiError::from)
        })
        .await?;
    let Some(earlier) = consent::covering(&remembered, &request.scope, &request.audience) else {
        return Err(required());
    };
    let data = ConsentData::of(earlier);
    let grant = Grant {
        login_session_id: session.id.0,
        auth_time: session.authenticated_at.and_utc(),
        nonce: request.nonce.clone(),
        scope: request.scope.clone(),
        audience: request.audience.clone(),
        acr: data.acr.clone(),
        amr: data.amr.clone(),
        id_token_claims: object(data.session.id_token.clone()),
        access_token_claims: object(data.session.access_token.clone()),
    };
    // Nobody holds this flow's challenge or browser value: it can only be what it is now, done.
    let mut flow = new_flow_row(
        state,
        request,
        params,
        &new_token(""),
        &new_token(flows::CHALLENGE_PREFIX),
        now,
    )?;
    let accepted = AcceptOAuth2ConsentRequest {
        grant_scope: grant.scope.clone(),
        grant_access_token_audience: grant.audience.clone(),
        session: data.session.clone(),
        ..Default::default()
    };
    flow.state = flows::DONE.into();
    flow.subject = Some(session.subject.clone());
    flow.login_session_id = Some(session.id);
    flow.decisions = Json(
        serde_json::to_value(Decisions {
            login_skip: true,
            login: Some(Decision::Accepted(AcceptOAuth2LoginRequest {
                subject: session.subject.clone(),
                remember: true,
                acr: data.acr.clone(),
                amr: data.amr.clone(),
                ..Default::default()
            })),
            authenticated_at: Some(grant.auth_time),
            consent_requested_at: Some(now),
            consent: Some(Decision::Accepted(accepted.clone())),
        })
        .map_err(anyhow::Error::from)
        .map_err(ApiError::from)?,
    );
    let data = ConsentData {
        request_url: flow.request_url.clone(),
        requested_scope: request.scope.clone(),
        requested_audience: request.audience.clone(),
        ..data
    };
    let (code, code_row) = new_code(state, flow.id, request, &session.subject, &grant, now)?;
    let consent = consent_row(
        flow.id,
        &session.subject,
        request,
        &grant,
        &data,
        &accepted,
        now,
    )?;
    state
        .db
        .write(move |c| {
            store::insert_completed(c, &flow, &code_row, &consent).map_err(ApiError::from)
        })
        .await?;
    tracing::info!(client_id = %request.client_id, "issued an authorization code without UI (prompt=none)");
    code_response(state, request, &code)
}
