//! What the login, registration and settings flows share: the columns every flow row has ([`FlowRow`]), and the steps around them: creating a flow,
//! loading it, the CSRF binding of browser flows, the 410 for an expired flow and its
//! replacement, and the browser-or-JSON answers.

use std::time::Duration;

use actix_web::cookie::Cookie;
use actix_web::web::{Bytes, Payload};
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::QueryResult;
use serde::{Deserialize, Serialize};
use service_kit::db::{AnyConnection, Id, Json};
use shared_types::flow::UiText;
use url::Url;

use crate::csrf::CsrfToken;
use crate::error::{ApiError, FlowExpired};
use crate::flow::http::{no_store, see_other, with_cookies};
use crate::flow::messages::FlowMessages;
use crate::flow::submit::Submission;
use crate::flow::wants_json;
use crate::state::AppState;

/// `?id=` or `?flow=` naming a flow (Kratos takes both).
#[derive(Deserialize)]
pub struct FlowQuery {
    id: Option<String>,
    flow: Option<String>,
}

impl FlowQuery {
    /// The flow to show (`id` first).
    pub fn shown(&self) -> Option<&str> {
        self.id.as_deref().or(self.flow.as_deref())
    }

    /// The flow a submission is for (`flow` first).
    pub fn submitted(&self) -> Option<&str> {
        self.flow.as_deref().or(self.id.as_deref())
    }
}

/// What a new flow starts with; no CSRF hash makes an API (native) flow.
pub struct NewFlow {
    pub request_url: String,
    pub return_to: Option<Url>,
    pub csrf_token_hash: Option<String>,
    pub messages: FlowMessages,
}

/// The columns every new flow row starts with.
pub struct Opened {
    pub id: Id,
    pub flow_type: String,
    pub request_url: String,
    pub return_to: Option<String>,
    pub csrf_token_hash: Option<String>,
    pub ui_messages: Json,
    /// Issued, created and updated.
    pub at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

impl NewFlow {
    /// A flow started by `req`, without messages.
    pub fn from_request(
        state: &AppState,
        req: &HttpRequest,
        return_to: Option<Url>,
        csrf_token_hash: Option<String>,
    ) -> Result<NewFlow, ApiError> {
        Ok(NewFlow {
            request_url: request_url(state, req)?,
            return_to,
            csrf_token_hash,
            messages: FlowMessages::default(),
        })
    }

    pub fn open(self, now: DateTime<Utc>, lifespan: Duration) -> Opened {
        let flow_type = if self.csrf_token_hash.is_some() {
            "browser"
        } else {
            "api"
        };
        Opened {
            id: Id::new_v7(),
            flow_type: flow_type.into(),
            request_url: self.request_url,
            return_to: self.return_to.map(String::from),
            csrf_token_hash: self.csrf_token_hash,
            ui_messages: self.messages.to_json(),
            at: now.naive_utc(),
            expires_at: (now + lifespan).naive_utc(),
        }
    }
}

/// The columns every flow row has, borrowed.
pub struct Columns<'a> {
    pub id: Id,
    pub flow_type: &'a str,
    pub request_url: &'a str,
    pub return_to: Option<&'a str>,
    pub csrf_token_hash: Option<&'a str>,
    pub expires_at: NaiveDateTime,
}

/// A self-service flow's row, as the shared steps see it (login, registration, settings).
pub trait FlowRow: Clone + Send + 'static {
    /// The flow's name in Kratos' paths (`/self-service/<name>/browser`).
    const NAME: &'static str;
    /// What this flow adds to a new flow, kept when an expired flow is replaced.
    type Extra;

    fn open(new: NewFlow, extra: Self::Extra, now: DateTime<Utc>, lifespan: Duration) -> Self;
    fn extra(&self) -> Self::Extra;

    fn columns(&self) -> Columns<'_>;
    /// Since when a completed flow takes no more submissions; `None` while it takes them.
    fn used_since(&self) -> Option<DateTime<Utc>>;

    /// The flow's page in the UI, and how long a new flow lives.
    fn ui(state: &AppState) -> &Url;
    fn lifespan(state: &AppState) -> Duration;
    /// What a replacement for a flow that expired `minutes` ago says.
    fn expired_message(minutes: f64) -> UiText;

    fn insert(conn: &mut AnyConnection, row: &Self) -> QueryResult<()>;
    fn find(conn: &mut AnyConnection, id: Id) -> QueryResult<Self>;

    fn is_browser(&self) -> bool {
        self.columns().flow_type == "browser"
    }

    /// Query parameters a browser restart keeps besides `return_to` (an aal2 login's `aal`).
    fn restart_params(&self) -> Vec<(&'static str, &str)> {
        Vec::new()
    }
}

