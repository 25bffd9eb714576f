//! `/consent`: shows what an application asks for and records the user's answer; first-party
//! clients (`skip_consent`) and requests oauth2-svc marks `skip` are granted without a screen.
//! ID token claims come from the identity's traits, limited to the granted scopes (see
//! [`claims`]).
//!
//! The client's logo (`logo_uri`) is shown only when it is https (or any URL in dev mode); the
//! page's CSP then allows images from exactly that logo's origin, nothing wider.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use service_kit::http::RequestId;
use shared_types::consent::{
    AcceptOAuth2ConsentRequest, AcceptOAuth2ConsentRequestSession, OAuth2ConsentRequest,
    RejectOAuth2Request,
};
use tera::Context;

pub use super::claims::claims;
use super::{csrf, problem_for, unavailable_for};
use crate::api::{Answer, Kind};
use crate::render;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct ConsentQuery {
    consent_challenge: Option<String>,
}

#[derive(Deserialize)]
pub struct ConsentForm {
    consent_challenge: String,
    csrf_token: String,
    decision: String,
    remember: Option<String>,
}

/// A requested scope as the page shows it: `key` is the text key describing it.
#[derive(Serialize)]
struct ScopeText {
    name: String,
    key: String,
}

fn describe(scope: &str) -> ScopeText {
    let key = match scope {
        "openid" | "profile" | "email" | "phone" | "address" | "offline_access" => {
            format!("consent.scope.{scope}")
        }
        "offline" => "consent.scope.offline_access".to_owned(),
        _ => "consent.scope.other".to_owned(),
    };
    ScopeText {
        name: scope.to_owned(),
        key,
    }
}

/// A URL the page may link or show: https only (LC-11); `dev` also admits http, for the logo of
/// a client running locally.
fn shown_uri(uri: &str, dev: bool) -> Option<url::Url> {
    let url = url::Url::parse(uri).ok()?;
    (url.scheme() == "https" || (dev && url.scheme() == "http")).then_some(url)
}

async fn load(
    state: &AppState,
    req: &HttpRequest,
    rid: &RequestId,
    challenge: &str,
) -> Result<OAuth2ConsentRequest, HttpResponse> {
    match state
        .upstreams
        .get_request(Kind::Consent, challenge, rid)
        .await
    {
        Ok(Answer::Ok(request)) => Ok(request),
        Ok(Answer::Gone(restart)) => Err(super::to_oauth2(state, req, &restart, None)),
        Ok(_) => Err(problem_for(
            state,
            req,
            StatusCode::NOT_FOUND,
            "consent.invalid.title",
            "consent.invalid.message",
            None,
        )),
        Err(e) => Err(unavailable_for(state, req, e)),
    }
}

