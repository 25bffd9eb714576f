//! The aal2 login flow (`login/{browser,api}?aal=aal2`): a signed-in identity proves a second
//! factor and its session is upgraded. The flow is bound to the session's identity (kept in the
//! flow's `internal_context`) and shows only the second factors it has; completing it ends the
//! old session and issues a new token with the method appended (no fixation, IF-15).

use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};
use service_kit::db::Id;
use shared_types::flow::{
    LoginFlow, SuccessfulLogin, UiNode, UiNodeAttributes, UiNodeMeta, UiText,
};
use url::Url;

use super::{LOOKUP, TOTP, text};
use crate::csrf::CsrfToken;
use crate::error::ApiError;
use crate::flow::http::{no_store, see_other, with_cookies};
use crate::flow::lifecycle;
use crate::flow::login::store::{self, LoginFlowRow};
use crate::flow::messages::FlowMessages;
use crate::flow::submit::Submission;
use crate::session::{self, store::SessionRow};
use crate::state::AppState;

const CONTEXT_KEY: &str = "aal2";

/// What an aal2 flow is for: the identity of the session that asked, and its second factors.
pub struct Aal2Request {
    identity_id: Id,
    identifier: String,
    methods: Vec<String>,
}

/// Reads `aal` of a login init. `None` for a first-factor flow; for `aal2`, the session must
/// exist (else `session_aal1_required`), be below aal2 unless `refresh` (else
/// `session_aal_already_fulfilled`) and its identity must have a second factor.
pub async fn requested(
    state: &AppState,
    req: &HttpRequest,
    aal: Option<&str>,
    refresh: bool,
) -> Result<Option<Aal2Request>, ApiError> {
    match aal {
        None | Some("") | Some("aal1") => return Ok(None),
        Some("aal2") => {}
        Some(_) => {
            return Err(ApiError::BadRequest("aal must be aal1 or aal2".into()));
        }
    }
    let (session, identity) = session::current(state, req)
        .await?
        .ok_or(ApiError::Aal1Required)?;
    if session.aal == "aal2" && !refresh {
        return Err(ApiError::AalAlreadyFulfilled);
    }
    let methods = super::second_factors(state, session.identity_id).await?;
    if methods.is_empty() {
        return Err(ApiError::BadRequest(
            "The identity has no second factor set up, so aal2 cannot be reached.".into(),
        ));
    }
    let identifier = identity.traits["email"]
        .as_str()
        .map_or_else(|| identity.id.to_string(), str::to_string);
    Ok(Some(Aal2Request {
        identity_id: session.identity_id,
        identifier,
        methods,
    }))
}

/// Turns a new flow into an aal2 flow for `request`.
pub async fn mark(
    state: &AppState,
    row: &mut LoginFlowRow,
    request: Aal2Request,
) -> Result<(), ApiError> {
    row.requested_aal = "aal2".into();
    row.identifier = Some(request.identifier);
    row.ui_messages = FlowMessages::form(text::login_mfa()).to_json();
    let mut context = row.internal_context.0.clone();
    context[CONTEXT_KEY] = json!({
        "identity_id": request.identity_id.0.to_string(),
        "methods": request.methods,
    });
    row.internal_context.0 = context;
    let stored = row.clone();
    state
        .db
        .write(move |c| super::store::mark_aal2(c, &stored).map_err(ApiError::from))
        .await
}

