//! Errors of the token endpoint (RFC 6749 §5.2) and of bearer-protected resources such as
//! `/userinfo` (RFC 6750 §3), in Hydra's envelope with `Cache-Control: no-store`. Descriptions
//! are fixed texts: they never carry a secret, code or token the caller sent.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use service_kit::db::DbError;
use service_kit::http::EdgeError;
use shared_types::error::OAuth2ErrorBody;

/// The realm both challenges name.
const REALM: &str = "oauth2-svc";

/// An error of `POST /oauth2/token`.
#[derive(Debug, thiserror::Error)]
pub enum OAuth2Error {
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// 401 with `WWW-Authenticate: Basic` (RFC 6749 §5.2; every 401 carries a challenge,
    /// RFC 9110 §15.5.2). One text for an unknown client, a wrong secret and a wrong method.
    #[error("invalid_client")]
    InvalidClient,
    #[error("invalid_grant: {0}")]
    InvalidGrant(&'static str),
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(&'static str),
    #[error("invalid_scope: {0}")]
    InvalidScope(&'static str),
    #[error("unsupported_grant_type")]
    UnsupportedGrantType,
    /// Too many failed authentications of this client: 429 with `Retry-After` (seconds).
    #[error("throttled")]
    Throttled { retry_after: u64 },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl OAuth2Error {
    fn code_and_description(&self) -> (&'static str, String) {
        match self {
            OAuth2Error::InvalidRequest(m) => ("invalid_request", m.clone()),
            OAuth2Error::InvalidClient => (
                "invalid_client",
                "Client authentication failed (e.g., unknown client, no client authentication included, or unsupported authentication method).".into(),
            ),
            OAuth2Error::InvalidGrant(m) => ("invalid_grant", (*m).into()),
            OAuth2Error::UnauthorizedClient(m) => ("unauthorized_client", (*m).into()),
            OAuth2Error::InvalidScope(m) => ("invalid_scope", (*m).into()),
            OAuth2Error::UnsupportedGrantType => (
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server.".into(),
            ),
            OAuth2Error::Throttled { .. } => (
                "temporarily_unavailable",
                "Too many failed authentication attempts for this client; retry later.".into(),
            ),
            OAuth2Error::Internal(_) => (
                "server_error",
                "The server failed to handle the request".into(),
            ),
        }
    }
}

impl From<DbError> for OAuth2Error {
    fn from(err: DbError) -> Self {
        OAuth2Error::Internal(err.into())
    }
}

impl From<diesel::result::Error> for OAuth2Error {
    fn from(err: diesel::result::Error) -> Self {
        OAuth2Error::Internal(err.into())
    }
}

impl From<EdgeError> for OAuth2Error {
    fn from(err: EdgeError) -> Self {
        OAuth2Error::InvalidRequest(match err {
            EdgeError::BadRequest(m) | EdgeError::UnsupportedMediaType(m) => m,
            EdgeError::PayloadTooLarge { .. } => "The request body is too large".into(),
            EdgeError::NotFound => "Not found".into(),
            EdgeError::Timeout => "The request took too long".into(),
        })
    }
}

impl ResponseError for OAuth2Error {
    fn status_code(&self) -> StatusCode {
        match self {
            OAuth2Error::InvalidClient => StatusCode::UNAUTHORIZED,
            OAuth2Error::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            OAuth2Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let OAuth2Error::Internal(cause) = self {
            tracing::error!(error = ?cause, "token request failed");
        }
        let (code, description) = self.code_and_description();
        let mut response = error_builder(self.status_code());
        if matches!(self, OAuth2Error::InvalidClient) {
            response.insert_header(("www-authenticate", format!("Basic realm=\"{REALM}\"")));
        }
        if let OAuth2Error::Throttled { retry_after } = self {
            response.insert_header(("retry-after", retry_after.to_string()));
        }
        response.json(body(code, description, self.status_code()))
    }
}

/// An error of a resource that takes a bearer access token (RFC 6750 §3.1).
#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    /// No token at all: a bare challenge without an error code (RFC 6750 §3.1).
    #[error("no access token")]
    Missing,
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    #[error("invalid_token")]
    InvalidToken,
    #[error("insufficient_scope")]
    InsufficientScope,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<DbError> for BearerError {
    fn from(err: DbError) -> Self {
        BearerError::Internal(err.into())
    }
}

impl From<EdgeError> for BearerError {
    fn from(err: EdgeError) -> Self {
        match OAuth2Error::from(err) {
            OAuth2Error::InvalidRequest(m) => BearerError::InvalidRequest(m),
            _ => BearerError::InvalidRequest("The request is invalid".into()),
        }
    }
}

impl BearerError {
    fn code_and_description(&self) -> (&'static str, String) {
        match self {
            // Hydra's code for a request without credentials; the challenge carries none.
            BearerError::Missing => (
                "request_unauthorized",
                "The request carries no access token".into(),
            ),
            BearerError::InvalidRequest(m) => ("invalid_request", m.clone()),
            BearerError::InvalidToken => (
                "invalid_token",
                "The access token is unknown, expired or revoked".into(),
            ),
            BearerError::InsufficientScope => (
                "insufficient_scope",
                "The access token was not granted the openid scope".into(),
            ),
            BearerError::Internal(_) => (
                "server_error",
                "The server failed to handle the request".into(),
            ),
        }
    }

    fn challenge(&self) -> Option<String> {
        let code = match self {
            BearerError::Internal(_) => return None,
            BearerError::Missing => return Some(format!("Bearer realm=\"{REALM}\"")),
            BearerError::InvalidRequest(_) => "invalid_request",
            BearerError::InvalidToken => "invalid_token",
            BearerError::InsufficientScope => "insufficient_scope",
        };
        Some(format!("Bearer realm=\"{REALM}\", error=\"{code}\""))
    }
}

impl ResponseError for BearerError {
    fn status_code(&self) -> StatusCode {
        match self {
            BearerError::Missing | BearerError::InvalidToken => StatusCode::UNAUTHORIZED,
            BearerError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            BearerError::InsufficientScope => StatusCode::FORBIDDEN,
            BearerError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let BearerError::Internal(cause) = self {
            tracing::error!(error = ?cause, "userinfo request failed");
        }
        let (code, description) = self.code_and_description();
        let mut response = error_builder(self.status_code());
        if let Some(challenge) = self.challenge() {
            response.insert_header(("www-authenticate", challenge));
        }
        response.json(body(code, description, self.status_code()))
    }
}

fn error_builder(status: StatusCode) -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::build(status);
    response
        .insert_header(("cache-control", "no-store"))
        .insert_header(("pragma", "no-cache"));
    response
}

fn body(code: &str, description: String, status: StatusCode) -> OAuth2ErrorBody {
    OAuth2ErrorBody {
        error: code.into(),
        error_description: Some(description),
        error_hint: None,
        status_code: Some(status.as_u16()),
    }
}
