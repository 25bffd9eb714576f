//! OAuth2 clients (Hydra's admin clients API), field names as in Hydra's `oAuth2Client`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::null_as_default;

/// Hydra's `oAuth2Client`, used both as the create body and as the response. Every field is
/// optional on input; responses fill them in. `client_secret` appears only in the create response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct OAuth2Client {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub client_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub client_secret_expires_at: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub redirect_uris: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub grant_types: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub response_types: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub scope: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub audience: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub allowed_cors_origins: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub owner: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub policy_uri: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tos_uri: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub client_uri: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub logo_uri: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub contacts: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_strategy: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub skip_consent: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_logout_consent: Option<bool>,
    /// The client's public keys for `private_key_jwt` (a JWK Set `{"keys": [...]}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_signed_response_alg: Option<String>,
    /// OIDC Dynamic Registration §2 (not in Hydra's document): read so that an unsigned or
    /// HMAC-signed ID token can be refused at registration rather than silently ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector_identifier_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontchannel_logout_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontchannel_logout_session_required: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_session_required: Option<bool>,
    /// Per-grant token lifespans (Go duration strings; unset = the global `ttl.*`).
    #[serde(flatten)]
    pub lifespans: OAuth2ClientTokenLifespans,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    /// RFC 7592: in the answers of dynamic registration only; the token is shown when issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_client_uri: Option<String>,
}

/// Hydra's `oAuth2ClientTokenLifespans`: the body of `PUT /admin/clients/{id}/lifespans` and,
/// flattened, part of the client. Each is a Go duration string (`"1h0m0s"`) or unset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct OAuth2ClientTokenLifespans {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_code_grant_access_token_lifespan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_code_grant_id_token_lifespan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_code_grant_refresh_token_lifespan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_credentials_grant_access_token_lifespan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_authorization_grant_access_token_lifespan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_authorization_grant_id_token_lifespan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_authorization_grant_refresh_token_lifespan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub implicit_grant_access_token_lifespan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub implicit_grant_id_token_lifespan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_bearer_grant_access_token_lifespan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_grant_access_token_lifespan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_grant_id_token_lifespan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_grant_refresh_token_lifespan: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_from_hydra_sdks_read_as_empty() {
        let client: OAuth2Client = serde_json::from_value(serde_json::json!({
            "client_name": null, "contacts": null, "redirect_uris": null, "skip_consent": null, "scope": null
        }))
        .unwrap();
        assert_eq!(client, OAuth2Client::default());
    }
}
