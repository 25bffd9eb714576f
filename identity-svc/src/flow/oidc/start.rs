//! Submitting `method=oidc&provider=<id>` (login, registration, settings `link`): the flow
//! remembers the round trip (state hash; nonce and PKCE verifier sealed) and the browser is sent
//! to the provider: a 303, or for an SPA Kratos' 422 `browser_location_change_required`.

use actix_web::{HttpRequest, HttpResponse};
use service_kit::db::{Id, Json};

use super::callback::Flow;
use super::link::{self, Context, Secrets};
use super::store::{self, FlowKind};
use super::text;
use crate::error::ApiError;
use crate::flow::http::{no_store, see_other};
use crate::flow::login::store::LoginFlowRow;
use crate::flow::messages::FlowMessages;
use crate::flow::registration::store::RegistrationFlowRow;
use crate::flow::submit::Submission;
use crate::state::AppState;

/// A login submission for this method: the round trip, or messages for the form; `None` when
/// the submission is for another method.
pub async fn on_login(
    state: &AppState,
    req: &HttpRequest,
    row: &LoginFlowRow,
    submission: &Submission,
    json: bool,
) -> Result<Option<Result<HttpResponse, FlowMessages>>, ApiError> {
    if !state.settings.flows.oidc.enabled || !super::submitted(submission) {
        return Ok(None);
    }
    if super::native::carries_token(submission) {
        let flow = Flow::Login(row.clone());
        return super::native::submit(state, req, flow, submission, json)
            .await
            .map(Some);
    }
    let flow = OnFlow {
        kind: FlowKind::Login,
        id: row.id,
        browser: row.flow_type == "browser",
        internal_context: &row.internal_context,
    };
    begin(state, flow, submission.non_empty("provider"), json)
        .await
        .map(Some)
}

/// A registration submission for this method. The traits typed so far are kept on the flow:
/// the callback fills in from them what the provider does not give.
pub async fn on_registration(
    state: &AppState,
    req: &HttpRequest,
    row: &RegistrationFlowRow,
    submission: &Submission,
    traits: Option<serde_json::Value>,
    json: bool,
) -> Result<Option<Result<HttpResponse, FlowMessages>>, ApiError> {
    if !state.settings.flows.oidc.enabled || !super::submitted(submission) {
        return Ok(None);
    }
    if let Some(traits) = traits {
        let kept = crate::flow::registration::kept_traits(&traits);
        let (id, messages) = (row.id, row.ui_messages.clone());
        let now = state.settings.settings.clock.now().naive_utc();
        state
            .db
            .write(move |c| {
                crate::flow::registration::store::update_ui(c, id, kept, messages, now)
                    .map_err(ApiError::from)
            })
            .await?;
    }
    if super::native::carries_token(submission) {
        // The row again, with the traits just kept (the claims are merged over them).
        let raw = row.id.0.to_string();
        let flow = Flow::Registration(crate::flow::lifecycle::load(state, Some(&raw)).await?);
        return super::native::submit(state, req, flow, submission, json)
            .await
            .map(Some);
    }
    let flow = OnFlow {
        kind: FlowKind::Registration,
        id: row.id,
        browser: row.flow_type == "browser",
        internal_context: &row.internal_context,
    };
    begin(state, flow, submission.non_empty("provider"), json)
        .await
        .map(Some)
}

/// The flow a submission was made on.
pub struct OnFlow<'a> {
    pub kind: FlowKind,
    pub id: Id,
    pub browser: bool,
    pub internal_context: &'a Json,
}

/// Starts the round trip to `provider`; `Ok(Err(messages))` when the flow stays as it is with a
/// message (unknown provider, an API flow, a provider that cannot be reached).
pub async fn begin(
    state: &AppState,
    flow: OnFlow<'_>,
    provider: Option<&str>,
    json: bool,
) -> Result<Result<HttpResponse, FlowMessages>, ApiError> {
    let config = &state.settings.flows.oidc;
    let Some(provider) = provider.and_then(|id| config.provider(id)) else {
        let id = provider.unwrap_or_default();
        return Ok(Err(FlowMessages::field(
            "provider",
            text::unknown_provider(id),
        )));
    };
    // An api flow goes through a (system) browser only when it ends in a session token
    // exchange; otherwise the app submits an ID token.
    if !flow.browser && !super::exchange::offered(state, flow.id).await? {
        return Ok(Err(FlowMessages::form(text::upstream_failed(
            "Signing in with an OpenID Connect provider needs a browser flow, an ID token, or an api flow with return_session_token_exchange_code=true.",
        ))));
    }
    let redirect_uri = config.redirect_uri(&state.settings.public_url, &provider.id);
    let prefix = format!("{}.{}.", flow.kind.tag(), flow.id.0.simple());
    let authorization = match state.oidc.authorize(provider, &redirect_uri, &prefix).await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(provider = %provider.id, error = %e, "upstream provider unavailable");
            return Ok(Err(FlowMessages::form(text::upstream_failed(
                "The OpenID Connect provider could not be reached; try again later.",
            ))));
        }
    };
    let secrets = Secrets {
        nonce: authorization.nonce.clone(),
        pkce_verifier: authorization.pkce_verifier.clone(),
    };
    let pending = link::seal_pending(state, flow.id, &provider.id, &authorization.state, &secrets)?;
    let mut context = Context::from_flow(flow.internal_context);
    context.pending = Some(pending);
    let expected = flow.internal_context.clone();
    let new = context.into_flow(flow.internal_context);
    let now = state.settings.settings.clock.now().naive_utc();
    let (kind, id) = (flow.kind, flow.id);
    let swapped = state
        .db
        .write(move |c| {
            store::swap_context(c, kind, id, &expected, new, now).map_err(ApiError::from)
        })
        .await?;
    if !swapped {
        return Err(ApiError::Conflict(
            "the flow changed while it was submitted; submit it again".into(),
        ));
    }
    Ok(Ok(location_change(&authorization.url, json)))
}

/// Sends the browser elsewhere: 303, or for JSON Kratos' 422 with `redirect_browser_to`.
pub fn location_change(url: &str, json: bool) -> HttpResponse {
    if !json {
        return see_other(url).finish();
    }
    no_store(HttpResponse::UnprocessableEntity()).json(serde_json::json!({
        "error": {
            "id": "browser_location_change_required",
            "code": 422,
            "status": "Unprocessable Entity",
            "reason": "In order to complete this flow please redirect the browser to the provided URL.",
            "message": "browser location change required"
        },
        "redirect_browser_to": url
    }))
}