/// The URL `req` asked for, under the public URL (a flow's `request_url`).
pub fn request_url(state: &AppState, req: &HttpRequest) -> Result<String, ApiError> {
    let url = state
        .settings
        .public_url
        .join(&req.uri().to_string())
        .map_err(anyhow::Error::from)?;
    Ok(url.into())
}

/// A submission's body, form or JSON, within the larger of the two limits.
pub async fn read_body(state: &AppState, payload: Payload) -> Result<Bytes, ApiError> {
    let limits = &state.settings.settings.serve.request_limits;
    let limit = limits.form_body_bytes.max(limits.json_body_bytes);
    Ok(service_kit::http::read_body(payload, limit).await?)
}

/// Stores a new flow.
pub async fn create<R: FlowRow>(
    state: &AppState,
    new: NewFlow,
    extra: R::Extra,
) -> Result<R, ApiError> {
    let now = state.settings.settings.clock.now();
    let row = R::open(new, extra, now, R::lifespan(state));
    let stored = row.clone();
    state
        .db
        .write(move |c| R::insert(c, &stored).map_err(ApiError::from))
        .await?;
    Ok(row)
}

/// The flow `id` names; 404 for an id that is no UUID or no flow.
pub async fn load<R: FlowRow>(state: &AppState, id: Option<&str>) -> Result<R, ApiError> {
    let id = id
        .and_then(|raw| uuid::Uuid::parse_str(raw).ok())
        .ok_or(ApiError::NotFound)?;
    state
        .db
        .read(move |c| R::find(c, Id(id)).map_err(ApiError::from))
        .await
}

/// A browser flow is only shown to the browser that started it (IF-13): its CSRF cookie must
/// match the flow. API flows are shown to whoever holds the id, without a token.
pub fn shown_token<R: FlowRow>(
    state: &AppState,
    req: &HttpRequest,
    row: &R,
) -> Result<Option<CsrfToken>, ApiError> {
    cookie_bound_token(state, req, row.is_browser(), row.columns().csrf_token_hash)
}

/// [`shown_token`] for any flow: `browser` and its stored `csrf_token_hash`.
pub fn cookie_bound_token(
    state: &AppState,
    req: &HttpRequest,
    browser: bool,
    csrf_token_hash: Option<&str>,
) -> Result<Option<CsrfToken>, ApiError> {
    if !browser {
        return Ok(None);
    }
    let token = state
        .csrf
        .cookie_token(req)
        .filter(|t| csrf_token_hash.is_some_and(|stored| state.csrf.matches_flow(t, stored)));
    let token = token.ok_or_else(|| {
        ApiError::CsrfViolation(
            "The flow was started in another browser, or its anti-CSRF cookie is missing.".into(),
        )
    })?;
    Ok(Some(token))
}

/// A submission to a browser flow carries the flow's CSRF token in the cookie and the form.
pub fn submitted_token<R: FlowRow>(
    state: &AppState,
    req: &HttpRequest,
    row: &R,
    submission: &Submission,
) -> Result<Option<CsrfToken>, ApiError> {
    if !row.is_browser() {
        return Ok(None);
    }
    let token = state
        .csrf
        .verify(
            req,
            row.columns().csrf_token_hash,
            submission.get("csrf_token"),
        )
        .map_err(ApiError::CsrfViolation)?;
    Ok(Some(token))
}

/// Marks a submission to an api flow as soon as the flow is loaded, so that its errors stay
/// JSON even when they come before the body is parsed (a malformed form, a missing session).
pub fn mark_api_flow<R: FlowRow>(req: &HttpRequest, row: &R) {
    crate::flow::errors::redirect::mark_api_flow(req, row.is_browser());
}

/// Whether a submission gets JSON back (an API flow, a JSON body, or a browser asking for it).
pub fn answers_json<R: FlowRow>(req: &HttpRequest, row: &R, submission: &Submission) -> bool {
    crate::flow::errors::redirect::mark_api_flow(req, row.is_browser());
    !row.is_browser() || submission.json || wants_json(req)
}

/// 410 when the flow to show has expired.
pub fn check_unexpired<R: FlowRow>(state: &AppState, row: &R) -> Result<(), ApiError> {
    let now = state.settings.settings.clock.now();
    if row.columns().expires_at.and_utc() <= now {
        return Err(expired(state, row, now, None));
    }
    Ok(())
}

