//! Admin identities API: `/admin/identities` (Kratos' createIdentity, listIdentities,
//! getIdentity, deleteIdentity; updateIdentity and patchIdentity are in `manage`, the batch
//! import in `import`).

use actix_web::{HttpRequest, HttpResponse, web};
use service_kit::http::JsonObject;
use shared_types::identity::CreateIdentityBody;

use super::store::{self, IdentityFilter};
use crate::error::ApiError;
use crate::pagination::{QueryParams, next_link};
use crate::state::AppState;

pub fn admin_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/admin/identities")
            .route(web::post().to(create_identity))
            .route(web::get().to(list_identities))
            .route(web::patch().to(super::import::batch_patch_identities)),
    )
    .service(
        web::resource("/admin/identities/{id}")
            .route(web::get().to(get_identity))
            .route(web::put().to(super::manage::update_identity))
            .route(web::patch().to(super::manage::patch_identity))
            .route(web::delete().to(delete_identity)),
    );
}

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

/// Kratos' list with its `credentials_identifier` filter, and Olympus' trait search
/// (`traits.<path>=<value>`, see `manage::trait_filter`); filters combine (all must match).
#[tracing::instrument(skip_all)]
async fn list_identities(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params = QueryParams::parse_with(
        &req,
        &[
            "page_size",
            "page_token",
            "credentials_identifier",
            "include_credential",
        ],
        |key| key.starts_with("traits."),
    )?;
    let page = params.page()?;
    let include = super::parse_include_credential(&params.all("include_credential"))?;
    let traits = params
        .pairs()
        .iter()
        .filter(|(k, _)| k.starts_with("traits."))
        .map(|(k, v)| super::manage::trait_filter(k, v))
        .collect::<Result<Vec<_>, _>>()?;
    let filter = IdentityFilter {
        credentials_identifier: params
            .one("credentials_identifier")
            .map(super::identifier_candidates),
        traits,
    };
    let with_credentials = !include.is_empty();
    let mut records = state
        .db
        .read(move |c| {
            store::list(c, &filter, page.after, page.limit(), with_credentials)
                .map_err(ApiError::from)
        })
        .await?;
    let next = page.finish(&mut records, |r| r.identity.id);
    let public = &state.settings.public_url;
    let identities = records
        .into_iter()
        .map(|r| super::to_wire(r, public, &include))
        .collect::<Result<Vec<_>, _>>()?;
    let mut response = HttpResponse::Ok();
    if let Some(token) = next {
        response.insert_header((
            "link",
            next_link("/admin/identities", &params, page.size, &token),
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
