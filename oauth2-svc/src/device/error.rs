//! Token-endpoint errors of the device and JWT bearer grants that the shared `OAuth2Error` has
//! no variant for (`authorization_pending`, `slow_down`, `expired_token`, `access_denied`,
//! `invalid_scope`), in the same envelope: 400, `Cache-Control: no-store`, fixed descriptions.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use service_kit::db::DbError;
use shared_types::error::OAuth2ErrorBody;

use crate::token::OAuth2Error;

#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// An RFC 6749 / RFC 8628 error code with a fixed description (never caller input).
    #[error("{code}: {description}")]
    Grant {
        code: &'static str,
        description: &'static str,
    },
    #[error(transparent)]
    OAuth2(#[from] OAuth2Error),
}

impl GrantError {
    pub const fn new(code: &'static str, description: &'static str) -> GrantError {
        GrantError::Grant { code, description }
    }

    pub const fn invalid_grant(description: &'static str) -> GrantError {
        GrantError::new("invalid_grant", description)
    }
}

impl From<DbError> for GrantError {
    fn from(err: DbError) -> Self {
        GrantError::OAuth2(OAuth2Error::Internal(err.into()))
    }
}

impl From<diesel::result::Error> for GrantError {
    fn from(err: diesel::result::Error) -> Self {
        GrantError::OAuth2(OAuth2Error::Internal(err.into()))
    }
}

impl From<anyhow::Error> for GrantError {
    fn from(err: anyhow::Error) -> Self {
        GrantError::OAuth2(OAuth2Error::Internal(err))
    }
}

impl ResponseError for GrantError {
    fn status_code(&self) -> StatusCode {
        match self {
            GrantError::Grant { .. } => StatusCode::BAD_REQUEST,
            GrantError::OAuth2(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            GrantError::OAuth2(e) => e.error_response(),
            GrantError::Grant { code, description } => HttpResponse::BadRequest()
                .insert_header(("cache-control", "no-store"))
                .insert_header(("pragma", "no-cache"))
                .json(OAuth2ErrorBody {
                    error: (*code).into(),
                    error_description: Some((*description).into()),
                    error_hint: None,
                    status_code: Some(400),
                }),
        }
    }
}

/// A token response or its error, as the token endpoint's grant dispatch returns it.
pub fn respond<T: serde::Serialize>(result: Result<T, GrantError>) -> HttpResponse {
    match result {
        Ok(body) => HttpResponse::Ok()
            .insert_header(("cache-control", "no-store"))
            .insert_header(("pragma", "no-cache"))
            .json(body),
        Err(e) => e.error_response(),
    }
}
