//! `GET /self-service/errors?id=` (Kratos' `getFlowError`), on the public and admin listeners.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use service_kit::db::Id;

use super::{FlowError, store};
use crate::error::ApiError;
use crate::flow::http::no_store;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/self-service/errors", web::get().to(get_flow_error));
}

#[derive(Deserialize)]
struct ErrorQuery {
    id: Option<String>,
}

/// The stored error, as often as asked until it expires (as in Kratos); a malformed, unknown or
/// expired id is 404.
#[tracing::instrument(skip_all)]
async fn get_flow_error(
    state: web::Data<AppState>,
    query: web::Query<ErrorQuery>,
) -> Result<HttpResponse, ApiError> {
    let raw = query.id.as_deref().unwrap_or_default();
    let now = state.settings.settings.clock.now();
    if let Some(stub) = super::stub(raw, now) {
        return Ok(no_store(HttpResponse::Ok()).json(stub));
    }
    let id = uuid::Uuid::parse_str(raw).map_err(|_| ApiError::NotFound)?;
    let row = state
        .db
        .read(move |c| store::find(c, Id(id), now.naive_utc()).map_err(ApiError::from))
        .await?;
    let flow = FlowError {
        id: row.id.0,
        error: row.error.0,
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
    };
    Ok(no_store(HttpResponse::Ok()).json(flow))
}
