//! OAuth2 clients: the metadata rules (Hydra's fields, RFC 7591 semantics) and client secrets.

pub mod assertion;
pub mod handlers;
pub mod lifespan;
mod patch;
pub mod registration;
mod secret;
pub mod store;
mod update;

use shared_types::client::OAuth2Client;
use url::Url;

use crate::error::ApiError;

pub const GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "implicit",
    "urn:ietf:params:oauth:grant-type:device_code",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
];
pub const RESPONSE_TYPES: &[&str] = &[
    "code",
    "token",
    "id_token",
    "code id_token",
    "code token",
    "id_token token",
    "code id_token token",
];
pub const AUTH_METHODS: &[&str] = &[
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    "none",
];
const MAX_LIST: usize = 100;
const MAX_TEXT: usize = 2048;

/// A validated client as it is stored. `document` is the Hydra representation without the secret.
pub struct NewClient {
    pub client_id: String,
    /// The secret to return once, when the client authenticates with one.
    pub secret: Option<String>,
    pub document: OAuth2Client,
}

impl NewClient {
    /// Applies Hydra's defaults and rejects what a client may not be.
    pub fn parse(body: OAuth2Client) -> Result<NewClient, ApiError> {
        let (client_id, method, mut body) = validate(body)?;
        let secret = secret::for_new_client(&method, body.client_secret.take())?;
        Ok(NewClient {
            client_id,
            secret,
            document: body,
        })
    }
}

/// The rules every write of a client document passes (create, replace, patch): Hydra's defaults,
/// allowed values, URLs, sizes, lifespans and `private_key_jwt` keys. Returns the client_id, the
/// authentication method and the document (still holding any supplied `client_secret`).
pub fn validate(mut body: OAuth2Client) -> Result<(String, String, OAuth2Client), ApiError> {
    // Answer-only fields: never stored, whatever a body says.
    body.registration_access_token = None;
    body.registration_client_uri = None;
    let client_id = match body.client_id.take().filter(|id| !id.is_empty()) {
        Some(id) => validate_client_id(id)?,
        None => uuid::Uuid::now_v7().to_string(),
    };
    default_if_empty(&mut body.grant_types, "authorization_code");
    default_if_empty(&mut body.response_types, "code");
    if body.scope.is_empty() {
        body.scope = "offline_access offline openid".into();
    }
    let method = body
        .token_endpoint_auth_method
        .get_or_insert_with(|| "client_secret_basic".into())
        .clone();
    let subject_type = body.subject_type.get_or_insert_with(|| "public".into());
    check_one_of("token_endpoint_auth_method", &method, AUTH_METHODS)?;
    check_one_of("subject_type", subject_type, &["public", "pairwise"])?;
    check_all_of("grant_types", &body.grant_types, GRANT_TYPES)?;
    check_all_of("response_types", &body.response_types, RESPONSE_TYPES)?;
    if let Some(strategy) = &body.access_token_strategy {
        check_one_of("access_token_strategy", strategy, &["opaque", "jwt"])?;
    }
    if let Some(alg) = &body.userinfo_signed_response_alg {
        check_one_of("userinfo_signed_response_alg", alg, &["none"])?;
    }
    // ID tokens are always signed with the server's keys, RS256 by default (ID-06): `none`,
    // HMAC and any other value would not be honoured, so they are refused.
    if let Some(alg) = &body.id_token_signed_response_alg {
        check_one_of("id_token_signed_response_alg", alg, &["RS256"])?;
    }
    let public = method == "none";
    check_redirect_uris("redirect_uris", &body.redirect_uris, public)?;
    check_redirect_uris(
        "post_logout_redirect_uris",
        body.post_logout_redirect_uris.as_deref().unwrap_or(&[]),
        public,
    )?;
    check_urls(&body)?;
    check_sizes(&body)?;
    lifespan::normalise(&mut body.lifespans)?;
    assertion::check_client_keys(&method, &body).map_err(invalid)?;
    body.client_id = Some(client_id.clone());
    Ok((client_id, method, body))
}

fn check_urls(body: &OAuth2Client) -> Result<(), ApiError> {
    let optional = |v: &Option<String>| v.clone().unwrap_or_default();
    for (field, value) in [
        ("client_uri", body.client_uri.clone()),
        ("logo_uri", body.logo_uri.clone()),
        ("policy_uri", body.policy_uri.clone()),
        ("tos_uri", body.tos_uri.clone()),
        (
            "frontchannel_logout_uri",
            optional(&body.frontchannel_logout_uri),
        ),
        (
            "backchannel_logout_uri",
            optional(&body.backchannel_logout_uri),
        ),
    ] {
        check_web_url(field, &value)?;
    }
    Ok(())
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::InvalidClientMetadata(message.into())
}

fn validate_client_id(id: String) -> Result<String, ApiError> {
    if id.len() > 255 || id.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid(
            "client_id must be at most 255 characters without spaces or control characters",
        ));
    }
    Ok(id)
}

fn default_if_empty(list: &mut Vec<String>, value: &str) {
    if list.is_empty() {
        list.push(value.to_string());
    }
}

