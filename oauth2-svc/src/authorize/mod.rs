//! The authorization endpoint: request validation (RFC 6749 §4.1.1, RFC 7636, RFC 9700) and
//! the handoff to the login and consent UIs.

pub mod form_post;
pub mod handlers;
pub mod prompt;
pub(crate) mod redeem;
mod redirect;
pub mod response;
mod silent;

use std::collections::BTreeMap;

use shared_types::client::OAuth2Client;
use shared_types::consent::OidcContext;

use crate::flow::{AuthorizeRequest, ResponseMode};
use response::AuthorizeError;

/// Request parameters; a repeated parameter is an error (RFC 6749 §3.1).
pub fn parameters(query: &str) -> Result<BTreeMap<String, String>, AuthorizeError> {
    let mut params = BTreeMap::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if value.len() > 4096 {
            return Err(page(
                "invalid_request",
                format!("The parameter {key} is too long."),
            ));
        }
        if params.insert(key.to_string(), value.to_string()).is_some() {
            return Err(page(
                "invalid_request",
                format!("The parameter {key} must not be repeated."),
            ));
        }
    }
    Ok(params)
}

fn page(error: &'static str, description: String) -> AuthorizeError {
    AuthorizeError::ToErrorPage { error, description }
}

/// Checks a new authorization request against its client. Until the redirect_uri is known to
/// be registered, errors go to the error UI, never to it (RFC 6749 §4.1.2.1).
pub fn validate(
    params: &BTreeMap<String, String>,
    client: &OAuth2Client,
    pkce_enforced: bool,
) -> Result<AuthorizeRequest, AuthorizeError> {
    let client_id = client.client_id.clone().unwrap_or_default();
    let redirect_uri = params.get("redirect_uri").ok_or_else(|| {
        page(
            "invalid_request",
            "The redirect_uri parameter is required.".into(),
        )
    })?;
    if !redirect::is_registered(&client.redirect_uris, redirect_uri) {
        return Err(page(
            "invalid_request",
            "The redirect_uri does not exactly match a redirect URI registered for the client."
                .into(),
        ));
    }
    let state = params.get("state").cloned();
    let requested_mode = params.get("response_mode").map(|m| ResponseMode::parse(m));
    let mode = requested_mode.flatten().unwrap_or_default();
    let to_client = |error: &'static str, description: &str| AuthorizeError::ToClient {
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        mode,
        error,
        description: description.into(),
    };
    if requested_mode == Some(None) {
        return Err(to_client(
            "invalid_request",
            "The response_mode must be query, fragment or form_post.",
        ));
    }
    match params.get("response_type").map(String::as_str) {
        Some("code") if client.response_types.iter().any(|t| t == "code") => {}
        Some("code") => {
            return Err(to_client(
                "unauthorized_client",
                "The client may not use response_type code.",
            ));
        }
        // Token-bearing response types (implicit, hybrid) stay off (RFC 9700 §2.1.2).
        Some(_) => {
            return Err(to_client(
                "unsupported_response_type",
                "Only response_type code is supported.",
            ));
        }
        None => {
            return Err(to_client(
                "invalid_request",
                "The response_type parameter is required.",
            ));
        }
    }
    if !client.grant_types.iter().any(|g| g == "authorization_code") {
        return Err(to_client(
            "unauthorized_client",
            "The client may not use the authorization_code grant.",
        ));
    }
    let allowed: Vec<&str> = client.scope.split_whitespace().collect();
    let scope: Vec<String> = params
        .get("scope")
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    if let Some(unknown) = scope.iter().find(|s| !allowed.contains(&s.as_str())) {
        return Err(to_client(
            "invalid_scope",
            &format!("The client may not request the scope {unknown:?}."),
        ));
    }
    let audience: Vec<String> = params
        .get("audience")
        .map(|a| a.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    if audience.iter().any(|a| !client.audience.contains(a)) {
        return Err(to_client(
            "invalid_request",
            "The requested audience is not allowed for the client.",
        ));
    }
    let code_challenge =
        pkce(params, client, pkce_enforced).map_err(|d| to_client("invalid_request", d))?;
    let prompt = prompt::parse_prompt(params).map_err(|d| to_client("invalid_request", d))?;
    let max_age = prompt::parse_max_age(params).map_err(|d| to_client("invalid_request", d))?;
    Ok(AuthorizeRequest {
        client_id,
        redirect_uri: redirect_uri.clone(),
        scope,
        audience,
        state,
        nonce: params.get("nonce").cloned(),
        code_challenge,
        force_login: prompt.login,
        prompt_none: prompt.none,
        force_consent: prompt.consent,
        max_age,
        response_mode: mode,
        oidc_context: OidcContext {
            acr_values: params
                .get("acr_values")
                .map(|a| a.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default(),
            display: params.get("display").cloned().unwrap_or_default(),
            id_token_hint_claims: None,
            login_hint: params.get("login_hint").cloned().unwrap_or_default(),
            ui_locales: params
                .get("ui_locales")
                .map(|a| a.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default(),
        },
    })
}

/// PKCE: S256 only (`plain` is neither accepted nor advertised); required of public clients,
/// and of every client while `oauth2.pkce.enforced` is on.
fn pkce(
    params: &BTreeMap<String, String>,
    client: &OAuth2Client,
    enforced: bool,
) -> Result<Option<String>, &'static str> {
    let public = client.token_endpoint_auth_method.as_deref() == Some("none");
    let challenge = params.get("code_challenge");
    match params.get("code_challenge_method").map(String::as_str) {
        Some("S256") | None => {}
        Some("plain") => return Err("The code_challenge_method plain is not allowed; use S256."),
        Some(_) => return Err("The code_challenge_method must be S256."),
    }
    match challenge {
        None if public || enforced => {
            Err("PKCE is required: send code_challenge with code_challenge_method S256.")
        }
        None => Ok(None),
        Some(_) if params.get("code_challenge_method").is_none() => Err(
            "code_challenge_method S256 is required with a code_challenge (plain is not allowed).",
        ),
        Some(c)
            if c.len() == 43
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Ok(Some(c.clone()))
        }
        Some(_) => Err(
            "The code_challenge must be the base64url SHA-256 of the code verifier (43 characters).",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(public: bool) -> OAuth2Client {
        serde_json::from_value(serde_json::json!({
            "client_id": "c", "redirect_uris": ["https://rp.test/cb"], "grant_types": ["authorization_code"],
            "response_types": ["code"], "scope": "openid email",
            "token_endpoint_auth_method": if public { "none" } else { "client_secret_basic" }
        }))
        .unwrap()
    }

    fn params(extra: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut p: BTreeMap<String, String> = [
            ("response_type", "code"),
            ("redirect_uri", "https://rp.test/cb"),
            ("scope", "openid"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            p.insert(k.to_string(), v.to_string());
        }
        p
    }

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn pkce_is_s256_only_and_required_for_public_clients() {
        let s256 = [
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ];
        assert!(validate(&params(&s256), &client(true), false).is_ok());
        assert!(matches!(
            validate(&params(&[]), &client(true), false),
            Err(AuthorizeError::ToClient {
                error: "invalid_request",
                ..
            })
        ));
        assert!(validate(&params(&[]), &client(false), false).is_ok());
        assert!(validate(&params(&[]), &client(false), true).is_err());
        let plain = [
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "plain"),
        ];
        assert!(validate(&params(&plain), &client(false), false).is_err());
        assert!(
            validate(
                &params(&[("code_challenge", CHALLENGE)]),
                &client(false),
                false
            )
            .is_err()
        );
    }

    #[test]
    fn unregistered_redirect_uris_never_receive_errors() {
        for uri in [
            "https://rp.test/cb2",
            "https://rp.test/cb/",
            "https://rp.test/cb?x=1",
            "https://evil.test/cb",
        ] {
            let p = params(&[("redirect_uri", uri), ("response_type", "token")]);
            assert!(
                matches!(
                    validate(&p, &client(false), false),
                    Err(AuthorizeError::ToErrorPage { .. })
                ),
                "{uri}"
            );
        }
    }

    #[test]
    fn scopes_must_be_allowed() {
        let p = params(&[("scope", "openid admin")]);
        assert!(matches!(
            validate(&p, &client(false), false),
            Err(AuthorizeError::ToClient {
                error: "invalid_scope",
                ..
            })
        ));
    }

    #[test]
    fn repeated_parameters_are_refused() {
        assert!(parameters("a=1&a=2").is_err());
        assert_eq!(parameters("a=1&b=x%20y").unwrap()["b"], "x y");
    }
}
