//! `/.well-known/openid-configuration` (OIDC Discovery, Hydra's discoverOidcConfiguration) and
//! `/.well-known/jwks.json` (discoverJsonWebKeys). The document advertises exactly what the
//! service does; [`document`] is the one place that builds it.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use crate::state::AppState;

/// Short, because a rotation publishes the next key in the JWKS before it signs with it, and a
/// relying party must see it in time.
const CACHE_CONTROL: &str = "public, max-age=60";

pub fn public_routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/.well-known/openid-configuration",
        web::get().to(discover_oidc_configuration),
    )
    .route(
        "/.well-known/jwks.json",
        web::get().to(discover_json_web_keys),
    );
}

/// `issuer` joined with an absolute `path`: an issuer with a path keeps it
/// (`https://x/auth` + `/oauth2/token` = `https://x/auth/oauth2/token`); a trailing slash on the
/// issuer does not double.
pub(crate) fn endpoint(issuer: &str, path: &str) -> String {
    format!("{}{path}", issuer.trim_end_matches('/'))
}

/// The discovery document for `issuer` (the configured `urls.self.issuer`, byte for byte).
pub fn document(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": endpoint(issuer, "/oauth2/auth"),
        "token_endpoint": endpoint(issuer, "/oauth2/token"),
        "jwks_uri": endpoint(issuer, "/.well-known/jwks.json"),
        "userinfo_endpoint": endpoint(issuer, "/userinfo"),
        "device_authorization_endpoint": endpoint(issuer, "/oauth2/device/auth"),
        "revocation_endpoint": endpoint(issuer, "/oauth2/revoke"),
        // RFC 7662 on the public listener, for clients that authenticate.
        "introspection_endpoint": endpoint(issuer, "/oauth2/introspect"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        // Hydra leaves jwt-bearer out although it accepts it; RFC 8414 asks for every grant.
        "grant_types_supported": [
            "authorization_code", "refresh_token", "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code",
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
        ],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        // Hydra's own two fields, required by its OpenAPI document (its SDKs refuse a document
        // without them). Hydra lists the ID-token key's algorithm in both; userinfo answers are
        // never signed here, so that one says `none`.
        "id_token_signed_response_alg": ["RS256"],
        "userinfo_signed_response_alg": ["none"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
        // Public clients may revoke their own tokens (RFC 7009 §2.1) but not introspect.
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        // Hydra advertises "plain" but rejects it; only S256 is accepted here, and said so.
        "code_challenge_methods_supported": ["S256"],
        // offline_access (and Hydra's alias offline) ask for a refresh token.
        "scopes_supported": ["openid", "offline_access", "offline", "profile", "email"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "at_hash",
            "email", "email_verified", "name", "given_name", "family_name",
        ],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        // Discovery's default for this one is true, so it must be said.
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        // RP-initiated, front-channel and back-channel logout (with `sid`).
        "end_session_endpoint": endpoint(issuer, "/oauth2/sessions/logout"),
        "frontchannel_logout_supported": true,
        "frontchannel_logout_session_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
    })
}

pub(crate) fn issuer(state: &AppState) -> &str {
    // Validation made `urls.self.issuer` present; the raw text, not the parsed URL, is the
    // issuer (parsing would add a trailing slash to a bare origin).
    state
        .settings
        .settings
        .urls
        .self_
        .issuer
        .as_deref()
        .unwrap_or(state.settings.issuer.as_str())
}

async fn discover_oidc_configuration(state: web::Data<AppState>) -> HttpResponse {
    let mut doc = document(issuer(&state));
    // What this deployment has: its subject types and the algorithms of its ID-token keys.
    let subjects = &state.settings.settings.oidc.subject_identifiers;
    doc["subject_types_supported"] = json!(subjects.supported_types);
    doc["id_token_signing_alg_values_supported"] = json!(state.keys.id_token_algs());
    doc["id_token_signed_response_alg"] = json!(state.keys.id_token_algs());
    if state
        .settings
        .settings
        .oidc
        .dynamic_client_registration
        .enabled
    {
        let iss = issuer(&state);
        doc["registration_endpoint"] = json!(endpoint(iss, "/oauth2/register"));
    }
    HttpResponse::Ok()
        .insert_header(("cache-control", CACHE_CONTROL))
        .json(doc)
}

async fn discover_json_web_keys(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", CACHE_CONTROL))
        .json(state.keys.jwks())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_the_issuer_path() {
        for issuer in ["https://x/auth", "https://x/auth/"] {
            let doc = document(issuer);
            assert_eq!(doc["issuer"], issuer, "byte for byte");
            assert_eq!(doc["token_endpoint"], "https://x/auth/oauth2/token");
            assert_eq!(doc["jwks_uri"], "https://x/auth/.well-known/jwks.json");
        }
        let doc = document("https://x");
        assert_eq!(doc["authorization_endpoint"], "https://x/oauth2/auth");
        assert_eq!(doc["userinfo_endpoint"], "https://x/userinfo");
    }

    #[test]
    fn advertises_only_s256_and_the_code_flow() {
        let doc = document("https://x");
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(doc["response_types_supported"], json!(["code"]));
        assert_eq!(
            doc["id_token_signing_alg_values_supported"],
            json!(["RS256"])
        );
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
        // Required by Hydra's OpenAPI document; its SDKs refuse a document without them.
        assert_eq!(doc["id_token_signed_response_alg"], json!(["RS256"]));
        assert_eq!(doc["userinfo_signed_response_alg"], json!(["none"]));
    }
}