fn check_one_of(field: &str, value: &str, allowed: &[&str]) -> Result<(), ApiError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(invalid(format!(
            "{field} must be one of: {}",
            allowed.join(", ")
        )))
    }
}

fn check_all_of(field: &str, values: &[String], allowed: &[&str]) -> Result<(), ApiError> {
    values
        .iter()
        .try_for_each(|v| check_one_of(field, v, allowed))
}

/// Absolute URLs without fragments or wildcards, matched exactly at authorization time: https;
/// http only on a loopback host; a private-use scheme (`com.example.app:/cb`) only for public,
/// native clients (RFC 6749 §3.1.2, RFC 9700 §2.6 and §4.1.3, RFC 8252 §7, security.md AZ-07).
fn check_redirect_uris(field: &str, uris: &[String], public: bool) -> Result<(), ApiError> {
    let refuse = |why: &str| Err(ApiError::InvalidRedirectUri(format!("{field} {why}")));
    for uri in uris {
        let Ok(url) = Url::parse(uri) else {
            return refuse("must be absolute URLs");
        };
        if url.fragment().is_some() || uri.contains('#') {
            return refuse("must not contain a fragment (#)");
        }
        if uri.contains('*') {
            return refuse("must not contain wildcards (*)");
        }
        let allowed = match url.scheme() {
            "https" => true,
            "http" => matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost")),
            private_use => public && private_use.contains('.') && !url.cannot_be_a_base(),
        };
        if !allowed {
            return refuse(
                "must be https URLs (http only on a loopback host, a private-use scheme such as com.example.app:/cb only for public clients)",
            );
        }
    }
    Ok(())
}

fn check_web_url(field: &str, value: &str) -> Result<(), ApiError> {
    if value.is_empty() {
        return Ok(());
    }
    match Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(()),
        _ => Err(invalid(format!("{field} must be an http or https URL"))),
    }
}

fn check_sizes(body: &OAuth2Client) -> Result<(), ApiError> {
    let lists = [
        ("redirect_uris", body.redirect_uris.len()),
        ("grant_types", body.grant_types.len()),
        ("response_types", body.response_types.len()),
        ("audience", body.audience.len()),
        ("allowed_cors_origins", body.allowed_cors_origins.len()),
        ("contacts", body.contacts.len()),
        (
            "post_logout_redirect_uris",
            body.post_logout_redirect_uris.as_ref().map_or(0, Vec::len),
        ),
    ];
    if let Some((field, _)) = lists.iter().find(|(_, n)| *n > MAX_LIST) {
        return Err(invalid(format!(
            "{field} may hold at most {MAX_LIST} entries"
        )));
    }
    let texts = [
        &body.client_name,
        &body.scope,
        &body.owner,
        &body.client_uri,
        &body.logo_uri,
    ];
    if texts.iter().any(|t| t.len() > MAX_TEXT)
        || body.redirect_uris.iter().any(|u| u.len() > MAX_TEXT)
    {
        return Err(invalid(format!(
            "text fields may be at most {MAX_TEXT} bytes"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(json: serde_json::Value) -> Result<NewClient, ApiError> {
        NewClient::parse(serde_json::from_value(json).unwrap())
    }

    #[test]
    fn applies_hydra_defaults_and_generates_a_secret() {
        let c = client(serde_json::json!({"redirect_uris": ["https://rp.test/cb"]})).unwrap();
        assert_eq!(c.document.grant_types, ["authorization_code"]);
        assert_eq!(c.document.response_types, ["code"]);
        assert_eq!(
            c.document.token_endpoint_auth_method.as_deref(),
            Some("client_secret_basic")
        );
        assert!(c.secret.as_ref().is_some_and(|s| s.len() >= 43));
        assert!(uuid::Uuid::parse_str(&c.client_id).is_ok_and(|u| u.get_version_num() == 7));
    }

    #[test]
    fn rejects_fragments_short_secrets_and_unknown_grants() {
        assert!(client(serde_json::json!({"redirect_uris": ["https://rp.test/cb#x"]})).is_err());
        for uri in [
            "http://rp.test/cb",
            "https://*.rp.test/cb",
            "app.native:/cb",
            "urn:x:y",
        ] {
            assert!(
                client(serde_json::json!({"redirect_uris": [uri]})).is_err(),
                "{uri}"
            );
        }
        let native = serde_json::json!({"redirect_uris": ["app.native:/cb", "http://[::1]/cb"],
            "token_endpoint_auth_method": "none"});
        assert!(client(native).is_ok());
        assert!(client(serde_json::json!({"redirect_uris": ["/relative"]})).is_err());
        assert!(client(serde_json::json!({"client_secret": "short"})).is_err());
        assert!(client(serde_json::json!({"grant_types": ["password"]})).is_err());
        assert!(client(serde_json::json!({"token_endpoint_auth_method": "none", "client_secret": "x".repeat(40)})).is_err());
    }

    #[test]
    fn public_clients_get_no_secret() {
        let c = client(serde_json::json!({"token_endpoint_auth_method": "none"})).unwrap();
        assert!(c.secret.is_none());
    }
}
