//! Errors raised before a handler runs (bad bodies, unknown routes, timeouts), rendered in the
//! owning service's envelope.

use actix_web::dev::Payload;
use actix_web::error::{
    InternalError, JsonPayloadError, PathError, QueryPayloadError, UrlencodedError,
};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::settings::RequestLimits;

#[derive(Debug, Clone, PartialEq)]
pub enum EdgeError {
    /// The body, query or path could not be parsed; the text says where, never echoes secrets.
    BadRequest(String),
    PayloadTooLarge {
        limit: usize,
    },
    UnsupportedMediaType(String),
    NotFound,
    Timeout,
}

/// Renders an [`EdgeError`] in a service's documented error envelope.
pub type ErrorRenderer = fn(EdgeError) -> HttpResponse;

fn from_json(err: &JsonPayloadError) -> EdgeError {
    match err {
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => EdgeError::PayloadTooLarge { limit: *limit },
        JsonPayloadError::ContentType => EdgeError::UnsupportedMediaType(
            "expected a JSON body with Content-Type: application/json".into(),
        ),
        JsonPayloadError::Deserialize(e) => {
            EdgeError::BadRequest(format!("the JSON body is invalid: {e}"))
        }
        JsonPayloadError::Payload(actix_web::error::PayloadError::Overflow) => {
            EdgeError::PayloadTooLarge { limit: 0 }
        }
        other => EdgeError::BadRequest(format!("the body could not be read: {other}")),
    }
}

fn from_form(err: &UrlencodedError) -> EdgeError {
    match err {
        UrlencodedError::Overflow { limit, .. } => EdgeError::PayloadTooLarge { limit: *limit },
        UrlencodedError::ContentType => EdgeError::UnsupportedMediaType(
            "expected a form body with Content-Type: application/x-www-form-urlencoded".into(),
        ),
        UrlencodedError::Parse(_) => EdgeError::BadRequest("the form body is invalid".into()),
        other => EdgeError::BadRequest(format!("the form body could not be read: {other}")),
    }
}

/// Body, form, query and path extractor settings with the configured limits and `render` for
/// their errors. Register them with `App::app_data`.
pub fn extractor_configs(
    limits: &RequestLimits,
    render: ErrorRenderer,
) -> (
    web::JsonConfig,
    web::FormConfig,
    web::QueryConfig,
    web::PathConfig,
    web::PayloadConfig,
) {
    let json = web::JsonConfig::default()
        .limit(limits.json_body_bytes)
        .error_handler(move |err, _| {
            let resp = render(from_json(&err));
            InternalError::from_response(err, resp).into()
        });
    let form = web::FormConfig::default()
        .limit(limits.form_body_bytes)
        .error_handler(move |err, _| {
            let resp = render(from_form(&err));
            InternalError::from_response(err, resp).into()
        });
    let query = web::QueryConfig::default().error_handler(move |err: QueryPayloadError, _| {
        let resp = render(EdgeError::BadRequest(format!(
            "the query is invalid: {err}"
        )));
        InternalError::from_response(err, resp).into()
    });
    let path = web::PathConfig::default().error_handler(move |err: PathError, _| {
        let resp = render(EdgeError::BadRequest(format!("the path is invalid: {err}")));
        InternalError::from_response(err, resp).into()
    });
    let payload = web::PayloadConfig::new(limits.json_body_bytes.max(limits.form_body_bytes));
    (json, form, query, path, payload)
}

/// A JSON body that must be an object, then parsed into `T`. Plain `web::Json<T>` would also
/// accept an array for a struct (serde maps it positionally), which no API here means.
pub struct JsonObject<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonObject<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let object =
            web::Json::<serde_json::Map<String, serde_json::Value>>::from_request(req, payload);
        let render = req
            .app_data::<web::Data<super::EdgeContext>>()
            .map(|edge| edge.render);
        Box::pin(async move {
            let object = object.await?.into_inner();
            serde_json::from_value(serde_json::Value::Object(object))
                .map(JsonObject)
                .map_err(|err| {
                    let edge = EdgeError::BadRequest(format!("the JSON body is invalid: {err}"));
                    match render {
                        Some(render) => InternalError::from_response(err, render(edge)).into(),
                        None => actix_web::error::ErrorBadRequest(err),
                    }
                })
        })
    }
}

/// Reads a whole body up to `limit` bytes (for handlers that accept several content types).
pub async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::Bytes, EdgeError> {
    use futures_util::StreamExt;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| EdgeError::BadRequest(format!("the body could not be read: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(EdgeError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}
