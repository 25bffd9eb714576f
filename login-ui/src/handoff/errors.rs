//! `/error`: where oauth2-svc sends errors it cannot return to an application.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::problem;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct ErrorQuery {
    error: Option<String>,
    error_description: Option<String>,
}

pub async fn get_error(state: web::Data<AppState>, query: web::Query<ErrorQuery>) -> HttpResponse {
    let title = match query.error.as_deref() {
        Some("invalid_client") => "The application is not known",
        Some("access_denied") => "Access was denied",
        Some("request_forbidden") => "The sign-in was started in another browser",
        Some("login_required") => "You need to sign in",
        Some(_) | None => "The sign-in request could not be handled",
    };
    let description: String = query
        .error_description
        .as_deref()
        .unwrap_or("Something went wrong while signing in.")
        .chars()
        .take(300)
        .collect();
    let message = format!("{description} Go back to the application and start the sign-in again.");
    problem(&state, StatusCode::BAD_REQUEST, title, &message, None)
}
