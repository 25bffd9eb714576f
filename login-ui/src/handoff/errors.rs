//! `/error`: where oauth2-svc sends errors it cannot return to an application
//! (`?error=&error_description=`) and identity-svc sends browser flow errors (`?id=`, looked up
//! at identity-svc's `GET /self-service/errors?id=`). The page says what happened, in the
//! browser's language, and offers a way to start again; upstream descriptions are shown as text.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use service_kit::http::RequestId;

use super::unavailable_for;
use crate::api::Answer;
use crate::pages::ErrorPage;
use crate::render;
use crate::state::AppState;

/// The longest upstream description shown.
const MAX_DETAIL_CHARS: usize = 300;

#[derive(Deserialize)]
pub struct ErrorQuery {
    error: Option<String>,
    error_description: Option<String>,
    id: Option<String>,
}

/// The title key for an OAuth2 error code.
pub fn oauth2_title(error: Option<&str>) -> &'static str {
    match error {
        Some("invalid_client") => "error.oauth2.invalid_client",
        Some("access_denied") => "error.oauth2.access_denied",
        Some("request_forbidden") => "error.oauth2.request_forbidden",
        Some("login_required") => "error.oauth2.login_required",
        Some("consent_required") => "error.oauth2.consent_required",
        Some("invalid_request") => "error.oauth2.invalid_request",
        Some("invalid_scope") => "error.oauth2.invalid_scope",
        Some("unauthorized_client") => "error.oauth2.unauthorized_client",
        Some("server_error") => "error.oauth2.server_error",
        Some(_) | None => "error.oauth2.other",
    }
}

/// `8-4-4-4-12` hexadecimal digits.
fn is_uuid(value: &str) -> bool {
    value.len() == 36
        && value.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn shorten(text: &str) -> String {
    text.chars().take(MAX_DETAIL_CHARS).collect()
}

pub async fn get_error(
    state: web::Data<AppState>,
    req: HttpRequest,
    rid: RequestId,
    query: web::Query<ErrorQuery>,
) -> HttpResponse {
    // Starting again means signing in again at identity-svc: a fixed upstream URL, never one
    // taken from the query.
    let restart = state.upstreams.browser_login(None);
    if let Some(id) = query.id.as_deref().filter(|id| !id.is_empty()) {
        // identity-svc's error ids are UUIDs; anything else is neither looked up nor echoed.
        if !is_uuid(id) {
            let page = ErrorPage {
                restart_url: Some(restart.as_str()),
                ..ErrorPage::new(404, "error.identity.title", "error.identity.unknown")
            };
            return render::error_page(&state, &req, StatusCode::NOT_FOUND, &page);
        }
        return identity_error(&state, &req, &rid, id, restart.as_str()).await;
    }
    let detail = query.error_description.as_deref().map(shorten);
    let page = ErrorPage {
        detail: detail.as_deref(),
        ..ErrorPage::new(
            400,
            oauth2_title(query.error.as_deref()),
            "error.oauth2.message",
        )
    };
    render::error_page(&state, &req, StatusCode::BAD_REQUEST, &page)
}

async fn identity_error(
    state: &AppState,
    req: &HttpRequest,
    rid: &RequestId,
    id: &str,
    restart: &str,
) -> HttpResponse {
    let (status, message, detail) = match state.upstreams.self_service_error(id, rid).await {
        Ok(Answer::Ok(flow)) => {
            let error = &flow["error"];
            // `reason` is the more specific of the two when identity-svc sends both.
            let detail = error["reason"]
                .as_str()
                .filter(|r| !r.is_empty())
                .or_else(|| error["message"].as_str())
                .map(shorten);
            let status = error["code"]
                .as_u64()
                .and_then(|c| u16::try_from(c).ok())
                .and_then(|c| StatusCode::from_u16(c).ok())
                .filter(|c| c.is_client_error() || c.is_server_error())
                .unwrap_or(StatusCode::BAD_REQUEST);
            (status, "error.identity.message", detail)
        }
        Ok(_) => (StatusCode::NOT_FOUND, "error.identity.unknown", None),
        Err(e) => return unavailable_for(state, req, e),
    };
    let page = ErrorPage {
        detail: detail.as_deref(),
        request_id: Some(id),
        restart_url: Some(restart),
        ..ErrorPage::new(status.as_u16(), "error.identity.title", message)
    };
    render::error_page(state, req, status, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth2_codes_have_titles_and_others_a_generic_one() {
        assert_eq!(
            oauth2_title(Some("access_denied")),
            "error.oauth2.access_denied"
        );
        assert_eq!(oauth2_title(Some("<script>")), "error.oauth2.other");
        assert_eq!(oauth2_title(None), "error.oauth2.other");
        assert_eq!(shorten(&"x".repeat(1000)).len(), MAX_DETAIL_CHARS);
    }

    #[test]
    fn only_uuid_shaped_error_ids_are_accepted() {
        assert!(is_uuid("0d6c1a8e-3c1b-4b8e-9f2a-1d2e3f4a5b6c"));
        assert!(is_uuid("0D6C1A8E-3C1B-4B8E-9F2A-1D2E3F4A5B6C"));
        for bad in [
            "",
            "call 555-0100 for help",
            "0d6c1a8e3c1b4b8e9f2a1d2e3f4a5b6c",
            "0d6c1a8e-3c1b-4b8e-9f2a-1d2e3f4a5b6g",
            "<script>alert(1)</script>-0000-0000-000",
        ] {
            assert!(!is_uuid(bad), "{bad}");
        }
    }
}
