//! `POST /oauth2/token` (Hydra's oauth2TokenExchange) and `GET, POST /userinfo`
//! (getOidcUserInfo) on the public listener.

use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use service_kit::http::{EdgeError, read_body};

use super::client_auth::{self, Presented};
use super::client_credentials;
use super::form::{self, Form};
use super::refresh::{self, RefreshRequest};
use super::{
    BearerError, CodeExchange, GRANT_AUTHORIZATION_CODE, GRANT_CLIENT_CREDENTIALS,
    GRANT_REFRESH_TOKEN, OAuth2Error, exchange,
};
use crate::state::AppState;

pub fn public_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/oauth2/token").route(web::post().to(oauth2_token_exchange)))
        .service(
            web::resource("/userinfo")
                .route(web::get().to(get_oidc_user_info))
                .route(web::post().to(get_oidc_user_info)),
        );
    super::endpoints::public_routes(cfg);
}

/// Introspection and token deletion on the admin listener.
pub fn admin_routes(cfg: &mut web::ServiceConfig) {
    super::endpoints::admin_routes(cfg);
}

#[tracing::instrument(skip_all, fields(client_id))]
async fn oauth2_token_exchange(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, OAuth2Error> {
    let form = read_form(&state, &req, payload).await?;
    let grant_type = form.get("grant_type").ok_or_else(|| {
        OAuth2Error::InvalidRequest("The request is missing the 'grant_type' parameter".into())
    })?;
    let presented = Presented::from_request(header(&req, AUTHORIZATION.as_str()), &form)?;
    tracing::Span::current().record("client_id", presented.client_id());
    let client = client_auth::authenticate(&state, &req, presented).await?;
    let response = match grant_type {
        GRANT_AUTHORIZATION_CODE => {
            exchange::exchange_code(&state, &client, CodeExchange::try_from(&form)?).await?
        }
        GRANT_REFRESH_TOKEN => {
            refresh::refresh(&state, &client, RefreshRequest::try_from(&form)?).await?
        }
        GRANT_CLIENT_CREDENTIALS => {
            client_credentials::client_credentials(&state, &client, (&form).into()).await?
        }
        crate::device::GRANT_TYPE => {
            return Ok(crate::device::poll::exchange(&state, &client, &form).await);
        }
        crate::jwt_bearer::GRANT_TYPE => {
            return Ok(crate::jwt_bearer::grant::exchange(&state, &client, &form).await);
        }
        _ => return Err(OAuth2Error::UnsupportedGrantType),
    };
    Ok(no_store(HttpResponse::Ok()).json(response))
}

#[tracing::instrument(skip_all)]
async fn get_oidc_user_info(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, BearerError> {
    let token = bearer_token(&state, &req, payload).await?;
    let claims = exchange::userinfo(&state, &token).await?;
    Ok(no_store(HttpResponse::Ok()).json(claims))
}

pub(super) fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

pub(super) fn no_store(mut response: HttpResponseBuilder) -> HttpResponseBuilder {
    response
        .insert_header(("cache-control", "no-store"))
        .insert_header(("pragma", "no-cache"));
    response
}

pub(super) async fn read_form(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<Form, EdgeError> {
    let limit = state.settings.settings.serve.request_limits.form_body_bytes;
    let content_type = header(req, CONTENT_TYPE.as_str());
    if !form::is_form(content_type) {
        return Err(EdgeError::BadRequest(format!(
            "The request must be sent with Content-Type: {}",
            form::FORM_MEDIA_TYPE
        )));
    }
    let body = read_body(payload, limit).await?;
    Form::parse(content_type, &body).map_err(EdgeError::BadRequest)
}

/// The bearer token of an RFC 6750 request: the `Authorization` header (§2.1) or, for a POST,
/// the form body's `access_token` (§2.2), never both; the query form (§2.3) is not accepted.
async fn bearer_token(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<String, BearerError> {
    let from_header = match header(req, AUTHORIZATION.as_str()) {
        Some(value) => parse_bearer(value)?,
        None => None,
    };
    let in_body = req.method() == actix_web::http::Method::POST
        && form::is_form(header(req, CONTENT_TYPE.as_str()));
    let from_body = match in_body {
        true => read_form(state, req, payload)
            .await?
            .get("access_token")
            .map(str::to_string),
        false => None,
    };
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(BearerError::InvalidRequest(
            "The access token must be sent in only one way".into(),
        )),
        (Some(token), None) | (None, Some(token)) => Ok(token),
        (None, None) => Err(BearerError::Missing),
    }
}

/// `Bearer <token>` (scheme case-insensitive); another scheme counts as no bearer token.
pub(crate) fn parse_bearer(value: &str) -> Result<Option<String>, BearerError> {
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    match token.trim() {
        "" => Err(BearerError::InvalidToken),
        token => Ok(Some(token.to_string())),
    }
}
