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
fn endpoint(issuer: &str, path: &str) -> String {
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
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        // Hydra advertises "plain" but rejects it; only S256 is accepted here, and said so.
        "code_challenge_methods_supported": ["S256"],
        // offline_access joins once refresh tokens are issued.
        "scopes_supported": ["openid", "profile", "email"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "at_hash",
            "email", "email_verified", "name", "given_name", "family_name",
        ],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        // Discovery's default for this one is true, so it must be said.
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
    })
}

fn issuer(state: &AppState) -> &str {
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
    HttpResponse::Ok()
        .insert_header(("cache-control", CACHE_CONTROL))
        .json(document(issuer(&state)))
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
    }
}
