//! The admin side of the handoff: a login and consent UI reads the request behind a challenge
//! and answers it once (Hydra's admin login/consent API, with Olympus' challenge table); and
//! granted consents (consent sessions): remembered ones make later requests `skip`, the admin
//! API lists and revokes them.

pub mod handlers;
pub mod sessions;
pub mod store;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared_types::client::OAuth2Client;
use shared_types::consent::AcceptOAuth2ConsentRequestSession;

use crate::flow::AuthorizeRequest;
use store::ConsentSessionRow;

/// What a consent session keeps beside its columns: the consent's claims, and what the flow
/// asked for (to show the consent request in the session list and to complete `prompt=none`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ConsentData {
    #[serde(default)]
    pub session: AcceptOAuth2ConsentRequestSession,
    #[serde(default)]
    pub context: Option<serde_json::Value>,
    #[serde(default)]
    pub acr: Option<String>,
    #[serde(default)]
    pub amr: Vec<String>,
    #[serde(default)]
    pub requested_scope: Vec<String>,
    #[serde(default)]
    pub requested_audience: Vec<String>,
    #[serde(default)]
    pub request_url: String,
}

impl ConsentData {
    pub fn of(row: &ConsentSessionRow) -> ConsentData {
        serde_json::from_value(row.data.0.clone()).unwrap_or_default()
    }
}

pub(crate) fn strings(value: &serde_json::Value) -> Vec<String> {
    serde_json::from_value(value.clone()).unwrap_or_default()
}

/// Whether a remembered consent may make this request skip the consent UI (Hydra's rules):
/// never with `prompt=consent`; a public client only when its redirect_uri is https or a
/// loopback address, since anyone can claim a public client's identity elsewhere.
pub fn may_skip(client: &OAuth2Client, request: &AuthorizeRequest) -> bool {
    if request.force_consent {
        return false;
    }
    let public = client.token_endpoint_auth_method.as_deref() == Some("none");
    !public || safe_redirect(&request.redirect_uri)
}

fn safe_redirect(uri: &str) -> bool {
    match url::Url::parse(uri) {
        Ok(url) if url.scheme() == "https" => true,
        Ok(url) if url.scheme() == "http" => {
            matches!(
                url.host(),
                Some(url::Host::Ipv4(ip)) if ip.is_loopback()
            ) || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
        }
        _ => false,
    }
}

/// The newest of `remembered` that covers the requested scope and audience.
pub fn covering<'a>(
    remembered: &'a [ConsentSessionRow],
    scope: &[String],
    audience: &[String],
) -> Option<&'a ConsentSessionRow> {
    remembered.iter().find(|row| {
        let (granted, granted_aud) = (strings(&row.grant_scope.0), strings(&row.grant_audience.0));
        scope.iter().all(|s| granted.contains(s))
            && audience.iter().all(|a| granted_aud.contains(a))
    })
}

/// When a consent remembered now for `remember_for` seconds stops covering (0 = never).
pub fn expiry(
    remember: bool,
    remember_for: i64,
    now: DateTime<Utc>,
) -> Option<chrono::NaiveDateTime> {
    (remember && remember_for > 0)
        .then(|| (now + chrono::Duration::seconds(remember_for)).naive_utc())
}
