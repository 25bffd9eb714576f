//! The HTTP edge's one error type, rendered in Kratos' envelope
//! `{"error": {id?, code, status, reason?, message, details?}}`. As in Kratos, `message` is the
//! kind of failure and `reason` the specifics. 500s say only that something failed; the cause
//! goes to the log.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use service_kit::db::DbError;
use service_kit::http::EdgeError;
use shared_types::error::{ErrorEnvelope, GenericError};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Traits that break the identity schema: one message per failing field.
    #[error("validation failed ({} problem(s))", .0.len())]
    Validation(Vec<FieldMessage>),
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("request timed out")]
    Timeout,
    /// Too many password hashes in progress (the queue is full); retry after `retry_after`.
    #[error("too many password checks in progress")]
    Busy { retry_after: std::time::Duration },
    /// A browser flow's anti-CSRF check failed; the text says which part.
    #[error("CSRF violation: {0}")]
    CsrfViolation(String),
    /// The caller may not do this (Kratos' herodot `ErrForbidden`); the text says why.
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("return_to {0:?} is not allowed")]
    ReturnToForbidden(String),
    /// No valid session in the request (or it expired, was revoked, or its identity is inactive).
    #[error("no active session")]
    SessionInactive,
    #[error("a session is already available")]
    SessionAlreadyAvailable,
    /// The right password of an inactive identity (Kratos' `session.ErrIdentityDisabled`).
    #[error("identity is disabled")]
    IdentityDisabled,
    #[error("logout token invalid: {0}")]
    LogoutTokenInvalid(&'static str),
    /// A settings flow of another identity than the session's (Kratos' `security_identity_mismatch`).
    #[error("the flow belongs to another identity")]
    IdentityMismatch,
    /// A sensitive settings change needs a recent sign-in; the browser goes to the URL given
    /// (a login with `refresh=true`), named as `redirect_browser_to` beside `error`.
    #[error("session refresh required")]
    SessionRefreshRequired(String),
    /// The session is aal1 but the identity has a second factor (Kratos' `session_aal2_required`);
    /// the browser goes to the URL given (an aal2 login), named as `redirect_browser_to`.
    #[error("a second factor is required")]
    Aal2Required(String),
    /// `aal=aal2` was asked for without a session (Kratos' `session_aal1_required`).
    #[error("a session is required to ask for a higher assurance level")]
    Aal1Required,
    /// `aal=aal2` was asked for by an aal2 session (Kratos' `session_aal_already_fulfilled`).
    #[error("the session has the requested assurance level already")]
    AalAlreadyFulfilled,
    /// A flow expired; `use_flow_id` is its replacement, `redirect_to` where to start again.
    #[error("self-service flow expired")]
    FlowExpired(Box<FlowExpired>),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Kratos' expired-flow answer adds these beside `error`.
#[derive(Debug, Clone, Serialize)]
pub struct FlowExpired {
    pub expired_at: chrono::DateTime<chrono::Utc>,
    /// Nanoseconds since expiry, as Kratos (a Go duration) reports it.
    pub since: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_flow_id: Option<uuid::Uuid>,
    #[serde(skip)]
    pub redirect_to: Option<String>,
}

/// One validation problem, located by a JSON pointer into the submitted identity document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldMessage {
    /// Like `#/traits/email`.
    pub instance_ptr: String,
    pub message: String,
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Query(e) => e.into(),
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match err {
            Error::NotFound => ApiError::NotFound,
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                ApiError::Conflict("a resource with that identifier already exists".into())
            }
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<EdgeError> for ApiError {
    fn from(err: EdgeError) -> Self {
        match err {
            EdgeError::BadRequest(m) => ApiError::BadRequest(m),
            EdgeError::PayloadTooLarge { .. } => ApiError::PayloadTooLarge,
            EdgeError::UnsupportedMediaType(m) => ApiError::UnsupportedMediaType(m),
            EdgeError::NotFound => ApiError::NotFound,
            EdgeError::Timeout => ApiError::Timeout,
        }
    }
}

/// Renders edge errors (before a handler runs) in this service's envelope.
pub fn render_edge(err: EdgeError) -> HttpResponse {
    ApiError::from(err).error_response()
}

impl ApiError {
    pub(crate) fn body(&self) -> GenericError {
        let (message, reason, details) = match self {
            ApiError::BadRequest(r) => (
                "The request was malformed or contained invalid parameters",
                Some(r.clone()),
                None,
            ),
            ApiError::Validation(messages) => (
                "The request failed validation: the traits do not match the identity schema",
                Some(format!(
                    "{} field(s) failed validation; see details.messages",
                    messages.len()
                )),
                Some(serde_json::json!({ "messages": messages })),
            ),
            ApiError::NotFound => ("The requested resource could not be found", None, None),
            ApiError::Conflict(r) => (
                "The request conflicts with an existing resource",
                Some(r.clone()),
                None,
            ),
            ApiError::PayloadTooLarge => ("The request body is too large", None, None),
            ApiError::UnsupportedMediaType(r) => (
                "The request body has an unsupported media type",
                Some(r.clone()),
                None,
            ),
            ApiError::Timeout => ("The request took too long; try again", None, None),
            ApiError::Busy { .. } => (
                "The server is busy; try again later",
                Some("Too many password checks are in progress.".to_string()),
                None,
            ),
            ApiError::CsrfViolation(reason) => (
                "the request was rejected to protect you from Cross-Site-Request-Forgery",
                Some("Please retry the flow and optionally clear your cookies. The request was rejected to protect you from Cross-Site-Request-Forgery (CSRF) which could cause account takeover, leaking personal information, and other serious security issues.".to_string()),
                Some(serde_json::json!({ "reject_reason": reason })),
            ),
            ApiError::Forbidden(reason) => (
                "The requested action was forbidden",
                Some(reason.clone()),
                None,
            ),
            ApiError::ReturnToForbidden(url) => (
                "The request was malformed or contained invalid parameters",
                Some(format!("Requested return_to URL {url:?} is not allowed.")),
                None,
            ),
            ApiError::SessionInactive => (
                "request does not have a valid authentication session",
                Some("No active session was found in this request.".to_string()),
                None,
            ),
            ApiError::SessionAlreadyAvailable => (
                "A valid session was detected and thus login is not possible. Did you forget to set `?refresh=true`?",
                None,
                None,
            ),
            ApiError::IdentityDisabled => (
                "identity is disabled",
                Some("This account was disabled.".to_string()),
                None,
            ),
            ApiError::LogoutTokenInvalid(reason) => (
                "The logout token is invalid or was already used",
                Some((*reason).to_string()),
                None,
            ),
            ApiError::IdentityMismatch => (
                "The requested action was forbidden",
                Some("The request was made for another identity and has been blocked for security reasons.".to_string()),
                None,
            ),
            ApiError::SessionRefreshRequired(_) => (
                "The requested action was forbidden",
                Some("The login session is too old and thus not allowed to update these fields. Please re-authenticate.".to_string()),
                None,
            ),
            ApiError::Aal2Required(to) => (
                "Session does not fulfill the requested Authenticator Assurance Level",
                Some("An active session was found but it does not fulfill the requested Authenticator Assurance Level. Please verify yourself with a second factor to resolve this issue.".to_string()),
                Some(serde_json::json!({ "redirect_browser_to": to })),
            ),
            ApiError::Aal1Required => (
                "aal2 and aal3 can only be requested if a session exists already",
                Some("You can not request a higher AAL (AAL2/AAL3) without an active session.".to_string()),
                None,
            ),
            ApiError::AalAlreadyFulfilled => (
                "session has the requested authenticator assurance level already",
                Some("The session has the requested AAL already.".to_string()),
                None,
            ),
            ApiError::FlowExpired(expired) => (
                "self-service flow expired",
                Some("The self-service flow expired; initialize a new one.".to_string()),
                expired.redirect_to.as_ref().map(|r| serde_json::json!({ "redirect_to": r })),
            ),
            ApiError::Internal(_) => ("The server failed to handle the request", None, None),
        };
        let status = self.status_code();
        GenericError {
            id: self.id().map(str::to_string),
            code: status.as_u16(),
            status: status.canonical_reason().unwrap_or_default().to_string(),
            reason,
            message: message.to_string(),
            details,
            request: None,
        }
    }
}

impl ApiError {
    /// Kratos' stable error ids.
    fn id(&self) -> Option<&'static str> {
        Some(match self {
            ApiError::CsrfViolation(_) => "security_csrf_violation",
            ApiError::ReturnToForbidden(_) => "self_service_flow_return_to_forbidden",
            ApiError::SessionInactive => "session_inactive",
            ApiError::SessionAlreadyAvailable => "session_already_available",
            ApiError::IdentityDisabled => "identity_disabled",
            ApiError::FlowExpired(_) => "self_service_flow_expired",
            ApiError::IdentityMismatch => "security_identity_mismatch",
            ApiError::SessionRefreshRequired(_) => "session_refresh_required",
            ApiError::Aal2Required(_) => "session_aal2_required",
            ApiError::Aal1Required => "session_aal1_required",
            ApiError::AalAlreadyFulfilled => "session_aal_already_fulfilled",
            _ => return None,
        })
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::Validation(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::CsrfViolation(_)
            | ApiError::Forbidden(_)
            | ApiError::IdentityMismatch
            | ApiError::SessionRefreshRequired(_)
            | ApiError::Aal2Required(_) => StatusCode::FORBIDDEN,
            ApiError::ReturnToForbidden(_) | ApiError::SessionAlreadyAvailable => {
                StatusCode::BAD_REQUEST
            }
            ApiError::SessionInactive
            | ApiError::LogoutTokenInvalid(_)
            | ApiError::IdentityDisabled
            | ApiError::Aal1Required
            | ApiError::AalAlreadyFulfilled => StatusCode::UNAUTHORIZED,
            ApiError::FlowExpired(_) => StatusCode::GONE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(error = ?cause, "request failed");
        }
        let mut body =
            serde_json::to_value(ErrorEnvelope { error: self.body() }).unwrap_or_default();
        if let (ApiError::FlowExpired(extra), Some(object)) = (self, body.as_object_mut())
            && let Ok(serde_json::Value::Object(extra)) = serde_json::to_value(extra)
        {
            object.extend(extra);
        }
        if let (ApiError::SessionRefreshRequired(to) | ApiError::Aal2Required(to), Some(object)) =
            (self, body.as_object_mut())
        {
            object.insert("redirect_browser_to".into(), to.clone().into());
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header(("cache-control", "no-store"));
        if let ApiError::Busy { retry_after } = self {
            // Whole seconds, rounded up and at least one (RFC 9110 §10.2.3).
            let seconds = retry_after.as_millis().div_ceil(1000).max(1);
            response.insert_header(("retry-after", seconds.to_string()));
        }
        if self.status_code() == StatusCode::UNAUTHORIZED {
            // Session tokens are also accepted as bearer tokens (RFC 6750 §3).
            response.insert_header(("www-authenticate", "Bearer realm=\"identity-svc\""));
        }
        response.json(body)
    }
}
