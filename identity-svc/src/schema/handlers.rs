//! `GET /schemas` and `GET /schemas/{id}` (Kratos' listIdentitySchemas and getIdentitySchema),
//! on both listeners as in Kratos.

use actix_web::{HttpResponse, web};
use shared_types::identity::IdentitySchemaContainer;

use crate::error::ApiError;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/schemas", web::get().to(list_identity_schemas))
        .route("/schemas/{id}", web::get().to(get_identity_schema));
}

async fn list_identity_schemas(state: web::Data<AppState>) -> HttpResponse {
    let schemas: Vec<IdentitySchemaContainer> = state
        .schemas
        .all()
        .iter()
        .map(|s| IdentitySchemaContainer {
            id: s.id.clone(),
            schema: s.document.clone(),
        })
        .collect();
    HttpResponse::Ok().json(schemas)
}

/// Accepts the schema id or its base64url form (the last segment of an identity's `schema_url`).
async fn get_identity_schema(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let schema = state.schemas.find(&id).ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(&schema.document))
}
