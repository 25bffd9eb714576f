//! Changing a client: `PUT /admin/clients/{id}` (setOAuth2Client, a full replace),
//! `PATCH /admin/clients/{id}` (patchOAuth2Client, RFC 6902) and
//! `PUT /admin/clients/{id}/lifespans` (setOAuth2ClientLifespans).
//!
//! Every change passes the same rules as a create. The secret stays unless the change gives a
//! new one, which is returned once; the old secret stops working at once (Hydra keeps rotated
//! secrets valid; Olympus does not, so a leaked secret is revoked by rotating it).

use actix_web::{HttpResponse, web};
use service_kit::db::Json;
use service_kit::http::JsonObject;
use shared_types::client::{OAuth2Client, OAuth2ClientTokenLifespans};

use super::handlers::to_wire;
use super::patch::{self, Operation};
use super::secret::{self, SecretUpdate};
use super::store::{self, ClientRow, ClientUpdate};
use crate::error::ApiError;
use crate::keyed::Purpose;
use crate::state::AppState;

/// Fields a patch may not touch: they are the server's.
const IMMUTABLE: &[&str] = &["/client_id", "/created_at", "/updated_at"];

#[tracing::instrument(skip_all, fields(client_id = %id))]
pub async fn set_oauth2_client(
    state: web::Data<AppState>,
    id: web::Path<String>,
    JsonObject(mut body): JsonObject<OAuth2Client>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if body
        .client_id
        .as_deref()
        .is_some_and(|b| !b.is_empty() && b != id)
    {
        return Err(ApiError::InvalidRequest(
            "client_id cannot be changed; it must match the path or be omitted".into(),
        ));
    }
    body.client_id = Some(id.clone());
    let row = find(&state, &id).await?;
    respond(save(&state, row, body, None).await?)
}

#[tracing::instrument(skip_all, fields(client_id = %id))]
pub async fn patch_oauth2_client(
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<Vec<serde_json::Value>>,
) -> Result<HttpResponse, ApiError> {
    let ops = body
        .into_inner()
        .into_iter()
        .map(serde_json::from_value::<Operation>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::InvalidRequest(format!("the JSON patch is invalid: {e}")))?;
    if let Some(op) = ops.iter().find(|op| touches_immutable(op)) {
        return Err(ApiError::InvalidRequest(format!(
            "{} cannot be changed",
            op.path.trim_start_matches('/')
        )));
    }
    let id = id.into_inner();
    let row = find(&state, &id).await?;
    let current = serde_json::to_value(to_wire(row.clone())?).map_err(anyhow::Error::from)?;
    let patched = patch::apply(&current, &ops).map_err(ApiError::InvalidRequest)?;
    let mut body: OAuth2Client = serde_json::from_value(patched).map_err(|e| {
        ApiError::InvalidRequest(format!("the patched client is not a valid client: {e}"))
    })?;
    body.client_id = Some(id);
    respond(save(&state, row, body, None).await?)
}

#[tracing::instrument(skip_all, fields(client_id = %id))]
pub async fn set_oauth2_client_lifespans(
    state: web::Data<AppState>,
    id: web::Path<String>,
    JsonObject(lifespans): JsonObject<OAuth2ClientTokenLifespans>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let row = find(&state, &id).await?;
    let mut body = to_wire(row.clone())?;
    body.lifespans = lifespans;
    respond(save(&state, row, body, None).await?)
}

fn touches_immutable(op: &Operation) -> bool {
    let hits = |path: &str| {
        IMMUTABLE
            .iter()
            .any(|f| path == *f || path.starts_with(&format!("{f}/")) || path.is_empty())
    };
    hits(&op.path) || (op.op == "move" && op.from.as_deref().is_some_and(hits))
}

pub(super) async fn find(state: &AppState, id: &str) -> Result<ClientRow, ApiError> {
    let id = id.to_string();
    state
        .db
        .read(move |c| store::find(c, &id).map_err(ApiError::from))
        .await
}

fn respond(client: OAuth2Client) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(client))
}

/// Validates `body` as the new state of `row`'s client and writes it (with a new registration
/// access token hash when given); returns the client, with the new secret when there is one.
pub(super) async fn save(
    state: &AppState,
    row: ClientRow,
    body: OAuth2Client,
    registration_token_hash: Option<String>,
) -> Result<OAuth2Client, ApiError> {
    let (client_id, method, mut document) = super::validate(body)?;
    crate::subject::check_client(&state.settings.settings.oidc.subject_identifiers, &document)?;
    let change = secret::for_update(
        &method,
        document.client_secret.take(),
        row.secret_hash.is_some(),
    )?;
    document.created_at = None;
    document.updated_at = None;
    let update = ClientUpdate {
        client_name: document.client_name.clone(),
        owner: document.owner.clone(),
        secret_hash: match &change {
            SecretUpdate::Keep => None,
            SecretUpdate::Set(s) => Some(Some(state.hasher.hash(Purpose::ClientSecret, s))),
            SecretUpdate::Clear => Some(None),
        },
        registration_token_hash,
        metadata: Json(serde_json::to_value(&document).map_err(anyhow::Error::from)?),
        updated_at: service_kit::db::now(),
    };
    let read_at = row.updated_at;
    let id = client_id.clone();
    let saved = state
        .db
        .write(move |c| {
            match store::update(c, &id, read_at, update)? {
                1 => store::find(c, &id).map(Some),
                _ => Ok(None),
            }
            .map_err(ApiError::from)
        })
        .await?
        .ok_or_else(|| {
            ApiError::Conflict("the client was changed at the same time; retry".into())
        })?;
    let rotated = matches!(change, SecretUpdate::Set(_));
    tracing::info!(client_id, rotated, "updated OAuth2 client");
    let mut client = to_wire(saved)?;
    if let SecretUpdate::Set(secret) = change {
        client.client_secret = Some(secret);
    }
    Ok(client)
}
