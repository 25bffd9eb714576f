//! Admin courier API: `/admin/courier/messages` (Kratos' listCourierMessages, getCourierMessage).
//! The bodies are shown, as Kratos does (the admin API lives on the private network); they are
//! never logged.

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use service_kit::db::Id;
use shared_types::courier::{Message, MessageDispatch};

use super::store::{self, CourierMessageRow, DispatchRow, MessageFilter};
use crate::error::ApiError;
use crate::state::AppState;

pub fn admin_routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/admin/courier/messages",
        web::get().to(list_courier_messages),
    )
    .route(
        "/admin/courier/messages/{id}",
        web::get().to(get_courier_message),
    );
}

const DEFAULT_PAGE_SIZE: i64 = 250;
const MAX_PAGE_SIZE: i64 = 1000;
const PARAMETERS: [&str; 4] = ["page_size", "page_token", "status", "recipient"];

/// The listing's query, parsed: unknown parameters are refused rather than ignored (an ignored
/// filter would answer with messages the caller did not ask for).
struct ListQuery {
    size: i64,
    after: Option<Id>,
    filter: MessageFilter,
}

impl TryFrom<&HttpRequest> for ListQuery {
    type Error = ApiError;

    fn try_from(req: &HttpRequest) -> Result<Self, ApiError> {
        let mut query = ListQuery {
            size: DEFAULT_PAGE_SIZE,
            after: None,
            filter: MessageFilter::default(),
        };
        for (key, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
            match key.as_ref() {
                "page_size" => {
                    query.size = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
                        .ok_or_else(|| {
                            ApiError::BadRequest(format!(
                                "page_size must be a number between 1 and {MAX_PAGE_SIZE}"
                            ))
                        })?;
                }
                "page_token" => query.after = Some(decode_page_token(&value)?),
                "status" if store::STATUSES.contains(&value.as_ref()) => {
                    query.filter.status = Some(value.into_owned())
                }
                "status" => {
                    return Err(ApiError::BadRequest(format!(
                        "status must be one of: {}",
                        store::STATUSES.join(", ")
                    )));
                }
                "recipient" => query.filter.recipient = Some(value.into_owned()),
                other => {
                    return Err(ApiError::BadRequest(format!(
                        "unknown query parameter {other:?}; known: {}",
                        PARAMETERS.join(", ")
                    )));
                }
            }
        }
        Ok(query)
    }
}

fn decode_page_token(token: &str) -> Result<Id, ApiError> {
    let bad = || ApiError::BadRequest("page_token is not valid".into());
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    uuid::Uuid::from_slice(&bytes).map(Id).map_err(|_| bad())
}

#[tracing::instrument(skip_all)]
async fn list_courier_messages(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::try_from(&req)?;
    let (size, after) = (query.size, query.after);
    let filter = query.filter;
    let (rows, filter) = state
        .db
        .read(move |c| {
            let rows = store::list(c, &filter, after, size + 1)?;
            Ok::<_, ApiError>((rows, filter))
        })
        .await?;
    let mut rows = rows;
    let mut response = HttpResponse::Ok();
    response.insert_header(("cache-control", "no-store"));
    if rows.len() as i64 > size {
        rows.truncate(size as usize);
        let last = rows.last().expect("a full page").id;
        let mut link = url::form_urlencoded::Serializer::new(String::new());
        link.append_pair("page_size", &size.to_string())
            .append_pair("page_token", &URL_SAFE_NO_PAD.encode(last.0.as_bytes()));
        if let Some(status) = &filter.status {
            link.append_pair("status", status);
        }
        if let Some(recipient) = &filter.recipient {
            link.append_pair("recipient", recipient);
        }
        response.insert_header((
            "link",
            format!("</admin/courier/messages?{}>; rel=\"next\"", link.finish()),
        ));
    }
    let messages: Vec<Message> = rows.into_iter().map(|r| to_wire(r, None)).collect();
    Ok(response.json(messages))
}

#[tracing::instrument(skip_all, fields(message_id = %id))]
async fn get_courier_message(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    // A malformed id is answered like an unknown one.
    let id = uuid::Uuid::parse_str(&id)
        .map(Id)
        .map_err(|_| ApiError::NotFound)?;
    let (row, dispatches) = state
        .db
        .read(move |c| store::find(c, id).map_err(ApiError::from))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(to_wire(row, Some(dispatches))))
}

fn to_wire(row: CourierMessageRow, dispatches: Option<Vec<DispatchRow>>) -> Message {
    Message {
        id: row.id.0,
        status: row.status,
        message_type: row.message_type.clone(),
        recipient: row.recipient,
        body: row.body,
        subject: row.subject,
        template_type: row.template_type,
        send_count: i64::from(row.send_count),
        channel: Some(row.message_type),
        dispatches: dispatches.map(|all| {
            all.into_iter()
                .map(|d| MessageDispatch {
                    id: d.id.0,
                    message_id: d.message_id.0,
                    status: d.status,
                    error: d.error.map(|e| e.0),
                    created_at: d.created_at.and_utc(),
                    updated_at: d.updated_at.and_utc(),
                })
                .collect()
        }),
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
    }
}