pub async fn get_consent(
    state: web::Data<AppState>,
    req: HttpRequest,
    rid: RequestId,
    query: web::Query<ConsentQuery>,
) -> HttpResponse {
    let Some(challenge) = query.consent_challenge.as_deref().filter(|c| !c.is_empty()) else {
        return problem_for(
            &state,
            &req,
            StatusCode::BAD_REQUEST,
            "consent.none.title",
            "consent.none.message",
            None,
        );
    };
    let request = match load(&state, &req, &rid, challenge).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    if request.skip || request.client.skip_consent {
        let scope = request.requested_scope.clone();
        return grant(&state, &req, &rid, challenge, &request, scope, request.skip).await;
    }
    let secure = !state.settings.settings.dev;
    let (cookie, new_cookie) = csrf::cookie_for(&req, csrf::Purpose::Consent, secure);
    let mut context = Context::new();
    let name = if request.client.client_name.is_empty() {
        request.client.client_id.clone().unwrap_or_default()
    } else {
        request.client.client_name.clone()
    };
    context.insert("client_name", &name);
    // Only https links are shown (LC-11): anything else could point a user somewhere unsafe.
    let dev = state.settings.settings.dev;
    let https = |uri: &str| shown_uri(uri, false).map(String::from).unwrap_or_default();
    context.insert("client_uri", &https(&request.client.client_uri));
    context.insert("policy_uri", &https(&request.client.policy_uri));
    context.insert("tos_uri", &https(&request.client.tos_uri));
    let logo = shown_uri(&request.client.logo_uri, dev);
    context.insert("logo_uri", &logo.as_ref().map(url::Url::as_str));
    context.insert("audience", &request.requested_access_token_audience);
    context.insert("client_id", &request.client.client_id);
    // Where the browser goes back to: a look-alike name cannot hide the real site (LC-11).
    context.insert("redirect_host", &redirect_host(&request.request_url));
    let scopes: Vec<ScopeText> = request
        .requested_scope
        .iter()
        .map(|s| describe(s))
        .collect();
    context.insert("scopes", &scopes);
    context.insert("challenge", challenge);
    context.insert(
        "csrf_token",
        &csrf::token(
            &state.settings.settings.secrets.cookie,
            csrf::Purpose::Consent,
            &cookie,
            challenge,
        ),
    );
    let logo_origin = logo.map(|l| l.origin().ascii_serialization());
    let mut response = render::page_with_images(
        &state,
        &req,
        "consent.html",
        context,
        logo_origin.as_deref(),
    );
    if let Some(cookie) = new_cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

pub async fn post_consent(
    state: web::Data<AppState>,
    req: HttpRequest,
    rid: RequestId,
    form: web::Form<ConsentForm>,
) -> HttpResponse {
    let form = form.into_inner();
    if !csrf::verify(
        &state.settings.settings.secrets.cookie,
        &req,
        csrf::Purpose::Consent,
        &form.consent_challenge,
        &form.csrf_token,
    ) {
        return problem_for(
            &state,
            &req,
            StatusCode::FORBIDDEN,
            "consent.forbidden.title",
            "consent.forbidden.message",
            None,
        );
    }
    let request = match load(&state, &req, &rid, &form.consent_challenge).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    match form.decision.as_str() {
        "grant" => {
            let scope = request.requested_scope.clone();
            grant(
                &state,
                &req,
                &rid,
                &form.consent_challenge,
                &request,
                scope,
                form.remember.as_deref() == Some("true"),
            )
            .await
        }
        _ => {
            let body = RejectOAuth2Request {
                error: Some("access_denied".into()),
                error_description: Some("The user denied the request.".into()),
                ..Default::default()
            };
            finish(
                &state,
                &req,
                &request.request_url,
                state
                    .upstreams
                    .decide(
                        Kind::Consent,
                        "reject",
                        &form.consent_challenge,
                        &body,
                        &rid,
                    )
                    .await,
            )
        }
    }
}

async fn grant(
    state: &AppState,
    req: &HttpRequest,
    rid: &RequestId,
    challenge: &str,
    request: &OAuth2ConsentRequest,
    scope: Vec<String>,
    remember: bool,
) -> HttpResponse {
    // An identity deleted or deactivated since it signed in gets no tokens: the application is
    // told to sign it in again (which identity-svc then refuses).
    let identity = match state.upstreams.identity(&request.subject, rid).await {
        Ok(Answer::Ok(identity))
            if identity.state == shared_types::identity::IdentityState::Active =>
        {
            identity
        }
        Ok(_) => {
            let body = RejectOAuth2Request {
                error: Some("login_required".into()),
                error_description: Some("The account is no longer available.".into()),
                ..Default::default()
            };
            let answer = state
                .upstreams
                .decide(Kind::Consent, "reject", challenge, &body, rid)
                .await;
            return finish(state, req, &request.request_url, answer);
        }
        Err(e) => return unavailable_for(state, req, e),
    };
    let id_token = claims(&identity, &scope);
    let body = AcceptOAuth2ConsentRequest {
        grant_scope: scope,
        grant_access_token_audience: request.requested_access_token_audience.clone(),
        remember,
        session: AcceptOAuth2ConsentRequestSession {
            id_token: Some(serde_json::Value::Object(id_token)),
            access_token: None,
        },
        ..Default::default()
    };
    finish(
        state,
        req,
        &request.request_url,
        state
            .upstreams
            .decide(Kind::Consent, "accept", challenge, &body, rid)
            .await,
    )
}

/// The host of the `redirect_uri` in the authorization request, or empty.
fn redirect_host(request_url: &str) -> String {
    url::Url::parse(request_url)
        .ok()
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "redirect_uri")
                .map(|(_, v)| v.into_owned())
        })
        .and_then(|uri| url::Url::parse(&uri).ok())
        .and_then(|uri| uri.host_str().map(str::to_string))
        .unwrap_or_default()
}

fn finish(
    state: &AppState,
    req: &HttpRequest,
    request_url: &str,
    answer: Result<Answer<shared_types::consent::OAuth2RedirectTo>, crate::api::UpstreamError>,
) -> HttpResponse {
    match answer {
        Ok(Answer::Ok(redirect)) => {
            super::to_oauth2(state, req, &redirect.redirect_to, Some(request_url))
        }
        Ok(Answer::Gone(restart)) => super::to_oauth2(state, req, &restart, Some(request_url)),
        Ok(_) => problem_for(
            state,
            req,
            StatusCode::NOT_FOUND,
            "consent.invalid.title",
            "consent.invalid.message",
            None,
        ),
        Err(e) => unavailable_for(state, req, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_described_in_words_and_unknown_ones_by_name() {
        for known in [
            "openid",
            "profile",
            "email",
            "phone",
            "address",
            "offline_access",
        ] {
            assert_eq!(describe(known).key, format!("consent.scope.{known}"));
        }
        assert_eq!(describe("offline").key, "consent.scope.offline_access");
        let other = describe("calendar.read");
        assert_eq!(
            (other.name.as_str(), other.key.as_str()),
            ("calendar.read", "consent.scope.other")
        );
    }

    #[test]
    fn only_https_links_and_logos_are_shown_outside_dev() {
        assert!(shown_uri("https://app.example/logo.png", false).is_some());
        assert!(shown_uri("http://app.example/logo.png", false).is_none());
        assert!(shown_uri("http://127.0.0.1:3000/logo.png", true).is_some());
        assert!(shown_uri("javascript:alert(1)", true).is_none());
        assert!(shown_uri("data:image/png;base64,AAAA", true).is_none());
        assert!(shown_uri("", false).is_none());
    }
}
