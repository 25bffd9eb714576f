//! Where login-ui lets an upstream answer send the browser. identity-svc's `redirect_to` and
//! `redirect_browser_to` may only lead to identity-svc's public API, oauth2-svc's public API (the
//! issuer) or login-ui itself; oauth2-svc's `redirect_to` only to oauth2-svc, which makes the
//! final redirect to the application itself. Anything else is shown as an error page: an
//! upstream that names another place is misconfigured or compromised.

use url::Url;

use crate::state::AppState;

/// `target` if it is an absolute http(s) URL on one of `origins` (or a path on login-ui).
fn on_origins(state: &AppState, target: &str, origins: &[&Url]) -> Option<Url> {
    let url = if target.starts_with('/') && !target.starts_with("//") && !target.contains('\\') {
        state.settings.public_url.join(target).ok()?
    } else {
        Url::parse(target).ok()?
    };
    if !matches!(url.scheme(), "http" | "https") || url.username() != "" || url.password().is_some()
    {
        return None;
    }
    let origin = url.origin();
    origins.iter().any(|o| o.origin() == origin).then_some(url)
}

/// The oauth2-svc public origin: `urls.oauth2.public`, else (when unset) the origin of the
/// challenge's own `request_url`, which oauth2-svc built from its issuer.
fn oauth2_public(state: &AppState, request_url: Option<&str>) -> Option<Url> {
    state
        .settings
        .oauth2_public
        .clone()
        .or_else(|| request_url.and_then(|u| Url::parse(u).ok()))
}

/// A redirect identity-svc answered with, if it leads to a place of this Olympus domain.
pub fn from_identity(state: &AppState, target: &str) -> Option<Url> {
    let oauth2 = oauth2_public(state, None);
    let mut origins = vec![
        &state.settings.public_url,
        state.upstreams.identity_public(),
    ];
    origins.extend(oauth2.as_ref());
    on_origins(state, target, &origins)
}

/// A redirect oauth2-svc answered with (accept, reject, gone), if it leads to oauth2-svc's
/// public API. `request_url` is the challenge's own, used when `urls.oauth2.public` is unset.
/// With neither (an older configuration, and an answer about no challenge read before) only
/// the shape is checked: an absolute http(s) URL.
pub fn from_oauth2(state: &AppState, target: &str, request_url: Option<&str>) -> Option<Url> {
    match oauth2_public(state, request_url) {
        Some(oauth2) => {
            on_origins(state, target, &[&oauth2]).filter(|u| u.origin() == oauth2.origin())
        }
        None => {
            let url = Url::parse(target).ok()?;
            let origin = url.origin();
            on_origins(state, target, &[&url]).filter(|u| u.origin() == origin)
        }
    }
}
