//! Admin identities API: `/admin/identities` (Kratos' createIdentity, listIdentities,
//! getIdentity, deleteIdentity).

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use service_kit::db::Id;
use service_kit::http::JsonObject;
use shared_types::identity::CreateIdentityBody;

use super::store::{self, IdentityFilter};
use crate::error::ApiError;
use crate::state::AppState;

pub fn admin_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/admin/identities")
            .route(web::post().to(create_identity))
            .route(web::get().to(list_identities)),
    )
    .service(
        web::resource("/admin/identities/{id}")
            .route(web::get().to(get_identity))
            .route(web::delete().to(delete_identity)),
    );
}

const DEFAULT_PAGE_SIZE: i64 = 250;
const MAX_PAGE_SIZE: i64 = 1000;

#[tracing::instrument(skip_all)]
async fn create_identity(
    state: web::Data<AppState>,
    JsonObject(body): JsonObject<CreateIdentityBody>,
) -> Result<HttpResponse, ApiError> {
    let record =
        super::new_identity_with_credentials(body, &state.schemas, &state.passwords).await?;
    let record = state
        .db
        .write(move |c| store::insert(c, record).map_err(ApiError::from))
        .await?;
    tracing::info!(identity_id = %record.identity.id.0, "created identity");
    let identity = super::to_wire(record, &state.settings.public_url, &[])?;
    Ok(HttpResponse::Created()
        .insert_header(("cache-control", "no-store"))
        .json(identity))
}

/// The query parameters of a request. Repeated keys are kept (Kratos' `include_credential` is a
/// list); unknown keys are refused, because silently ignoring a filter such as `ids` would
/// answer with identities the caller did not ask for.
struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    fn parse(req: &HttpRequest, allowed: &[&str]) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(req.query_string().as_bytes())
                .into_owned()
                .collect();
        if let Some((key, _)) = pairs.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            return Err(ApiError::BadRequest(format!(
                "unknown query parameter {key:?}"
            )));
        }
        Ok(QueryParams(pairs))
    }

    fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn one(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn page_size(raw: Option<&str>) -> Result<i64, ApiError> {
    let bad = || {
        ApiError::BadRequest(format!(
            "page_size must be a number between 1 and {MAX_PAGE_SIZE}"
        ))
    };
    let size = raw
        .map(|s| s.parse::<i64>().map_err(|_| bad()))
        .transpose()?
        .unwrap_or(DEFAULT_PAGE_SIZE);
    if (1..=MAX_PAGE_SIZE).contains(&size) {
        Ok(size)
    } else {
        Err(bad())
    }
}

fn decode_page_token(token: &str) -> Result<Id, ApiError> {
    let bad = || ApiError::BadRequest("page_token is not valid".into());
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    uuid::Uuid::from_slice(&bytes).map(Id).map_err(|_| bad())
}

#[tracing::instrument(skip_all)]
async fn list_identities(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params = QueryParams::parse(
        &req,
        &[
            "page_size",
            "page_token",
            "credentials_identifier",
            "include_credential",
        ],
    )?;
    let size = page_size(params.one("page_size"))?;
    let after = params
        .one("page_token")
        .map(decode_page_token)
        .transpose()?;
    let include = super::parse_include_credential(&params.all("include_credential"))?;
    let identifier = params.one("credentials_identifier").map(str::to_string);
    let filter = IdentityFilter {
        credentials_identifier: identifier.as_deref().map(super::identifier_candidates),
    };
    let with_credentials = !include.is_empty();
    let mut records = state
        .db
        .read(move |c| {
            store::list(c, &filter, after, size + 1, with_credentials).map_err(ApiError::from)
        })
        .await?;
    let next = (records.len() as i64 > size).then(|| {
        records.truncate(size as usize);
        URL_SAFE_NO_PAD.encode(
            records
                .last()
                .expect("a full page")
                .identity
                .id
                .0
                .as_bytes(),
        )
    });
    let public = &state.settings.public_url;
    let identities = records
        .into_iter()
        .map(|r| super::to_wire(r, public, &include))
        .collect::<Result<Vec<_>, _>>()?;
    let mut response = HttpResponse::Ok();
    if let Some(token) = next {
        let mut link = url::form_urlencoded::Serializer::new(String::new());
        link.append_pair("page_size", &size.to_string())
            .append_pair("page_token", &token);
        if let Some(identifier) = &identifier {
            link.append_pair("credentials_identifier", identifier);
        }
        for credential_type in &include {
            link.append_pair("include_credential", credential_type);
        }
        response.insert_header((
            "link",
            format!("</admin/identities?{}>; rel=\"next\"", link.finish()),
        ));
    }
    Ok(response.json(identities))
}

#[tracing::instrument(skip_all, fields(identity_id = %id))]
async fn get_identity(
    state: web::Data<AppState>,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = super::parse_id(&id)?;
    let include = super::parse_include_credential(
        &QueryParams::parse(&req, &["include_credential"])?.all("include_credential"),
    )?;
    let with_credentials = !include.is_empty();
    let record = state
        .db
        .read(move |c| store::find(c, id, with_credentials).map_err(ApiError::from))
        .await?;
    Ok(HttpResponse::Ok().json(super::to_wire(
        record,
        &state.settings.public_url,
        &include,
    )?))
}

#[tracing::instrument(skip_all, fields(identity_id = %id))]
async fn delete_identity(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = super::parse_id(&id)?;
    let now = state.settings.settings.clock.now().naive_utc();
    let notice = state
        .lifecycle_hook
        .as_ref()
        .map(|_| crate::hooks::notice(crate::hooks::Event::Deleted, id, now));
    let deleted = state
        .db
        .write(move |c| store::delete(c, id, notice.as_ref()).map_err(ApiError::from))
        .await?;
    if deleted == 0 {
        return Err(ApiError::NotFound);
    }
    if let Some(worker) = &state.lifecycle_hook {
        worker.wake();
    }
    tracing::info!("deleted identity");
    Ok(HttpResponse::NoContent().finish())
}
