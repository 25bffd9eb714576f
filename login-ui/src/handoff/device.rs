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

use super::{csrf, problem_for, unavailable_for};
use crate::api::Answer;
use crate::render;
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
        return problem_for(
            &state,
            &req,
            StatusCode::BAD_REQUEST,
            "device.none.title",
            "device.none.message",
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
        return problem_for(
            &state,
            &req,
            StatusCode::FORBIDDEN,
            "device.forbidden.title",
            "device.forbidden.message",
            None,
        );
    }
    let typed = form.user_code.trim();
    if typed.is_empty() {
        return form_again(&state, &req, challenge, typed, "device.enter");
    }
    match state
        .upstreams
        .accept_user_code(challenge, typed, &rid)
        .await
    {
        Ok(Answer::Ok(redirect)) => super::to_oauth2(&state, &req, &redirect.redirect_to, None),
        Ok(Answer::Invalid) => form_again(&state, &req, challenge, typed, "device.wrong_code"),
        // Used, expired, or too many wrong codes: a fresh challenge starts at `restart`.
        Ok(Answer::Gone(restart)) => problem_for(
            &state,
            &req,
            StatusCode::GONE,
            "device.gone.title",
            "device.gone.message",
            crate::redirects::from_oauth2(&state, &restart, None)
                .as_ref()
                .map(url::Url::as_str),
        ),
        Ok(Answer::TooMany) => problem_for(
            &state,
            &req,
            StatusCode::TOO_MANY_REQUESTS,
            "device.too_many.title",
            "device.too_many.message",
            None,
        ),
        Ok(_) => problem_for(
            &state,
            &req,
            StatusCode::NOT_FOUND,
            "device.invalid.title",
            "device.invalid.message",
            None,
        ),
        Err(e) => unavailable_for(&state, &req, e),
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
    let mut response = render::page(state, req, "device.html", context);
    if let Some(cookie) = new_cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

/// `title` is a text key; `detail` is oauth2-svc's own description (shown as text, shortened).
pub async fn get_device_done(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<DoneQuery>,
) -> HttpResponse {
    let mut context = Context::new();
    let error = query.error.as_deref().map(|error| {
        let (title, lead) = match error {
            "access_denied" => ("device.denied.title", "device.denied.message"),
            _ => ("device.failed.title", "device.failed.detail"),
        };
        let detail: Option<String> = query
            .error_description
            .as_deref()
            .map(|d| d.chars().take(300).collect());
        (title, lead, detail)
    });
    context.insert("error", &error.is_some());
    if let Some((title, lead, detail)) = error {
        context.insert("title", title);
        context.insert("lead", lead);
        context.insert("detail", &detail);
    }
    render::page(&state, &req, "device_done.html", context)
}
