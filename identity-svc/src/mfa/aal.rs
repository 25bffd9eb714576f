//! Authenticator assurance levels: a session is aal2 once it holds an aal1 and an aal2 method
//! (say, password then TOTP). With `required_aal: highest_available` an aal1 session of an
//! identity that has a second factor must step up before whoami answers or settings open.

use actix_web::{HttpRequest, HttpResponse};
use shared_types::flow::SessionAuthenticationMethod;
use url::Url;

use super::RequiredAal;
use crate::error::ApiError;
use crate::flow::http::see_other;
use crate::flow::wants_json;
use crate::session::store::SessionRow;
use crate::state::AppState;

/// The level `methods` reach (Kratos' rule): aal2 with an aal1 and an aal2 method, else aal1.
pub fn level(methods: &[SessionAuthenticationMethod]) -> &'static str {
    let has = |aal: &str| methods.iter().any(|m| m.aal == aal);
    if has("aal1") && has("aal2") {
        "aal2"
    } else {
        "aal1"
    }
}

/// The browser step-up: `login/browser?aal=aal2`, coming back to `return_to` if given.
pub fn step_up_url(state: &AppState, return_to: Option<&str>) -> Url {
    let mut url = state
        .settings
        .public_url
        .join("self-service/login/browser")
        .expect("a fixed relative path joins");
    url.query_pairs_mut().append_pair("aal", "aal2");
    if let Some(return_to) = return_to {
        url.query_pairs_mut().append_pair("return_to", return_to);
    }
    url
}

/// Whether `session` must step up under `required`: it is below aal2 and its identity has a
/// second factor of an enabled method.
pub async fn needs_step_up(
    state: &AppState,
    session: &SessionRow,
    required: RequiredAal,
) -> Result<bool, ApiError> {
    if required == RequiredAal::Aal1 || session.aal == "aal2" {
        return Ok(false);
    }
    Ok(!super::second_factors(state, session.identity_id)
        .await?
        .is_empty())
}

/// whoami under `session.whoami.required_aal`: 403 `session_aal2_required` naming the step-up.
pub async fn check_whoami(state: &AppState, session: &SessionRow) -> Result<(), ApiError> {
    let required = state.settings.settings.session.whoami.required_aal;
    if needs_step_up(state, session, required).await? {
        return Err(ApiError::Aal2Required(step_up_url(state, None).into()));
    }
    Ok(())
}

/// Settings under `selfservice.flows.settings.required_aal`: browsers are sent to the step-up
/// (coming back to the settings page), JSON callers get 403 `session_aal2_required`. `None`
/// when the session may go on.
pub async fn settings_gate(
    state: &AppState,
    req: &HttpRequest,
    session: &SessionRow,
    json: bool,
) -> Result<Option<HttpResponse>, ApiError> {
    let required = state
        .settings
        .settings
        .selfservice
        .flows
        .settings
        .required_aal;
    if !needs_step_up(state, session, required).await? {
        return Ok(None);
    }
    let settings_ui = state.settings.flows.settings.ui.as_str();
    let url = step_up_url(state, Some(settings_ui));
    if json || wants_json(req) {
        return Err(ApiError::Aal2Required(url.into()));
    }
    Ok(Some(see_other(url.as_str()).finish()))
}

/// Where a browser goes after a first factor: to the step-up when whoami would refuse the new
/// aal1 session (the identity has a second factor), else to `target`.
pub async fn after_first_factor(
    state: &AppState,
    session: &SessionRow,
    target: Url,
) -> Result<Url, ApiError> {
    let required = state.settings.settings.session.whoami.required_aal;
    if needs_step_up(state, session, required).await? {
        return Ok(step_up_url(state, Some(target.as_str())));
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn method(name: &str, aal: &str) -> SessionAuthenticationMethod {
        SessionAuthenticationMethod {
            method: name.into(),
            aal: aal.into(),
            completed_at: chrono::Utc::now(),
            provider: None,
        }
    }

    #[test]
    fn aal2_needs_both_levels() {
        assert_eq!(level(&[method("password", "aal1")]), "aal1");
        assert_eq!(level(&[method("totp", "aal2")]), "aal1");
        assert_eq!(
            level(&[method("password", "aal1"), method("totp", "aal2")]),
            "aal2"
        );
    }
}
