//! `POST /oauth2/device/auth` (Hydra's oAuth2DeviceFlow, RFC 8628 §3.1–3.2): the client
//! authenticates as at the token endpoint and gets a device code and a user code.

use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use service_kit::db::{Id, Json};
use service_kit::http::read_body;

use super::error::{GrantError, respond};
use super::store::{self, DeviceCodeRow};
use super::{DEVICE_CODE_PREFIX, DeviceRequest, GRANT_TYPE, PENDING};
use crate::keyed::{Purpose, new_token};
use crate::state::AppState;
use crate::token::OAuth2Error;
use crate::token::client_auth::{self, AuthenticatedClient, Presented};
use crate::token::form::{self, Form};

/// Hydra's `deviceAuthorization`.
#[derive(Debug, Serialize)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: u64,
    pub interval: u64,
}

/// The token endpoint's form rules: the form media type, the body limit, no repeats.
pub async fn read_form(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<Form, OAuth2Error> {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if !form::is_form(content_type) {
        return Err(OAuth2Error::InvalidRequest(format!(
            "The request must be sent with Content-Type: {}",
            form::FORM_MEDIA_TYPE
        )));
    }
    let limit = state.settings.settings.serve.request_limits.form_body_bytes;
    let body = read_body(payload, limit).await?;
    Form::parse(content_type, &body).map_err(OAuth2Error::InvalidRequest)
}

/// The client, authenticated as at the token endpoint.
pub async fn authenticate(
    state: &AppState,
    req: &HttpRequest,
    form: &Form,
) -> Result<AuthenticatedClient, OAuth2Error> {
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let presented = Presented::from_request(header, form)?;
    client_auth::authenticate(state, req, presented).await
}

#[tracing::instrument(skip_all)]
pub async fn oauth2_device_flow(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    respond(device_flow(&state, &req, payload).await)
}

async fn device_flow(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<DeviceAuthorization, GrantError> {
    let form = read_form(state, req, payload).await?;
    let client = authenticate(state, req, &form).await?;
    if !client.may_use_grant(GRANT_TYPE) {
        return Err(GrantError::new(
            "unauthorized_client",
            "The client is not allowed to use the device_code grant.",
        ));
    }
    let request = DeviceRequest {
        scope: requested(form.get("scope")),
        audience: requested(form.get("audience")),
    };
    let allowed: Vec<&str> = client.document.scope.split_whitespace().collect();
    if request.scope.iter().any(|s| !allowed.contains(&s.as_str())) {
        return Err(GrantError::new(
            "invalid_scope",
            "The client may not request one of the scopes.",
        ));
    }
    if request
        .audience
        .iter()
        .any(|a| !client.document.audience.contains(a))
    {
        return Err(GrantError::new(
            "invalid_request",
            "The requested audience is not allowed for the client.",
        ));
    }
    issue(state, &client, request).await
}

fn requested(value: Option<&str>) -> Vec<String> {
    value
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Stores a new device code (a fresh user code on the rare collision) and answers.
async fn issue(
    state: &AppState,
    client: &AuthenticatedClient,
    request: DeviceRequest,
) -> Result<DeviceAuthorization, GrantError> {
    let settings = &state.settings.settings;
    let now = settings.clock.now();
    let ttl = settings.ttl.device_user_code;
    let interval = settings.oauth2.device_authorization.token_polling_interval;
    let device_code = new_token(DEVICE_CODE_PREFIX);
    for _ in 0..3 {
        let user_code = super::new_user_code();
        let normal = super::normalise_user_code(&user_code).expect("a generated user code");
        let row = DeviceCodeRow {
            id: Id::new_v7(),
            client_id: client.client_id.clone(),
            device_code_hash: state.hasher.hash(Purpose::DeviceCode, &device_code),
            user_code_hash: state.hasher.hash(Purpose::UserCode, &normal),
            state: PENDING.into(),
            request: Json(serde_json::to_value(&request).map_err(anyhow::Error::from)?),
            flow_id: None,
            subject: None,
            grant_data: None,
            interval_secs: i32::try_from(interval.as_secs()).unwrap_or(5),
            last_polled_at: None,
            expires_at: (now + ttl).naive_utc(),
            created_at: now.naive_utc(),
            updated_at: now.naive_utc(),
        };
        let inserted = state
            .db
            .write(move |c| match store::insert_code(c, &row) {
                Ok(()) => Ok(true),
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => Ok(false),
                Err(e) => Err(GrantError::from(e)),
            })
            .await?;
        if inserted {
            tracing::info!(client_id = %client.client_id, "issued a device code");
            let verify = verification_uri(state);
            return Ok(DeviceAuthorization {
                device_code,
                verification_uri_complete: format!("{verify}?user_code={user_code}"),
                verification_uri: verify,
                user_code,
                expires_in: ttl.as_secs(),
                interval: interval.as_secs(),
            });
        }
    }
    Err(anyhow::anyhow!("could not find a free user code").into())
}

/// `/oauth2/device/verify` under the issuer: it starts a device challenge and sends the browser
/// to `urls.device.verification`.
pub fn verification_uri(state: &AppState) -> String {
    format!(
        "{}/oauth2/device/verify",
        crate::token::issue::issuer(state).trim_end_matches('/')
    )
}
