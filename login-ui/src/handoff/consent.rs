//! `/consent`: shows what an application asks for and records the user's answer; first-party
//! clients (`skip_consent`) and requests oauth2-svc marks `skip` are granted without a screen.
//! ID token claims come from the identity's traits, limited to the granted scopes.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use service_kit::http::RequestId;
use shared_types::consent::{
    AcceptOAuth2ConsentRequest, AcceptOAuth2ConsentRequestSession, OAuth2ConsentRequest,
    RejectOAuth2Request,
};
use tera::Context;

use super::{csrf, page, problem, see_other, unavailable};
use crate::api::{Answer, Kind};
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

#[derive(Serialize)]
struct ScopeText {
    name: String,
    text: String,
}

fn describe(scope: &str) -> String {
    match scope {
        "openid" => "Confirm who you are with your account's identifier".into(),
        "email" => "See your email address".into(),
        "profile" => "See your name".into(),
        "offline_access" | "offline" => "Stay connected to your account while you are away".into(),
        other => format!("Use the permission “{other}”"),
    }
}

async fn load(
    state: &AppState,
    rid: &RequestId,
    challenge: &str,
) -> Result<OAuth2ConsentRequest, HttpResponse> {
    match state
        .upstreams
        .get_request(Kind::Consent, challenge, rid)
        .await
    {
        Ok(Answer::Ok(request)) => Ok(request),
        Ok(Answer::Gone(restart)) => Err(see_other(&restart)),
        Ok(_) => Err(problem(
            state,
            StatusCode::NOT_FOUND,
            "This consent link is not valid",
            "The link may be incomplete or very old. Go back to the application and sign in again.",
            None,
        )),
        Err(e) => Err(unavailable(state, e)),
    }
}

pub async fn get_consent(
    state: web::Data<AppState>,
    req: HttpRequest,
    rid: RequestId,
    query: web::Query<ConsentQuery>,
) -> HttpResponse {
    let Some(challenge) = query.consent_challenge.as_deref().filter(|c| !c.is_empty()) else {
        return problem(
            &state,
            StatusCode::BAD_REQUEST,
            "Nothing to consent to",
            "This page is reached from an application's sign-in.",
            None,
        );
    };
    let request = match load(&state, &rid, challenge).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    if request.skip || request.client.skip_consent {
        let scope = request.requested_scope.clone();
        return grant(&state, &rid, challenge, &request, scope, request.skip).await;
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
    let https = |uri: &str| {
        if uri.starts_with("https://") {
            uri.to_string()
        } else {
            String::new()
        }
    };
    context.insert("client_uri", &https(&request.client.client_uri));
    context.insert("policy_uri", &https(&request.client.policy_uri));
    context.insert("tos_uri", &https(&request.client.tos_uri));
    context.insert("client_id", &request.client.client_id);
    // Where the browser goes back to: a look-alike name cannot hide the real site (LC-11).
    context.insert("redirect_host", &redirect_host(&request.request_url));
    let scopes: Vec<ScopeText> = request
        .requested_scope
        .iter()
        .filter(|s| *s != "openid")
        .map(|s| ScopeText {
            name: s.clone(),
            text: describe(s),
        })
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
    let mut response = page(&state, "consent.html", &context);
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
        return problem(
            &state,
            StatusCode::FORBIDDEN,
            "Your answer could not be accepted",
            "The form was not sent from this browser's consent page, or its cookie is missing. Go back to the application and try again.",
            None,
        );
    }
    let request = match load(&state, &rid, &form.consent_challenge).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    match form.decision.as_str() {
        "grant" => {
            let scope = request.requested_scope.clone();
            grant(
                &state,
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
    rid: &RequestId,
    challenge: &str,
    request: &OAuth2ConsentRequest,
    scope: Vec<String>,
    remember: bool,
) -> HttpResponse {
    let identity = match state.upstreams.identity(&request.subject, rid).await {
        Ok(Answer::Ok(identity)) => Some(identity),
        Ok(_) => None,
        Err(e) => return unavailable(state, e),
    };
    let id_token = identity.map(|i| claims(&i, &scope)).unwrap_or_default();
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
    answer: Result<Answer<shared_types::consent::OAuth2RedirectTo>, crate::api::UpstreamError>,
) -> HttpResponse {
    match answer {
        Ok(Answer::Ok(redirect)) => see_other(&redirect.redirect_to),
        Ok(Answer::Gone(restart)) => see_other(&restart),
        Ok(_) => problem(
            state,
            StatusCode::NOT_FOUND,
            "This consent link is not valid",
            "Go back to the application and sign in again.",
            None,
        ),
        Err(e) => unavailable(state, e),
    }
}

/// The ID token claims the granted scopes allow (OIDC Core §5.4), from the default traits.
pub fn claims(
    identity: &shared_types::identity::Identity,
    scope: &[String],
) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    let traits = &identity.traits;
    if scope.iter().any(|s| s == "email")
        && let Some(email) = traits["email"].as_str()
    {
        let verified = identity
            .verifiable_addresses
            .iter()
            .any(|a| a.value == email && a.verified);
        out.insert("email".into(), email.into());
        out.insert("email_verified".into(), verified.into());
    }
    if scope.iter().any(|s| s == "profile") {
        let first = traits["name"]["first"].as_str().filter(|s| !s.is_empty());
        let last = traits["name"]["last"].as_str().filter(|s| !s.is_empty());
        if let Some(first) = first {
            out.insert("given_name".into(), first.into());
        }
        if let Some(last) = last {
            out.insert("family_name".into(), last.into());
        }
        let full: Vec<&str> = [first, last].into_iter().flatten().collect();
        if !full.is_empty() {
            out.insert("name".into(), full.join(" ").into());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(verified: bool) -> shared_types::identity::Identity {
        serde_json::from_value(serde_json::json!({
            "id": "0190b6b4-6c6f-7000-8000-000000000001", "schema_id": "default", "schema_url": "http://x/schemas/ZGVmYXVsdA",
            "state": "active", "traits": {"email": "ada@example.com", "name": {"first": "Ada", "last": "Lovelace"}},
            "verifiable_addresses": [{"id": "0190b6b4-6c6f-7000-8000-000000000002", "value": "ada@example.com", "verified": verified,
                "via": "email", "status": "completed", "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}],
            "recovery_addresses": [], "metadata_public": null,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap()
    }

    #[test]
    fn claims_follow_the_granted_scopes_only() {
        let all = claims(
            &identity(true),
            &["openid".into(), "email".into(), "profile".into()],
        );
        assert_eq!(all["email"], "ada@example.com");
        assert_eq!(all["email_verified"], true);
        assert_eq!(all["given_name"], "Ada");
        assert_eq!(all["family_name"], "Lovelace");
        assert_eq!(all["name"], "Ada Lovelace");
        let openid_only = claims(&identity(true), &["openid".into()]);
        assert!(openid_only.is_empty());
        let email_only = claims(&identity(false), &["email".into()]);
        assert_eq!(email_only.len(), 2);
        assert_eq!(email_only["email_verified"], false);
    }
}
