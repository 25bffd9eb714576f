//! `PATCH /admin/identities` (Kratos' batchPatchIdentities): creates many identities at once,
//! each on its own, with a result per identity. Imported password hashes are stored as given
//! (see `crate::credential::hashes` for the formats) and replaced by argon2id at the first
//! sign-in; plaintext passwords are hashed here, which is why fewer are allowed per request.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde_json::Value;
use shared_types::error::ErrorEnvelope;
use shared_types::identity::{BatchPatchIdentitiesResponse, IdentityPatch, IdentityPatchResponse};

use super::store::{self, IdentityRecord};
use crate::error::ApiError;
use crate::state::AppState;

/// Kratos' limits: 1000 identities per request, 200 when any has a plaintext password.
pub const MAX_IDENTITIES: usize = 1000;
pub const MAX_WITH_PLAINTEXT: usize = 200;

/// One patch after reading, before the database.
struct Pending {
    patch_id: Option<uuid::Uuid>,
    result: Result<IdentityRecord, ApiError>,
}

#[tracing::instrument(skip_all)]
pub async fn batch_patch_identities(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let patches = read_patches(&state, &req, payload).await?;
    let mut pending = Vec::with_capacity(patches.len());
    for raw in patches {
        pending.push(prepare(&state, raw).await);
    }
    let results = state
        .db
        .write(move |c| Ok::<_, ApiError>(insert_all(c, pending)))
        .await?;
    let created = results.iter().filter(|r| r.action == "create").count();
    tracing::info!(created, failed = results.len() - created, "batch import");
    if created == 0 && !results.is_empty() {
        return Ok(all_failed(results));
    }
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(BatchPatchIdentitiesResponse {
            identities: results,
        }))
}

/// The body's `identities`, each still raw so that one malformed entry fails alone. The body
/// may be larger than other JSON bodies (`identity.batch_import_body_bytes`).
async fn read_patches(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<Vec<Value>, ApiError> {
    let json = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(ApiError::UnsupportedMediaType(
            "the body must be application/json".into(),
        ));
    }
    let limit = state.settings.settings.identity.batch_import_body_bytes;
    let body = service_kit::http::read_body(payload, limit).await?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("the JSON body is invalid: {e}")))?;
    let Value::Object(mut object) = value else {
        return Err(ApiError::BadRequest(
            "the body must be an object {\"identities\": […]}".into(),
        ));
    };
    if let Some(key) = object.keys().find(|k| *k != "identities") {
        return Err(ApiError::BadRequest(format!("unknown field {key:?}")));
    }
    let Some(Value::Array(patches)) = object.remove("identities") else {
        return Err(ApiError::BadRequest("identities must be an array".into()));
    };
    if patches.len() > MAX_IDENTITIES {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_IDENTITIES} identities can be imported per request, got {}",
            patches.len()
        )));
    }
    let plaintext = patches.iter().any(|p| {
        !p.pointer("/create/credentials/password/config/password")
            .is_none_or(Value::is_null)
    });
    if plaintext && patches.len() > MAX_WITH_PLAINTEXT {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_WITH_PLAINTEXT} identities can be imported per request when any has a \
             plaintext password (hashing takes time); got {}",
            patches.len()
        )));
    }
    Ok(patches)
}

/// Reads one patch and builds its rows (hashing a plaintext password).
async fn prepare(state: &AppState, raw: Value) -> Pending {
    let patch_id = raw
        .get("patch_id")
        .and_then(Value::as_str)
        .and_then(|s| uuid::Uuid::parse_str(s).ok());
    let result = async {
        let patch: IdentityPatch = serde_json::from_value(raw)
            .map_err(|e| ApiError::BadRequest(format!("the patch is invalid: {e}")))?;
        let body = patch
            .create
            .ok_or_else(|| ApiError::BadRequest("each patch needs `create`".into()))?;
        super::new_identity_with_credentials(body, &state.schemas, &state.passwords).await
    }
    .await;
    Pending { patch_id, result }
}

/// Inserts each prepared identity in its own transaction, so that one conflict fails only its
/// own entry.
fn insert_all(
    conn: &mut service_kit::db::AnyConnection,
    pending: Vec<Pending>,
) -> Vec<IdentityPatchResponse> {
    pending
        .into_iter()
        .map(|p| {
            let result = p
                .result
                .and_then(|record| store::insert(conn, record).map_err(ApiError::from));
            match result {
                Ok(record) => IdentityPatchResponse {
                    action: "create".into(),
                    identity: Some(record.identity.id.0),
                    patch_id: p.patch_id,
                    error: None,
                },
                Err(err) => {
                    if let ApiError::Internal(cause) = &err {
                        tracing::error!(error = ?cause, "importing an identity failed");
                    }
                    IdentityPatchResponse {
                        action: "error".into(),
                        identity: None,
                        patch_id: p.patch_id,
                        error: Some(err.body()),
                    }
                }
            }
        })
        .collect()
}

/// Nothing was created: 409 when every entry clashed with an existing identity, else 400; the
/// per-identity results are in `details.identities`.
fn all_failed(results: Vec<IdentityPatchResponse>) -> HttpResponse {
    let reason = "none of the identities could be created; see details.identities".to_string();
    let error = if results
        .iter()
        .all(|r| r.error.as_ref().is_some_and(|e| e.code == 409))
    {
        ApiError::Conflict(reason)
    } else {
        ApiError::BadRequest(reason)
    };
    let mut body = error.body();
    body.details = Some(serde_json::json!({ "identities": results }));
    HttpResponse::build(error.status_code())
        .insert_header(("cache-control", "no-store"))
        .json(ErrorEnvelope { error: body })
}