/// Whether the flow can no longer be submitted, and since when (expired or already used).
pub fn closed_since<R: FlowRow>(row: &R, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let expires_at = row.columns().expires_at.and_utc();
    if expires_at <= now {
        Some(expires_at)
    } else {
        row.used_since()
    }
}

/// A submission to a flow closed since `since`: a new flow says so; JSON gets 410 naming it,
/// browsers its page.
pub async fn restart<R: FlowRow>(
    state: &AppState,
    row: &R,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    json: bool,
) -> Result<HttpResponse, ApiError> {
    let minutes = (now - since).num_seconds() as f64 / 60.0;
    let columns = row.columns();
    let new = NewFlow {
        request_url: columns.request_url.to_string(),
        return_to: columns.return_to.and_then(|r| Url::parse(r).ok()),
        csrf_token_hash: columns.csrf_token_hash.map(str::to_string),
        messages: FlowMessages::form(R::expired_message(minutes)),
    };
    let replacement: R = create(state, new, row.extra()).await?;
    if json {
        return Err(expired(state, row, now, Some(replacement.columns().id.0)));
    }
    Ok(see_other(ui_url(state, &replacement).as_str()).finish())
}

/// 410 for an expired (or used) flow: browsers restart at the browser init URL (with the
/// flow's `return_to`); API clients restart with a new API flow, so a browser URL would
/// mislead them. `use_flow_id` names the replacement when a submission made one.
pub fn expired<R: FlowRow>(
    state: &AppState,
    row: &R,
    now: DateTime<Utc>,
    use_flow_id: Option<uuid::Uuid>,
) -> ApiError {
    let columns = row.columns();
    let expired_at = columns.expires_at.and_utc().min(now);
    let redirect_to = row.is_browser().then(|| {
        let mut restart = state
            .settings
            .public_url
            .join(&format!("self-service/{}/browser", R::NAME))
            .expect("a fixed relative path joins");
        for (name, value) in row.restart_params() {
            restart.query_pairs_mut().append_pair(name, value);
        }
        if let Some(return_to) = columns.return_to {
            restart
                .query_pairs_mut()
                .append_pair("return_to", return_to);
        }
        restart.into()
    });
    let since = (now - expired_at).num_nanoseconds().unwrap_or(i64::MAX);
    ApiError::FlowExpired(Box::new(FlowExpired {
        expired_at,
        since,
        use_flow_id,
        redirect_to,
    }))
}

/// The flow's page in the UI.
pub fn ui_url<R: FlowRow>(state: &AppState, row: &R) -> Url {
    let mut url = R::ui(state).clone();
    url.query_pairs_mut()
        .append_pair("flow", &row.columns().id.0.to_string());
    url
}

/// Someone signed in asked for a flow for newcomers (login without `refresh`, registration):
/// JSON callers get Kratos' error, browsers go where the flow would have sent them.
pub fn already_signed_in(
    state: &AppState,
    req: &HttpRequest,
    return_to: Option<Url>,
) -> Result<HttpResponse, ApiError> {
    if wants_json(req) {
        return Err(ApiError::SessionAlreadyAvailable);
    }
    let target = return_to.unwrap_or_else(|| state.settings.flows.return_to.default.clone());
    Ok(see_other(target.as_str()).finish())
}

/// A new browser flow: the flow itself (JSON) or its page, with the CSRF cookie if it is new.
pub fn created<R: FlowRow, T: Serialize>(
    state: &AppState,
    req: &HttpRequest,
    row: &R,
    cookie: Option<Cookie<'static>>,
    render: impl FnOnce() -> Result<T, ApiError>,
) -> Result<HttpResponse, ApiError> {
    if wants_json(req) {
        return Ok(with_cookies(no_store(HttpResponse::Ok()), [cookie]).json(render()?));
    }
    Ok(with_cookies(see_other(ui_url(state, row).as_str()), [cookie]).finish())
}

/// A submission that keeps the flow open: the flow with its messages as a 400 (JSON) or back to
/// its page (browsers).
pub fn rejected<R: FlowRow, T: Serialize>(
    state: &AppState,
    row: &R,
    json: bool,
    render: impl FnOnce() -> Result<T, ApiError>,
) -> Result<HttpResponse, ApiError> {
    if json {
        return Ok(no_store(HttpResponse::BadRequest()).json(render()?));
    }
    Ok(see_other(ui_url(state, row).as_str()).finish())
}
