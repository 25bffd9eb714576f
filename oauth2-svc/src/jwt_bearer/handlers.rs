//! `/admin/trust/grants/jwt-bearer/issuers[/{id}]` (Hydra's trustOAuth2JwtGrantIssuer,
//! listTrustedOAuth2JwtGrantIssuers, getTrustedOAuth2JwtGrantIssuer,
//! deleteTrustedOAuth2JwtGrantIssuer), also without the `/admin` prefix.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service_kit::db::{Id, Json};
use service_kit::http::JsonObject;

use super::store::{self, TrustedIssuerRow};
use super::trust;
use crate::error::ApiError;
use crate::state::AppState;

pub fn admin_routes(cfg: &mut web::ServiceConfig) {
    for prefix in ["/admin", ""] {
        cfg.route(
            &format!("{prefix}/trust/grants/jwt-bearer/issuers"),
            web::post().to(trust_oauth2_jwt_grant_issuer),
        )
        .route(
            &format!("{prefix}/trust/grants/jwt-bearer/issuers"),
            web::get().to(list_trusted_oauth2_jwt_grant_issuers),
        )
        .route(
            &format!("{prefix}/trust/grants/jwt-bearer/issuers/{{id}}"),
            web::get().to(get_trusted_oauth2_jwt_grant_issuer),
        )
        .route(
            &format!("{prefix}/trust/grants/jwt-bearer/issuers/{{id}}"),
            web::delete().to(delete_trusted_oauth2_jwt_grant_issuer),
        );
    }
}

/// Hydra's `trustOAuth2JwtGrantIssuer` body.
#[derive(Deserialize)]
struct TrustBody {
    issuer: Option<String>,
    subject: Option<String>,
    #[serde(default)]
    allow_any_subject: bool,
    scope: Option<Vec<String>>,
    jwk: Option<Value>,
    expires_at: Option<DateTime<Utc>>,
}

/// Hydra's `trustedOAuth2JwtGrantIssuer`.
#[derive(Serialize)]
struct TrustedIssuer {
    id: String,
    issuer: String,
    subject: String,
    allow_any_subject: bool,
    scope: Vec<String>,
    public_key: Value,
    expires_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
}

impl From<TrustedIssuerRow> for TrustedIssuer {
    fn from(row: TrustedIssuerRow) -> Self {
        TrustedIssuer {
            id: row.id.0.to_string(),
            public_key: trust::public_key_ref(&row.issuer, &row.kid),
            issuer: row.issuer,
            subject: row.subject,
            allow_any_subject: row.allow_any_subject,
            scope: serde_json::from_value(row.scope.0).unwrap_or_default(),
            expires_at: row.expires_at.and_utc(),
            created_at: row.created_at.and_utc(),
        }
    }
}

fn invalid(message: &str) -> ApiError {
    ApiError::InvalidRequest(message.into())
}

/// Parses the body into a row; each error names the field.
fn parse(body: TrustBody, now: DateTime<Utc>) -> Result<TrustedIssuerRow, ApiError> {
    let issuer = body
        .issuer
        .filter(|i| !i.trim().is_empty() && i.len() <= 1024)
        .ok_or_else(|| invalid("Field 'issuer' is required."))?;
    let subject = body.subject.unwrap_or_default();
    match (subject.is_empty(), body.allow_any_subject) {
        (true, false) => {
            return Err(invalid(
                "Field 'subject' is required unless 'allow_any_subject' is true.",
            ));
        }
        (false, true) => {
            return Err(invalid(
                "Fields 'subject' and 'allow_any_subject' exclude each other.",
            ));
        }
        _ if subject.len() > 1024 => return Err(invalid("Field 'subject' is too long.")),
        _ => {}
    }
    let scope = body
        .scope
        .ok_or_else(|| invalid("Field 'scope' is required."))?;
    if scope.len() > 100 || scope.iter().any(|s| s.is_empty() || s.contains(' ')) {
        return Err(invalid("Field 'scope' must be a list of scope names."));
    }
    let expires_at = body
        .expires_at
        .ok_or_else(|| invalid("Field 'expires_at' is required."))?;
    if expires_at <= now {
        return Err(invalid("Field 'expires_at' must be in the future."));
    }
    let jwk = body
        .jwk
        .ok_or_else(|| invalid("Field 'jwk' is required."))?;
    let key = trust::public_key(&jwk).map_err(ApiError::InvalidRequest)?;
    Ok(TrustedIssuerRow {
        id: Id::new_v7(),
        issuer,
        subject,
        allow_any_subject: body.allow_any_subject,
        scope: Json(scope.into()),
        kid: key.kid,
        public_jwk: Json(key.jwk),
        expires_at: expires_at.naive_utc(),
        created_at: now.naive_utc(),
    })
}

#[tracing::instrument(skip_all)]
async fn trust_oauth2_jwt_grant_issuer(
    state: web::Data<AppState>,
    JsonObject(body): JsonObject<TrustBody>,
) -> Result<HttpResponse, ApiError> {
    let row = parse(body, state.settings.settings.clock.now())?;
    let stored = row.clone();
    state
        .db
        .write(move |c| store::insert(c, &stored).map_err(ApiError::from))
        .await?;
    tracing::info!(issuer = %row.issuer, "trusted a JWT bearer grant issuer");
    Ok(HttpResponse::Created().json(TrustedIssuer::from(row)))
}

#[derive(Deserialize)]
struct ListQuery {
    issuer: Option<String>,
    page_size: Option<i64>,
    page_token: Option<String>,
}

#[tracing::instrument(skip_all)]
async fn list_trusted_oauth2_jwt_grant_issuers(
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let size = query.page_size.unwrap_or(250);
    if !(1..=500).contains(&size) {
        return Err(invalid(
            "Query parameter 'page_size' must be between 1 and 500.",
        ));
    }
    let offset = match query.page_token.as_deref() {
        None | Some("") => 0,
        Some(t) => t
            .parse::<i64>()
            .ok()
            .filter(|o| *o >= 0)
            .ok_or_else(|| invalid("Query parameter 'page_token' is not valid."))?,
    };
    let issuer = query.issuer.clone();
    let rows = state
        .db
        .read(move |c| store::list(c, issuer.as_deref(), size, offset).map_err(ApiError::from))
        .await?;
    let mut response = HttpResponse::Ok();
    if rows.len() as i64 == size {
        response.insert_header((
            "link",
            format!(
                "</admin/trust/grants/jwt-bearer/issuers?page_size={size}&page_token={}>; rel=\"next\"",
                offset + size
            ),
        ));
    }
    let body: Vec<TrustedIssuer> = rows.into_iter().map(TrustedIssuer::from).collect();
    Ok(response.json(body))
}

fn parse_id(raw: &str) -> Result<Id, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(Id)
        .map_err(|_| ApiError::NotFound)
}

#[tracing::instrument(skip_all)]
async fn get_trusted_oauth2_jwt_grant_issuer(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path)?;
    let row = state
        .db
        .read(move |c| store::find(c, id).map_err(ApiError::from))
        .await?;
    Ok(HttpResponse::Ok().json(TrustedIssuer::from(row)))
}

#[tracing::instrument(skip_all)]
async fn delete_trusted_oauth2_jwt_grant_issuer(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&path)?;
    let deleted = state
        .db
        .write(move |c| store::delete(c, id).map_err(ApiError::from))
        .await?;
    match deleted {
        0 => Err(ApiError::NotFound),
        _ => Ok(HttpResponse::NoContent().finish()),
    }
}
