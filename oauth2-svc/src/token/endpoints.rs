//! Revocation and introspection endpoints:
//! - public: `POST /oauth2/revoke` (revokeOAuth2Token, RFC 7009) and `POST /oauth2/introspect`
//!   (RFC 7662), both with client authentication;
//! - admin: `POST /admin/oauth2/introspect` (introspectOAuth2Token, no authentication, as in
//!   Hydra) and `DELETE /admin/oauth2/tokens?client_id=` (deleteOAuth2Token), each also under
//!   its path without `/admin`.

use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpRequest, HttpResponse, web};

use super::OAuth2Error;
use super::client_auth::{self, Presented};
use super::handlers::{header, no_store, read_form};
use super::introspect::{self, Caller, IntrospectRequest};
use super::revoke::{self, RevokeRequest};
use crate::state::AppState;

pub fn public_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/oauth2/revoke", web::post().to(revoke_oauth2_token))
        .route(
            "/oauth2/introspect",
            web::post().to(introspect_oauth2_token_as_client),
        );
}

pub fn admin_routes(cfg: &mut web::ServiceConfig) {
    for prefix in ["/admin", ""] {
        cfg.route(
            &format!("{prefix}/oauth2/introspect"),
            web::post().to(introspect_oauth2_token),
        )
        .route(
            &format!("{prefix}/oauth2/tokens"),
            web::delete().to(delete_oauth2_token),
        );
    }
}

#[tracing::instrument(skip_all, fields(client_id))]
async fn revoke_oauth2_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, OAuth2Error> {
    let form = read_form(&state, &req, payload).await?;
    let presented = Presented::from_request(header(&req, AUTHORIZATION.as_str()), &form)?;
    tracing::Span::current().record("client_id", presented.client_id());
    let client = client_auth::authenticate(&state, &req, presented).await?;
    revoke::revoke(&state, &client.client_id, RevokeRequest::try_from(&form)?).await?;
    Ok(no_store(HttpResponse::Ok()).finish())
}

/// Public introspection: only confidential clients may ask (IR-01); a public client has no
/// credentials to prove it is a resource server.
#[tracing::instrument(skip_all, fields(client_id))]
async fn introspect_oauth2_token_as_client(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, OAuth2Error> {
    let form = read_form(&state, &req, payload).await?;
    let presented = Presented::from_request(header(&req, AUTHORIZATION.as_str()), &form)?;
    if matches!(presented, Presented::None { .. }) {
        return Err(OAuth2Error::InvalidClient);
    }
    tracing::Span::current().record("client_id", presented.client_id());
    let client = client_auth::authenticate(&state, &req, presented).await?;
    let request = IntrospectRequest::try_from(&form)?;
    let answer = introspect::introspect(&state, request, Caller::Client(client.client_id)).await?;
    Ok(no_store(HttpResponse::Ok()).json(answer))
}

#[tracing::instrument(skip_all)]
async fn introspect_oauth2_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, OAuth2Error> {
    let form = read_form(&state, &req, payload).await?;
    let answer =
        introspect::introspect(&state, IntrospectRequest::try_from(&form)?, Caller::Admin).await?;
    Ok(no_store(HttpResponse::Ok()).json(answer))
}

#[derive(serde::Deserialize)]
struct DeleteTokensQuery {
    client_id: Option<String>,
}

#[tracing::instrument(skip_all)]
async fn delete_oauth2_token(
    state: web::Data<AppState>,
    query: Result<web::Query<DeleteTokensQuery>, actix_web::Error>,
) -> Result<HttpResponse, OAuth2Error> {
    let client_id = query
        .ok()
        .and_then(|q| q.into_inner().client_id)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            OAuth2Error::InvalidRequest("Query parameter 'client_id' is required".into())
        })?;
    revoke::revoke_client(&state, client_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
