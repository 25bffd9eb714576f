//! Admin clients API: `/admin/clients` (Hydra's createOAuth2Client, listOAuth2Clients,
//! getOAuth2Client, deleteOAuth2Client).

use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use service_kit::db::{Id, Json};
use service_kit::http::JsonObject;
use shared_types::client::OAuth2Client;

use super::store::{self, ClientFilter, ClientRow, NewClientRow};
use super::{NewClient, update};
use crate::error::ApiError;
use crate::keyed::Purpose;
use crate::state::AppState;

pub fn admin_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/admin/clients")
            .route(web::post().to(create_oauth2_client))
            .route(web::get().to(list_oauth2_clients)),
    )
    .service(
        web::resource("/admin/clients/{id}")
            .route(web::get().to(get_oauth2_client))
            .route(web::put().to(update::set_oauth2_client))
            .route(web::patch().to(update::patch_oauth2_client))
            .route(web::delete().to(delete_oauth2_client)),
    )
    .service(
        web::resource("/admin/clients/{id}/lifespans")
            .route(web::put().to(update::set_oauth2_client_lifespans)),
    );
}

const DEFAULT_PAGE_SIZE: i64 = 250;
const MAX_PAGE_SIZE: i64 = 500;

pub(crate) fn to_wire(row: ClientRow) -> Result<OAuth2Client, ApiError> {
    let mut client: OAuth2Client = serde_json::from_value(row.metadata.0)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored client: {e}")))?;
    client.client_id = Some(row.client_id);
    client.client_name = row.client_name;
    client.owner = row.owner;
    client.client_secret = None;
    client.created_at = Some(row.created_at.and_utc());
    client.updated_at = Some(row.updated_at.and_utc());
    Ok(client)
}

#[tracing::instrument(skip_all)]
async fn create_oauth2_client(
    state: web::Data<AppState>,
    JsonObject(body): JsonObject<OAuth2Client>,
) -> Result<HttpResponse, ApiError> {
    let client = insert(&state, NewClient::parse(body)?, None).await?;
    Ok(HttpResponse::Created()
        .insert_header(("cache-control", "no-store"))
        .json(client))
}

/// Stores a validated new client (with the keyed hash of its registration access token, for
/// dynamic registrations) and returns it with its secret, the one time it is shown.
pub(super) async fn insert(
    state: &AppState,
    new: NewClient,
    registration_token_hash: Option<String>,
) -> Result<OAuth2Client, ApiError> {
    crate::subject::check_client(
        &state.settings.settings.oidc.subject_identifiers,
        &new.document,
    )?;
    let now = service_kit::db::now();
    let row = NewClientRow {
        id: Id::new_v7(),
        client_id: new.client_id.clone(),
        client_name: new.document.client_name.clone(),
        owner: new.document.owner.clone(),
        secret_hash: new
            .secret
            .as_deref()
            .map(|s| state.hasher.hash(Purpose::ClientSecret, s)),
        metadata: Json(serde_json::to_value(&new.document).map_err(anyhow::Error::from)?),
        created_at: now,
        updated_at: now,
        registration_token_hash,
    };
    let row = state
        .db
        .write(move |c| store::insert(c, row).map_err(ApiError::from))
        .await
        .map_err(|e| match e {
            ApiError::Conflict(_) => {
                ApiError::Conflict("a client with this client_id already exists".into())
            }
            other => other,
        })?;
    tracing::info!(client_id = %row.client_id, "created OAuth2 client");
    let mut client = to_wire(row)?;
    client.client_secret = new.secret;
    Ok(client)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    page_size: Option<i64>,
    page_token: Option<String>,
    client_name: Option<String>,
    owner: Option<String>,
}

fn decode_page_token(token: &str) -> Result<Id, ApiError> {
    let bad = || ApiError::InvalidRequest("page_token is not valid".into());
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    uuid::Uuid::from_slice(&bytes).map(Id).map_err(|_| bad())
}

#[tracing::instrument(skip_all)]
async fn list_oauth2_clients(
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let size = query.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(ApiError::InvalidRequest(format!(
            "page_size must be between 1 and {MAX_PAGE_SIZE}"
        )));
    }
    let after = query
        .page_token
        .as_deref()
        .map(decode_page_token)
        .transpose()?;
    let filter = ClientFilter {
        client_name: query.client_name.clone(),
        owner: query.owner.clone(),
    };
    let mut rows = state
        .db
        .read(move |c| store::list(c, &filter, after, size + 1).map_err(ApiError::from))
        .await?;
    let next = (rows.len() as i64 > size).then(|| {
        rows.truncate(size as usize);
        URL_SAFE_NO_PAD.encode(rows.last().expect("a full page").id.0.as_bytes())
    });
    let clients = rows
        .into_iter()
        .map(to_wire)
        .collect::<Result<Vec<_>, _>>()?;
    let mut response = HttpResponse::Ok();
    if let Some(token) = next {
        let mut link = url::form_urlencoded::Serializer::new(String::new());
        link.append_pair("page_size", &size.to_string())
            .append_pair("page_token", &token);
        for (key, value) in [("client_name", &query.client_name), ("owner", &query.owner)] {
            if let Some(v) = value {
                link.append_pair(key, v);
            }
        }
        response.insert_header((
            "link",
            format!("</admin/clients?{}>; rel=\"next\"", link.finish()),
        ));
    }
    Ok(response.json(clients))
}

#[tracing::instrument(skip_all, fields(client_id = %id))]
async fn get_oauth2_client(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let row = state
        .db
        .read(move |c| store::find(c, &id).map_err(ApiError::from))
        .await?;
    Ok(HttpResponse::Ok().json(to_wire(row)?))
}

#[tracing::instrument(skip_all, fields(client_id = %id))]
async fn delete_oauth2_client(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let deleted = state
        .db
        .write(move |c| store::delete(c, &id).map_err(ApiError::from))
        .await?;
    if deleted == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(HttpResponse::NoContent().finish())
}