/// A browser aal2 flow opened by the server right after a first factor, for state that must wait
/// for the second factor (an upstream account to link): `context` is set in its
/// `internal_context`. It is bound to the browser that holds `csrf` and returns to `return_to`.
/// `None` when the identity has no second factor.
pub async fn open_after_first_factor(
    state: &AppState,
    session: &SessionRow,
    return_to: &Url,
    csrf: &CsrfToken,
    context: (&str, Value),
) -> Result<Option<LoginFlowRow>, ApiError> {
    let methods = super::second_factors(state, session.identity_id).await?;
    if methods.is_empty() {
        return Ok(None);
    }
    let identity = session::identity_for(state, session.identity_id).await?;
    let identifier = identity.traits["email"]
        .as_str()
        .map_or_else(|| identity.id.to_string(), str::to_string);
    let new = lifecycle::NewFlow {
        request_url: super::aal::step_up_url(state, Some(return_to.as_str())).into(),
        return_to: Some(return_to.clone()),
        csrf_token_hash: Some(state.csrf.flow_hash(csrf)),
        messages: FlowMessages::default(),
    };
    let mut row: LoginFlowRow = lifecycle::create(state, new, false).await?;
    row.internal_context.0[context.0] = context.1;
    let request = Aal2Request {
        identity_id: session.identity_id,
        identifier,
        methods,
    };
    mark(state, &mut row, request).await?;
    crate::webauthn::login::prepare(state, &mut row).await?;
    Ok(Some(row))
}

fn context_identity(row: &LoginFlowRow) -> Option<Id> {
    let raw = row.internal_context.0[CONTEXT_KEY]["identity_id"].as_str()?;
    uuid::Uuid::parse_str(raw).ok().map(Id)
}

