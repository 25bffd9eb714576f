//! `GET|DELETE /admin/oauth2/auth/sessions/consent` (Hydra's listOAuth2ConsentSessions and
//! revokeOAuth2ConsentSessions), also without the `/admin` prefix. Revoking a consent revokes
//! the tokens it issued.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use service_kit::db::Id;
use shared_types::client::OAuth2Client;
use shared_types::consent::{OAuth2ConsentRequest, OAuth2ConsentSession};

use super::ConsentData;
use super::store::{self, ConsentSessionRow, Revoke};
use crate::error::ApiError;
use crate::state::AppState;

const DEFAULT_PAGE_SIZE: i64 = 250;
const MAX_PAGE_SIZE: i64 = 500;

pub fn admin_routes(cfg: &mut web::ServiceConfig) {
    for prefix in ["/admin", ""] {
        cfg.service(
            web::resource(format!("{prefix}/oauth2/auth/sessions/consent"))
                .route(web::get().to(list_oauth2_consent_sessions))
                .route(web::delete().to(revoke_oauth2_consent_sessions)),
        );
    }
}

#[derive(Deserialize)]
struct ListQuery {
    subject: Option<String>,
    login_session_id: Option<String>,
    page_size: Option<i64>,
    page_token: Option<String>,
}

fn parse_id(value: &str, field: &str) -> Result<Id, ApiError> {
    uuid::Uuid::parse_str(value)
        .map(Id)
        .map_err(|_| ApiError::InvalidRequest(format!("{field} is not valid")))
}

fn decode_page_token(token: &str) -> Result<Id, ApiError> {
    let bad = || ApiError::InvalidRequest("page_token is not valid".into());
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    uuid::Uuid::from_slice(&bytes).map(Id).map_err(|_| bad())
}

#[tracing::instrument(skip_all)]
async fn list_oauth2_consent_sessions(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let subject = query
        .subject
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError::InvalidRequest(
                "Query parameter 'subject' is not defined but should have been.".into(),
            )
        })?;
    let size = query.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(ApiError::InvalidRequest(format!(
            "page_size must be between 1 and {MAX_PAGE_SIZE}"
        )));
    }
    let before = query
        .page_token
        .as_deref()
        .map(decode_page_token)
        .transpose()?;
    let sid = query
        .login_session_id
        .as_deref()
        .map(|s| parse_id(s, "login_session_id"))
        .transpose()?;
    let who = subject.clone();
    let mut rows = state
        .db
        .read(move |c| store::list(c, &who, sid, before, size + 1).map_err(ApiError::from))
        .await?;
    let next = (rows.len() as i64 > size).then(|| {
        rows.truncate(size as usize);
        URL_SAFE_NO_PAD.encode(rows.last().expect("a full page").id.0.as_bytes())
    });
    let body = to_wire(&state, rows).await?;
    let mut response = HttpResponse::Ok();
    response.insert_header(("cache-control", "no-store"));
    if let Some(token) = next {
        let mut link = url::form_urlencoded::Serializer::new(String::new());
        link.append_pair("subject", &subject)
            .append_pair("page_size", &size.to_string())
            .append_pair("page_token", &token);
        if let Some(sid) = &query.login_session_id {
            link.append_pair("login_session_id", sid);
        }
        response.insert_header((
            "link",
            format!("<{}?{}>; rel=\"next\"", req.path(), link.finish()),
        ));
    }
    Ok(response.json(body))
}

async fn to_wire(
    state: &AppState,
    rows: Vec<ConsentSessionRow>,
) -> Result<Vec<OAuth2ConsentSession>, ApiError> {
    let mut clients: HashMap<String, OAuth2Client> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        if !clients.contains_key(&row.client_id) {
            let client = super::handlers::client_of(state, &row.client_id).await?;
            clients.insert(row.client_id.clone(), client);
        }
        let data = ConsentData::of(&row);
        let id = row.id.0.simple().to_string();
        let request = OAuth2ConsentRequest {
            challenge: String::new(),
            consent_request_id: id.clone(),
            requested_scope: data.requested_scope,
            requested_access_token_audience: data.requested_audience,
            skip: false,
            subject: row.subject.clone(),
            oidc_context: Default::default(),
            client: clients[&row.client_id].clone(),
            request_url: data.request_url,
            login_challenge: String::new(),
            login_session_id: row
                .login_session_id
                .map(|s| s.0.to_string())
                .unwrap_or_default(),
            acr: data.acr,
            amr: data.amr,
            context: data.context.clone(),
        };
        out.push(OAuth2ConsentSession {
            consent_request_id: id,
            consent_request: Some(request),
            grant_scope: super::strings(&row.grant_scope.0),
            grant_access_token_audience: super::strings(&row.grant_audience.0),
            session: data.session,
            remember: row.remember,
            remember_for: row.remember_for,
            handled_at: Some(row.handled_at.and_utc()),
            context: data.context,
        });
    }
    Ok(out)
}

#[derive(Deserialize)]
struct RevokeQuery {
    subject: Option<String>,
    client: Option<String>,
    all: Option<String>,
    consent_request_id: Option<String>,
}

impl RevokeQuery {
    /// Exactly one of: `consent_request_id`; `subject` + `client`; `subject` + `all=true`.
    fn parse(self) -> Result<Revoke, ApiError> {
        let nonempty = |v: Option<String>| v.filter(|s| !s.is_empty());
        let all = self.all.as_deref() == Some("true");
        match (
            nonempty(self.subject),
            nonempty(self.client),
            all,
            nonempty(self.consent_request_id),
        ) {
            (None, None, false, Some(id)) => {
                Ok(Revoke::Request(parse_id(&id, "consent_request_id")?))
            }
            (Some(subject), Some(client), false, None) => Ok(Revoke::Subject {
                subject,
                client: Some(client),
            }),
            (Some(subject), None, true, None) => Ok(Revoke::Subject {
                subject,
                client: None,
            }),
            _ => Err(ApiError::InvalidRequest(
                "Invalid combination of query parameters.".into(),
            )),
        }
    }
}

#[tracing::instrument(skip_all)]
async fn revoke_oauth2_consent_sessions(
    state: web::Data<AppState>,
    query: web::Query<RevokeQuery>,
) -> Result<HttpResponse, ApiError> {
    let which = query.into_inner().parse()?;
    let revoked = state
        .db
        .write(move |c| store::revoke(c, &which).map_err(ApiError::from))
        .await?;
    tracing::info!(revoked, "revoked consent sessions");
    Ok(HttpResponse::NoContent().finish())
}
