//! Where `/oauth2/auth` answers go: the client's redirect_uri once it is trusted (with `iss`,
//! RFC 9207), otherwise the error UI; a verifier presented by the wrong browser gets a plain
//! 403 page that links nowhere.

use actix_web::HttpResponse;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::header;
use url::Url;

use crate::error::ApiError;
use crate::flow::ResponseMode;

#[derive(Debug)]
pub enum AuthorizeError {
    /// The redirect_uri is registered for the client: the error goes there.
    ToClient {
        redirect_uri: String,
        state: Option<String>,
        mode: ResponseMode,
        error: &'static str,
        description: String,
    },
    /// Client or redirect_uri cannot be trusted: the error goes to the error UI.
    ToErrorPage {
        error: &'static str,
        description: String,
    },
    /// A verifier from another browser (`request_forbidden`).
    Forbidden(&'static str),
    Api(ApiError),
}

impl From<ApiError> for AuthorizeError {
    fn from(err: ApiError) -> Self {
        AuthorizeError::Api(err)
    }
}

/// `redirect_uri` with the response parameters added (query response mode).
pub fn client_redirect(
    redirect_uri: &str,
    params: &[(&str, &str)],
    issuer: &Url,
) -> Result<String, ApiError> {
    let mut url = Url::parse(redirect_uri)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored redirect_uri: {e}")))?;
    {
        let mut query = url.query_pairs_mut();
        for (key, value) in params {
            query.append_pair(key, value);
        }
        query.append_pair("iss", issuer.as_str().trim_end_matches('/'));
    }
    Ok(url.into())
}

/// The authorization response (parameters plus `iss`) in the request's response mode.
pub fn client_response(
    mode: ResponseMode,
    redirect_uri: &str,
    params: &[(&str, &str)],
    issuer: &Url,
) -> Result<HttpResponse, ApiError> {
    let iss = issuer.as_str().trim_end_matches('/');
    match mode {
        ResponseMode::Query => Ok(found(&client_redirect(redirect_uri, params, issuer)?).finish()),
        ResponseMode::Fragment => {
            let mut url = Url::parse(redirect_uri)
                .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored redirect_uri: {e}")))?;
            let fragment = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params.iter().copied())
                .append_pair("iss", iss)
                .finish();
            url.set_fragment(Some(&fragment));
            Ok(found(url.as_str()).finish())
        }
        ResponseMode::FormPost => {
            let mut all = params.to_vec();
            all.push(("iss", iss));
            Ok(super::form_post::page(redirect_uri, &all))
        }
    }
}

/// A 302 (never 307, RFC 9700 §4.12) that the browser follows without sending a Referer (AZ-15).
pub fn found(location: &str) -> actix_web::HttpResponseBuilder {
    let mut builder = HttpResponse::Found();
    builder
        .insert_header((header::LOCATION, location.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    builder
}

impl AuthorizeError {
    pub fn render(self, issuer: &Url, error_ui: &Url) -> HttpResponse {
        match self {
            AuthorizeError::ToClient { redirect_uri, state, mode, error, description } => {
                let mut params = vec![("error", error), ("error_description", description.as_str())];
                if let Some(state) = state.as_deref() {
                    params.push(("state", state));
                }
                client_response(mode, &redirect_uri, &params, issuer)
                    .unwrap_or_else(|e| actix_web::ResponseError::error_response(&e))
            }
            AuthorizeError::ToErrorPage { error, description } => {
                let mut url = error_ui.clone();
                url.query_pairs_mut().append_pair("error", error).append_pair("error_description", &description);
                found(url.as_str()).finish()
            }
            AuthorizeError::Forbidden(description) => HttpResponse::Forbidden()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .content_type("text/html; charset=utf-8")
                .body(format!(
                    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Request forbidden</title></head>\
                     <body><h1>Request forbidden</h1><p>{description}</p><p>Start the sign-in again from the application.</p></body></html>"
                )),
            AuthorizeError::Api(err) => actix_web::ResponseError::error_response(&err),
        }
    }
}

pub const BROWSER_COOKIE: &str = "olympus_oauth2_csrf";
pub const SESSION_COOKIE: &str = "olympus_oauth2_session";

/// Cookies of the authorization endpoint: `HttpOnly`, `SameSite=Lax`, `Secure` unless dev.
pub fn cookie(
    name: &'static str,
    value: String,
    max_age: Option<CookieDuration>,
    secure: bool,
) -> Cookie<'static> {
    let mut cookie = Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .finish();
    if let Some(max_age) = max_age {
        cookie.set_max_age(max_age);
    }
    cookie
}