fn context_methods(row: &LoginFlowRow) -> Vec<String> {
    row.internal_context.0[CONTEXT_KEY]["methods"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn input(
    group: &str,
    name: &str,
    kind: &str,
    value: Option<String>,
    label: Option<UiText>,
) -> UiNode {
    UiNode {
        node_type: "input".into(),
        group: group.into(),
        attributes: UiNodeAttributes {
            name: Some(name.into()),
            input_type: Some(kind.into()),
            value: value.map(Value::String),
            required: matches!(kind, "text" | "hidden").then_some(true),
            autocomplete: (name == "totp_code").then(|| "one-time-code".into()),
            disabled: false,
            node_type: "input".into(),
            ..Default::default()
        },
        messages: Vec::new(),
        meta: UiNodeMeta { label },
    }
}

/// The nodes of an aal2 flow: the identifier (hidden) and the identity's second factors.
pub fn nodes(row: &LoginFlowRow, masked_csrf: Option<String>) -> Vec<UiNode> {
    let mut nodes = Vec::new();
    if let Some(token) = masked_csrf {
        nodes.push(input("default", "csrf_token", "hidden", Some(token), None));
    }
    nodes.push(input(
        "default",
        "identifier",
        "hidden",
        row.identifier.clone(),
        None,
    ));
    for method in context_methods(row) {
        match method.as_str() {
            TOTP => {
                let label = Some(text::totp_code_label());
                nodes.push(input(TOTP, "totp_code", "text", None, label));
                let submit = Some(text::use_authenticator());
                nodes.push(input(TOTP, "method", "submit", Some(TOTP.into()), submit));
            }
            LOOKUP => {
                let label = Some(text::lookup_code_label());
                nodes.push(input(LOOKUP, "lookup_secret", "text", None, label));
                let submit = Some(text::use_lookup());
                nodes.push(input(
                    LOOKUP,
                    "method",
                    "submit",
                    Some(LOOKUP.into()),
                    submit,
                ));
            }
            _ => {}
        }
    }
    // The WebAuthn security key, when its module prepared a challenge for this flow.
    nodes.extend(crate::webauthn::nodes::login(&row.internal_context.0));
    nodes
}

/// An aal2 flow as Kratos shows it.
pub fn to_wire(row: &LoginFlowRow, public: &Url, masked_csrf: Option<String>) -> LoginFlow {
    let messages = FlowMessages::from_json(&row.ui_messages);
    let ui = messages.into_ui(public, "login", row.id, nodes(row, masked_csrf));
    LoginFlow {
        id: row.id.0,
        flow_type: row.flow_type.clone(),
        expires_at: row.expires_at.and_utc(),
        issued_at: row.issued_at.and_utc(),
        request_url: row.request_url.clone(),
        return_to: row.return_to.clone(),
        refresh: row.refresh,
        requested_aal: row.requested_aal.clone(),
        state: row.state.clone(),
        ui,
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
    }
}

/// One submission to an open aal2 flow that passed the CSRF and expiry checks.
pub struct Step<'a> {
    pub state: &'a AppState,
    pub req: &'a HttpRequest,
    pub row: LoginFlowRow,
    pub json: bool,
    pub token: Option<CsrfToken>,
}

/// `method=totp` or `method=lookup_secret` by the flow's identity, under the brute-force
/// throttle (keyed by the identity, so guesses are limited whatever the address).
pub async fn submit(step: Step<'_>, submission: &Submission) -> Result<HttpResponse, ApiError> {
    let state = step.state;
    let (session, _) = session::current(state, step.req)
        .await?
        .ok_or(ApiError::Aal1Required)?;
    if context_identity(&step.row) != Some(session.identity_id) {
        return Err(ApiError::IdentityMismatch);
    }
    let method = submission.get("method").unwrap_or_default();
    let offered = context_methods(&step.row).iter().any(|m| m == method)
        && state.mfa.enabled().contains(&method);
    if !offered {
        let message = crate::flow::text::unsupported_method(method);
        return reject(step, FlowMessages::form(message)).await;
    }
    let field = if method == TOTP {
        "totp_code"
    } else {
        "lookup_secret"
    };
    let Some(typed) = submission.non_empty(field) else {
        let message = crate::flow::text::missing(field);
        return reject(step, FlowMessages::field(field, message)).await;
    };
    let attempt = state
        .throttle
        .attempt(step.req, &format!("aal2:{}", session.identity_id.0));
    let now = state.settings.settings.clock.now();
    if let Some(until) = attempt.begin(&state.db, now).await? {
        let message = crate::flow::text::login_locked(until, now);
        return reject(step, FlowMessages::form(message)).await;
    }
    let verdict = if method == TOTP {
        super::verify::totp(state, session.identity_id, typed).await?
    } else {
        super::verify::lookup(state, session.identity_id, typed).await?
    };
    match verdict {
        Ok(()) => {
            attempt.succeeded(&state.db).await;
            finish(step, session, method).await
        }
        Err(message) => reject(step, FlowMessages::field(field, message)).await,
    }
}

/// Keeps the flow open with `messages`: 400 with the flow (JSON) or back to its page.
pub async fn reject(step: Step<'_>, messages: FlowMessages) -> Result<HttpResponse, ApiError> {
    let state = step.state;
    let mut row = step.row;
    let now = state.settings.settings.clock.now().naive_utc();
    let (id, stored, kept) = (row.id, messages.to_json(), row.identifier.clone());
    state
        .db
        .write(move |c| store::update_ui(c, id, kept, stored, now).map_err(ApiError::from))
        .await?;
    row.ui_messages = messages.to_json();
    row.updated_at = now;
    lifecycle::rejected(state, &row, step.json, || {
        let masked = step.token.as_ref().map(|t| state.csrf.mask(t));
        Ok(to_wire(&row, &state.settings.public_url, masked))
    })
}

/// Ends the flow and replaces the session by one with `method` appended (aal2), under a new
/// token: the old token stops working.
pub async fn finish(
    step: Step<'_>,
    old: SessionRow,
    method: &str,
) -> Result<HttpResponse, ApiError> {
    let state = step.state;
    // Whatever verified the factor, the flow is the session's identity's.
    if context_identity(&step.row) != Some(old.identity_id) {
        return Err(ApiError::IdentityMismatch);
    }
    let now = state.settings.settings.clock.now();
    let (mut upgraded, token) = state.sessions.start(old.identity_id, method, now);
    let mut methods: Vec<shared_types::flow::SessionAuthenticationMethod> =
        serde_json::from_value(old.authentication_methods.0.clone()).unwrap_or_default();
    methods.push(shared_types::flow::SessionAuthenticationMethod {
        method: method.into(),
        aal: "aal2".into(),
        completed_at: now,
        provider: None,
    });
    upgraded.aal = super::aal::level(&methods).into();
    upgraded.authentication_methods =
        service_kit::db::Json(serde_json::to_value(&methods).unwrap_or_default());
    let (flow_id, inserted, previous, at) =
        (step.row.id, upgraded.clone(), old.id, now.naive_utc());
    let completed = state
        .db
        .write(move |c| {
            store::complete_with_session(c, flow_id, Some(previous), &inserted, at)
                .map_err(ApiError::from)
        })
        .await?;
    if !completed {
        return Err(ApiError::BadRequest(
            "this login flow was already completed; start a new one".into(),
        ));
    }
    tracing::info!(identity_id = %old.identity_id.0, session_id = %upgraded.id.0, method, "session upgraded to aal2");
    // An upstream account that waited for this second factor is linked now.
    crate::flow::oidc::link::link_after_sign_in(state, &step.row.internal_context, old.identity_id)
        .await;
    let identity = session::identity_for(state, old.identity_id).await?;
    let wire = session::to_wire(&upgraded, identity);
    if step.row.flow_type != "browser" {
        let body = SuccessfulLogin {
            session: wire,
            continue_with: vec![
                json!({"action": "set_ory_session_token", "ory_session_token": &token}),
            ],
            session_token: Some(token),
        };
        return Ok(no_store(HttpResponse::Ok()).json(body));
    }
    let cookie = state
        .sessions
        .cookies
        .issue(&token, upgraded.expires_at.and_utc(), now);
    let (_, csrf_cookie) = state.csrf.fresh();
    let target = state
        .settings
        .flows
        .return_to
        .target(step.row.return_to.as_deref());
    if step.json {
        let body = SuccessfulLogin {
            session: wire,
            session_token: None,
            continue_with: vec![
                json!({"action": "redirect_browser_to", "redirect_browser_to": target.as_str()}),
            ],
        };
        let ok = no_store(HttpResponse::Ok());
        return Ok(with_cookies(ok, [Some(cookie), csrf_cookie]).json(body));
    }
    Ok(with_cookies(see_other(target.as_str()), [Some(cookie), csrf_cookie]).finish())
}

/// Whether this module takes a submission: any method of an aal2 flow except `webauthn` (the
/// security key, which its own module verifies). A first factor in an aal2 flow is refused here.
pub fn handles(row: &LoginFlowRow, submission: &Submission) -> bool {
    row.requested_aal == "aal2" && submission.get("method") != Some("webauthn")
}

/// A submission to an aal2 flow that expired or was used: like any flow's restart
/// (`lifecycle::restart`), but the replacement is an aal2 flow for the same identity.
pub async fn restart(
    state: &AppState,
    row: &LoginFlowRow,
    since: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
    json: bool,
) -> Result<HttpResponse, ApiError> {
    let minutes = (now - since).num_seconds() as f64 / 60.0;
    let new = lifecycle::NewFlow {
        request_url: row.request_url.clone(),
        return_to: row.return_to.as_deref().and_then(|r| Url::parse(r).ok()),
        csrf_token_hash: row.csrf_token_hash.clone(),
        messages: FlowMessages::form(crate::flow::text::login_flow_expired(minutes)),
    };
    let mut replacement: LoginFlowRow = lifecycle::create(state, new, row.refresh).await?;
    replacement.requested_aal = "aal2".into();
    replacement.identifier = row.identifier.clone();
    replacement.internal_context.0[CONTEXT_KEY] = row.internal_context.0[CONTEXT_KEY].clone();
    let stored = replacement.clone();
    state
        .db
        .write(move |c| super::store::mark_aal2(c, &stored).map_err(ApiError::from))
        .await?;
    crate::webauthn::login::prepare(state, &mut replacement).await?;
    if json {
        return Err(lifecycle::expired(state, row, now, Some(replacement.id.0)));
    }
    Ok(see_other(lifecycle::ui_url(state, &replacement).as_str()).finish())
}
