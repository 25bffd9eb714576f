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
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
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
    fn body(&self) -> GenericError {
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
            ApiError::Internal(_) => ("The server failed to handle the request", None, None),
        };
        let status = self.status_code();
        GenericError {
            id: None,
            code: status.as_u16(),
            status: status.canonical_reason().unwrap_or_default().to_string(),
            reason,
            message: message.to_string(),
            details,
            request: None,
        }
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
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(error = ?cause, "request failed");
        }
        HttpResponse::build(self.status_code())
            .insert_header(("cache-control", "no-store"))
            .json(ErrorEnvelope { error: self.body() })
    }
}
