//! `GET /self-service/methods/oidc/callback/{provider}` (and POST, for `form_post` providers,
//! turned into a GET so that the browser's SameSite=Lax cookies come along, as in Kratos).
//! The state names the flow; the flow's anti-CSRF cookie binds the round trip to the browser
//! that started it; the state is used once.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use service_kit::db::{Id, Json};

use super::link::{self, Context};
use super::outcome;
use super::store::{self, FlowKind};
use super::text;
use crate::error::ApiError;
use crate::flow::http::see_other;
use crate::flow::lifecycle::{self, FlowRow};
use crate::flow::login::store::LoginFlowRow;
use crate::flow::messages::FlowMessages;
use crate::flow::registration::store::RegistrationFlowRow;
use crate::flow::settings::store::SettingsFlowRow;
use crate::state::AppState;

pub fn public_routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/self-service/methods/oidc/callback/{provider}",
        web::get().to(callback),
    )
    .route(
        "/self-service/methods/oidc/callback/{provider}",
        web::post().to(callback_form_post),
    );
    super::exchange::public_routes(cfg);
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

/// The flow a callback belongs to.
pub enum Flow {
    Login(LoginFlowRow),
    Registration(RegistrationFlowRow),
    Settings(SettingsFlowRow),
}

impl Flow {
    pub fn kind(&self) -> FlowKind {
        match self {
            Flow::Login(_) => FlowKind::Login,
            Flow::Registration(_) => FlowKind::Registration,
            Flow::Settings(_) => FlowKind::Settings,
        }
    }

    pub fn id(&self) -> Id {
        match self {
            Flow::Login(r) => r.id,
            Flow::Registration(r) => r.id,
            Flow::Settings(r) => r.id,
        }
    }

    pub fn internal_context(&self) -> &Json {
        match self {
            Flow::Login(r) => &r.internal_context,
            Flow::Registration(r) => &r.internal_context,
            Flow::Settings(r) => &r.internal_context,
        }
    }

    pub fn is_browser(&self) -> bool {
        self.browser_binding().0
    }

    fn browser_binding(&self) -> (bool, Option<&str>) {
        match self {
            Flow::Login(r) => (r.is_browser(), r.csrf_token_hash.as_deref()),
            Flow::Registration(r) => (r.is_browser(), r.csrf_token_hash.as_deref()),
            Flow::Settings(r) => (r.is_browser(), r.csrf_token_hash.as_deref()),
        }
    }

    pub fn ui_url(&self, state: &AppState) -> url::Url {
        match self {
            Flow::Login(r) => lifecycle::ui_url(state, r),
            Flow::Registration(r) => lifecycle::ui_url(state, r),
            Flow::Settings(r) => lifecycle::ui_url(state, r),
        }
    }

    async fn restart_if_closed(&self, state: &AppState) -> Result<Option<HttpResponse>, ApiError> {
        let now = state.settings.settings.clock.now();
        macro_rules! restart {
            ($row:expr) => {
                match lifecycle::closed_since($row, now) {
                    Some(since) => Some(lifecycle::restart(state, $row, since, now, false).await?),
                    None => None,
                }
            };
        }
        Ok(match self {
            Flow::Login(r) => restart!(r),
            Flow::Registration(r) => restart!(r),
            Flow::Settings(r) => restart!(r),
        })
    }
}

fn invalid_state() -> ApiError {
    ApiError::BadRequest(
        "the OpenID Connect state is unknown, was already used, or belongs to another provider"
            .into(),
    )
}

async fn load(state: &AppState, raw: &str) -> Result<Flow, ApiError> {
    let mut parts = raw.splitn(3, '.');
    let (Some(tag), Some(id), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid_state());
    };
    let kind = FlowKind::from_tag(tag).ok_or_else(invalid_state)?;
    let id = uuid::Uuid::try_parse(id)
        .map_err(|_| invalid_state())?
        .to_string();
    let found = match kind {
        FlowKind::Login => lifecycle::load(state, Some(&id)).await.map(Flow::Login),
        FlowKind::Registration => lifecycle::load(state, Some(&id))
            .await
            .map(Flow::Registration),
        FlowKind::Settings => lifecycle::load(state, Some(&id)).await.map(Flow::Settings),
    };
    found.map_err(|e| match e {
        ApiError::NotFound => invalid_state(),
        other => other,
    })
}

