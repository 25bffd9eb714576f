//! `POST /hooks/identity-lifecycle` on the admin listener: identity-svc's signed notice that an
//! identity ended. For `identity.deleted` and `identity.deactivated` login-ui revokes the subject
//! at oauth2-svc and answers 204 only once that is done, so that identity-svc's outbox retries
//! until it is.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use service_kit::http::{EdgeError, RequestId, read_body};
use shared_types::hooks::{IdentityLifecycleEvent, SIGNATURE_HEADER};

use crate::state::AppState;

pub const PATH: &str = "/hooks/identity-lifecycle";

/// Mounted only when `hooks.identity_lifecycle.secret` is set (unsigned notices are never
/// accepted); otherwise the path is a 404 like any other.
pub fn admin_routes(cfg: &mut web::ServiceConfig, state: web::Data<AppState>) {
    if state
        .settings
        .settings
        .hooks
        .identity_lifecycle
        .secret
        .all()
        .is_empty()
    {
        return;
    }
    cfg.service(
        web::resource(PATH)
            .app_data(state)
            .route(web::post().to(receive_identity_lifecycle_event)),
    );
}

#[tracing::instrument(skip_all)]
async fn receive_identity_lifecycle_event(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
    request_id: RequestId,
) -> HttpResponse {
    let settings = &state.settings.settings;
    let limit = settings.serve.request_limits.json_body_bytes;
    let body = match read_body(payload, limit).await {
        Ok(body) => body,
        Err(EdgeError::PayloadTooLarge { .. }) => {
            return refuse(StatusCode::PAYLOAD_TOO_LARGE, "the body is too large");
        }
        Err(_) => return refuse(StatusCode::BAD_REQUEST, "the body could not be read"),
    };
    let signature = req
        .headers()
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    let secrets = &settings.hooks.identity_lifecycle.secret;
    if !super::signature_is_valid(secrets, signature, &body) {
        tracing::warn!("identity lifecycle notice with a missing or wrong signature");
        return refuse(
            StatusCode::UNAUTHORIZED,
            "the X-Olympus-Signature header is missing or wrong",
        );
    }
    let event: IdentityLifecycleEvent = match serde_json::from_slice(&body) {
        Ok(event) => event,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!("the body is invalid: {e}"),
            );
        }
    };
    let identity = event.identity_id.to_string();
    if !super::ends_grants(&event.event) {
        tracing::info!(event = %event.event, %identity, "ignored an unknown identity lifecycle event");
        return HttpResponse::NoContent().finish();
    }
    match state.upstreams.revoke_subject(&identity, &request_id).await {
        Ok(()) => {
            tracing::info!(event = %event.event, %identity, "revoked the identity's grants and remembered logins at oauth2-svc");
            HttpResponse::NoContent().finish()
        }
        Err(e) => {
            tracing::error!(error = %e, %identity, "could not revoke at oauth2-svc; identity-svc will retry");
            refuse(
                StatusCode::BAD_GATEWAY,
                "oauth2-svc did not revoke the subject",
            )
        }
    }
}

/// A refusal for the sender's log (`{"error": …}`); the sender retries anything but a 2xx.
fn refuse(status: StatusCode, reason: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("cache-control", "no-store"))
        .json(serde_json::json!({ "error": reason }))
}
