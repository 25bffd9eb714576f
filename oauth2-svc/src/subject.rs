//! Subject identifiers (OIDC Core §8): `public` clients see the local subject (the identity
//! id); `pairwise` clients see base64url(SHA-256(sector ‖ local subject ‖ salt)), so clients of
//! different sectors cannot correlate a user by `sub`.
//!
//! The sector is the host of the client's redirect URIs, which must then all share one host.
//! `sector_identifier_uri` (a fetched list of URIs that widens the sector) is not supported:
//! registering one is refused with a message saying so.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel::OptionalExtension;
use sha2::{Digest, Sha256};
use shared_types::client::OAuth2Client;
use url::Url;

use crate::config::SubjectIdentifiers;
use crate::error::ApiError;
use crate::state::AppState;

pub const PAIRWISE: &str = "pairwise";

fn is_pairwise(client: &OAuth2Client) -> bool {
    client.subject_type.as_deref() == Some(PAIRWISE)
}

/// The sector identifier of a pairwise client: the one host of its redirect URIs.
pub fn sector(client: &OAuth2Client) -> Result<String, String> {
    let mut hosts = client
        .redirect_uris
        .iter()
        .filter_map(|u| Url::parse(u).ok())
        .filter_map(|u| u.host_str().map(str::to_ascii_lowercase));
    let first = hosts
        .next()
        .ok_or("a pairwise client needs at least one redirect_uri with a host")?;
    match hosts.all(|h| h == first) {
        true => Ok(first),
        false => Err(
            "the redirect_uris of a pairwise client must share one host (sector_identifier_uri is not supported)"
                .into(),
        ),
    }
}

/// Registration rules: the subject type must be one the server supports, and a pairwise
/// client must have a sector.
pub fn check_client(settings: &SubjectIdentifiers, client: &OAuth2Client) -> Result<(), ApiError> {
    let invalid = |m: String| ApiError::InvalidClientMetadata(m);
    if client
        .sector_identifier_uri
        .as_deref()
        .is_some_and(|u| !u.is_empty())
    {
        return Err(invalid(
            "sector_identifier_uri is not supported; a pairwise client's redirect_uris must share one host"
                .into(),
        ));
    }
    let subject_type = client.subject_type.as_deref().unwrap_or("public");
    if !settings.supported_types.iter().any(|t| t == subject_type) {
        return Err(invalid(format!(
            "subject_type must be one of: {}",
            settings.supported_types.join(", ")
        )));
    }
    if is_pairwise(client) {
        sector(client).map_err(invalid)?;
    }
    Ok(())
}

/// OIDC Core §8.1: base64url(SHA-256(sector ‖ local ‖ salt)).
pub fn pairwise(sector: &str, local: &str, salt: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(sector.as_bytes());
    digest.update(local.as_bytes());
    digest.update(salt.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.finalize())
}

/// The `sub` `client` sees for the local subject `local`.
pub fn for_client(settings: &SubjectIdentifiers, client: &OAuth2Client, local: &str) -> String {
    let salt = settings.pairwise.salt.as_ref().map(|s| s.expose());
    match (is_pairwise(client), salt, sector(client)) {
        (true, Some(salt), Ok(sector)) => pairwise(&sector, local, salt),
        _ => local.to_string(),
    }
}

/// [`for_client`] under the service's settings.
pub fn seen_by(state: &AppState, client: &OAuth2Client, local: &str) -> String {
    for_client(
        &state.settings.settings.oidc.subject_identifiers,
        client,
        local,
    )
}

/// [`for_client`] for a client known by id (userinfo, introspection): one indexed read. A
/// deleted client sees the local subject (its tokens are about to stop working anyway).
pub async fn for_client_id(
    state: &AppState,
    client_id: &str,
    local: &str,
) -> Result<String, anyhow::Error> {
    let settings = &state.settings.settings.oidc.subject_identifiers;
    // A token whose subject is the client itself (client_credentials) is about no user.
    if !settings.pairwise_enabled() || local == client_id {
        return Ok(local.to_string());
    }
    let id = client_id.to_string();
    let row = state
        .db
        .read(move |c| {
            crate::client::store::find(c, &id)
                .optional()
                .map_err(anyhow::Error::from)
        })
        .await?;
    let Some(row) = row else {
        return Ok(local.to_string());
    };
    let client: OAuth2Client = serde_json::from_value(row.metadata.0)?;
    Ok(for_client(settings, &client, local))
}

#[cfg(test)]
mod tests {
    use super::*;
    use service_kit::settings::Secret;

    fn client(subject_type: &str, uris: &[&str]) -> OAuth2Client {
        OAuth2Client {
            subject_type: Some(subject_type.into()),
            redirect_uris: uris.iter().map(|u| u.to_string()).collect(),
            ..Default::default()
        }
    }

    fn settings() -> SubjectIdentifiers {
        let mut s = SubjectIdentifiers {
            supported_types: vec!["public".into(), "pairwise".into()],
            ..Default::default()
        };
        s.pairwise.salt = Some(Secret::new("s".repeat(32)));
        s
    }

    /// Pairwise subjects differ per sector, are stable, and public clients see the local one.
    #[test]
    fn pairwise_subjects_differ_per_sector_and_are_stable() {
        let s = settings();
        let a = client("pairwise", &["https://a.test/cb", "https://a.test/other"]);
        let b = client("pairwise", &["https://b.test/cb"]);
        let sub_a = for_client(&s, &a, "user-1");
        assert_eq!(sub_a, for_client(&s, &a, "user-1"));
        assert_ne!(sub_a, for_client(&s, &b, "user-1"));
        assert_ne!(sub_a, for_client(&s, &a, "user-2"));
        assert_eq!(sub_a.len(), 43);
        assert_eq!(
            for_client(&s, &client("public", &["https://a.test/cb"]), "user-1"),
            "user-1"
        );
        let expected =
            URL_SAFE_NO_PAD.encode(Sha256::digest(format!("a.testuser-1{}", "s".repeat(32))));
        assert_eq!(sub_a, expected);
    }

    #[test]
    fn registration_needs_one_host_and_a_supported_type() {
        let s = settings();
        assert!(check_client(&s, &client("pairwise", &["https://a.test/cb"])).is_ok());
        assert!(
            check_client(
                &s,
                &client("pairwise", &["https://a.test/cb", "https://b.test/cb"])
            )
            .is_err()
        );
        assert!(check_client(&s, &client("pairwise", &[])).is_err());
        assert!(
            check_client(
                &SubjectIdentifiers::default(),
                &client("pairwise", &["https://a.test/cb"])
            )
            .is_err()
        );
        let mut with_uri = client("pairwise", &["https://a.test/cb"]);
        with_uri.sector_identifier_uri = Some("https://a.test/sector.json".into());
        assert!(check_client(&s, &with_uri).is_err());
    }
}
