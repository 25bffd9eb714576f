//! The HTTP edge's one error type, rendered in Hydra's envelope
//! `{error, error_description, error_hint?, status_code}`. 500s say only that something failed;
//! the cause goes to the log.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use service_kit::db::DbError;
use service_kit::http::EdgeError;
use shared_types::error::OAuth2ErrorBody;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("invalid client metadata: {0}")]
    InvalidClientMetadata(String),
    /// A redirect URI a client may not register (RFC 7591 §3.2.2).
    #[error("invalid redirect uri: {0}")]
    InvalidRedirectUri(String),
    #[error("not found")]
    NotFound,
    /// A missing or wrong bearer token where one is required (RFC 6750 §3.1 `invalid_token`).
    #[error("invalid token")]
    InvalidToken,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("payload too large")]
    PayloadTooLarge,
    /// A limit that protects guessable values was reached; the caller retries later.
    #[error("too many requests: {0}")]
    TooManyRequests(String),
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("request timed out")]
    Timeout,
    /// A challenge that was already answered or expired: the UI restarts at `redirect_to`.
    #[error("gone")]
    Gone { redirect_to: String },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
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
            EdgeError::BadRequest(m) => ApiError::InvalidRequest(m),
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
    fn body(&self) -> OAuth2ErrorBody {
        let (error, description) = match self {
            ApiError::InvalidRequest(m) => ("invalid_request", m.clone()),
            ApiError::InvalidClientMetadata(m) => ("invalid_client_metadata", m.clone()),
            ApiError::InvalidRedirectUri(m) => ("invalid_redirect_uri", m.clone()),
            ApiError::NotFound => (
                "Not Found",
                "Unable to locate the requested resource".into(),
            ),
            ApiError::InvalidToken => (
                "invalid_token",
                "The access token is missing, unknown or no longer valid".into(),
            ),
            ApiError::Conflict(m) => ("Conflict", m.clone()),
            ApiError::PayloadTooLarge => {
                ("invalid_request", "The request body is too large".into())
            }
            ApiError::TooManyRequests(m) => ("too_many_requests", m.clone()),
            ApiError::UnsupportedMediaType(m) => ("invalid_request", m.clone()),
            ApiError::Timeout => (
                "temporarily_unavailable",
                "The request took too long; try again".into(),
            ),
            ApiError::Gone { .. } => (
                "Gone",
                "The request was already handled or has expired".into(),
            ),
            ApiError::Internal(_) => (
                "server_error",
                "The server failed to handle the request".into(),
            ),
        };
        let status_code = Some(self.status_code().as_u16());
        OAuth2ErrorBody {
            error: error.into(),
            error_description: Some(description),
            error_hint: None,
            status_code,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::InvalidRequest(_)
            | ApiError::InvalidClientMetadata(_)
            | ApiError::InvalidRedirectUri(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::InvalidToken => StatusCode::UNAUTHORIZED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Gone { .. } => StatusCode::GONE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(error = ?cause, "request failed");
        }
        if let ApiError::Gone { redirect_to } = self {
            let body = shared_types::consent::OAuth2RedirectTo {
                redirect_to: redirect_to.clone(),
            };
            return HttpResponse::Gone()
                .insert_header(("cache-control", "no-store"))
                .json(body);
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header(("cache-control", "no-store"));
        match self {
            ApiError::InvalidToken => {
                response.insert_header(("www-authenticate", "Bearer error=\"invalid_token\""));
            }
            ApiError::TooManyRequests(_) => {
                response.insert_header(("retry-after", "60"));
            }
            _ => {}
        }
        response.json(self.body())
    }
}