#[tracing::instrument(skip_all, fields(provider = %path))]
async fn callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    let provider = state
        .settings
        .flows
        .oidc
        .provider(&path)
        .ok_or(ApiError::NotFound)?
        .clone();
    let raw_state = query.state.as_deref().ok_or_else(invalid_state)?;
    let flow = load(&state, raw_state).await?;
    let (browser, csrf_hash) = flow.browser_binding();
    // Another browser's callback (or one without the flow's cookie) stops here. An api flow's
    // round trip (only with a session token exchange) runs in a system browser without the
    // flow's cookie: its session is only handed out for the app's init code.
    lifecycle::cookie_bound_token(&state, &req, browser, csrf_hash)?;
    let context = Context::from_flow(flow.internal_context());
    let pending = context
        .pending
        .clone()
        .filter(|p| p.provider == provider.id && p.state_hash == link::state_hash(raw_state))
        .ok_or_else(invalid_state)?;
    // Used once: the first callback takes the pending round trip out of the flow.
    let mut rest = context.clone();
    rest.pending = None;
    let expected = flow.internal_context().clone();
    let new = rest.into_flow(flow.internal_context());
    let now = state.settings.settings.clock.now().naive_utc();
    let (kind, id) = (flow.kind(), flow.id());
    let taken = state
        .db
        .write(move |c| {
            store::swap_context(c, kind, id, &expected, new, now).map_err(ApiError::from)
        })
        .await?;
    if !taken {
        return Err(invalid_state());
    }
    if let Some(restarted) = flow.restart_if_closed(&state).await? {
        return Ok(restarted);
    }
    let flow = load(&state, raw_state).await?;
    if let Some(error) = &query.error {
        let code: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        let reason = format!("The OpenID Connect provider answered with the error \"{code}\".");
        return show_message(
            &state,
            flow,
            FlowMessages::form(text::upstream_failed(&reason)),
        )
        .await;
    }
    let secrets = link::open_pending(&state, id, &pending).ok_or_else(invalid_state)?;
    let Some(code) = query.code.as_deref().filter(|c| !c.is_empty()) else {
        let reason = "The OpenID Connect provider returned no authorization code.";
        return show_message(
            &state,
            flow,
            FlowMessages::form(text::upstream_failed(reason)),
        )
        .await;
    };
    let redirect_uri = state
        .settings
        .flows
        .oidc
        .redirect_uri(&state.settings.public_url, &provider.id);
    let verified = match state
        .oidc
        .redeem(
            &provider,
            &redirect_uri,
            code,
            &secrets.nonce,
            secrets.pkce_verifier.as_deref(),
        )
        .await
    {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, "the upstream sign-in failed");
            let reason = "The sign-in at the OpenID Connect provider could not be completed.";
            return show_message(
                &state,
                flow,
                FlowMessages::form(text::upstream_failed(reason)),
            )
            .await;
        }
    };
    outcome::finish(
        &state,
        &req,
        flow,
        &provider,
        verified,
        outcome::Via::Callback,
    )
    .await
}

/// `form_post` providers POST the callback cross-site, without the SameSite=Lax cookies: 303 to
/// the GET with the same parameters, which the browser sends with them.
async fn callback_form_post(
    req: HttpRequest,
    form: web::Form<BTreeMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let mut url = url::Url::parse("http://callback.invalid/")
        .expect("fixed URL")
        .join(req.path())
        .map_err(|_| ApiError::NotFound)?;
    for key in ["state", "code", "error"] {
        if let Some(value) = form.get(key) {
            url.query_pairs_mut().append_pair(key, value);
        }
    }
    let relative = format!("{}?{}", url.path(), url.query().unwrap_or_default());
    Ok(see_other(&relative).finish())
}

/// Keeps the flow open with `messages` and sends the browser back to its page.
pub async fn show_message(
    state: &AppState,
    flow: Flow,
    messages: FlowMessages,
) -> Result<HttpResponse, ApiError> {
    let now = state.settings.settings.clock.now().naive_utc();
    let stored = messages.to_json();
    match &flow {
        Flow::Login(r) => {
            let (id, identifier) = (r.id, r.identifier.clone());
            state
                .db
                .write(move |c| {
                    crate::flow::login::store::update_ui(c, id, identifier, stored, now)
                        .map_err(ApiError::from)
                })
                .await?;
        }
        Flow::Registration(r) => {
            let (id, traits) = (r.id, r.traits.clone());
            state
                .db
                .write(move |c| {
                    crate::flow::registration::store::update_ui(c, id, traits, stored, now)
                        .map_err(ApiError::from)
                })
                .await?;
        }
        Flow::Settings(r) => {
            let mut row = r.clone();
            row.ui_messages = stored;
            row.active = Some(super::METHOD.into());
            state
                .db
                .write(move |c| {
                    crate::flow::settings::store::update_ui(c, &row, now).map_err(ApiError::from)
                })
                .await?;
        }
    }
    Ok(see_other(flow.ui_url(state).as_str()).finish())
}
