//! `/device` and `/device/done`: the browser side of the device flow (RFC 8628). oauth2-svc
//! sends the browser here with a `device_challenge` (and the user code, when the user followed
//! `verification_uri_complete`); the user confirms or types the code shown on the device, and
//! login-ui accepts the challenge with it. The browser then goes through the usual login and
//! consent pages and ends on `/device/done`.
//!
//! A wrong code shows the form again with the error; oauth2-svc counts wrong codes and ends the
//! challenge after a few, after which (410) the user is offered a fresh start.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use service_kit::http::RequestId;
use tera::Context;

use super::{csrf, page, problem, see_other, unavailable};
use crate::api::Answer;
use crate::state::AppState;

/// The longest user code shown back in the form; real ones are 9 characters.
const MAX_CODE_LEN: usize = 64;

#[derive(Deserialize)]
pub struct DeviceQuery {
    device_challenge: Option<String>,
    user_code: Option<String>,
}

#[derive(Deserialize)]
pub struct DeviceForm {
    device_challenge: String,
    csrf_token: String,
    user_code: String,
}

#[derive(Deserialize)]
pub struct DoneQuery {
    error: Option<String>,
    error_description: Option<String>,
}

pub async fn get_device(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<DeviceQuery>,
) -> HttpResponse {
    let Some(challenge) = query.device_challenge.as_deref().filter(|c| !c.is_empty()) else {
        return problem(
            &state,
            StatusCode::BAD_REQUEST,
            "Nothing to connect",
            "Open the address your device shows to connect it to your account.",
            None,
        );
    };
    let code = query.user_code.as_deref().unwrap_or_default();
    form(&state, &req, challenge, code, None)
}

pub async fn post_device(
    state: web::Data<AppState>,
    req: HttpRequest,
    rid: RequestId,
    form: web::Form<DeviceForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let challenge = form.device_challenge.as_str();
    if !csrf::verify(
        &state.settings.settings.secrets.cookie,
        &req,
        csrf::Purpose::Device,
        challenge,
        &form.csrf_token,
    ) {
        return problem(
            &state,
            StatusCode::FORBIDDEN,
            "Your code could not be accepted",
            "The form was not sent from this browser's device page, or its cookie is missing. Open the address your device shows and try again.",
            None,
        );
    }
    let typed = form.user_code.trim();
    if typed.is_empty() {
        return form_again(
            &state,
            &req,
            challenge,
            typed,
            "Enter the code your device shows.",
        );
    }
    match state
        .upstreams
        .accept_user_code(challenge, typed, &rid)
        .await
    {
        Ok(Answer::Ok(redirect)) => see_other(&redirect.redirect_to),
        Ok(Answer::Invalid) => form_again(
            &state,
            &req,
            challenge,
            typed,
            "That code is not valid, was already used or has expired. Check the code on your device and try again; after several wrong codes you will need to start again.",
        ),
        // Used, expired, or too many wrong codes: a fresh challenge starts at `restart`.
        Ok(Answer::Gone(restart)) => problem(
            &state,
            StatusCode::GONE,
            "Start again to connect your device",
            "This code entry has ended: it was used, it expired, or too many wrong codes were entered. Start again to get a fresh one; if the code on your device has expired, start again on the device too.",
            Some(&restart),
        ),
        Ok(Answer::TooMany) => problem(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            "Too many wrong codes",
            "Too many wrong device codes were entered recently, so code entry is paused for a few minutes. Wait a little, then start again on your device.",
            None,
        ),
        Ok(_) => problem(
            &state,
            StatusCode::NOT_FOUND,
            "This device link is not valid",
            "The link may be incomplete or very old. Open the address your device shows and try again.",
            None,
        ),
        Err(e) => unavailable(&state, e),
    }
}

/// The form again, with `error` tied to the code field; 400 so that it is not a success.
fn form_again(
    state: &AppState,
    req: &HttpRequest,
    challenge: &str,
    typed: &str,
    error: &str,
) -> HttpResponse {
    let mut response = form(state, req, challenge, typed, Some(error));
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
}

fn form(
    state: &AppState,
    req: &HttpRequest,
    challenge: &str,
    code: &str,
    error: Option<&str>,
) -> HttpResponse {
    let secure = !state.settings.settings.dev;
    let (cookie, new_cookie) = csrf::cookie_for(req, csrf::Purpose::Device, secure);
    let mut context = Context::new();
    context.insert("challenge", challenge);
    context.insert(
        "user_code",
        &code.chars().take(MAX_CODE_LEN).collect::<String>(),
    );
    context.insert("error", &error);
    context.insert(
        "csrf_token",
        &csrf::token(
            &state.settings.settings.secrets.cookie,
            csrf::Purpose::Device,
            &cookie,
            challenge,
        ),
    );
    let mut response = page(state, "device.html", &context);
    if let Some(cookie) = new_cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

pub async fn get_device_done(
    state: web::Data<AppState>,
    query: web::Query<DoneQuery>,
) -> HttpResponse {
    let mut context = Context::new();
    let error = query.error.as_deref().map(|error| {
        let title = match error {
            "access_denied" => "The device was not connected",
            _ => "The device could not be connected",
        };
        let description: String = query
            .error_description
            .as_deref()
            .unwrap_or("Something went wrong while connecting the device.")
            .chars()
            .take(300)
            .collect();
        (title, description)
    });
    context.insert("error", &error.is_some());
    if let Some((title, description)) = error {
        context.insert("title", title);
        context.insert("description", &description);
    }
    page(&state, "device_done.html", &context)
}
