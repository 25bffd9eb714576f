//! Logout (OpenID Connect RP-Initiated, Front-Channel and Back-Channel Logout): a relying party
//! (or the user) asks to end the login session; the logout UI confirms through a challenge that
//! follows the same table as login and consent; redeeming its verifier ends the session, tells
//! the clients that shared it, and returns the browser to the relying party.
//!
//! unused → (UI accepts) accepted → (browser redeems the verifier) done; unused → rejected.

pub mod backchannel;
mod frontchannel;
pub mod handlers;
mod sessions;
pub mod store;

use serde_json::Value;

use crate::jwk::KeyRing;

pub const UNUSED: &str = "unused";
pub const ACCEPTED: &str = "accepted";
pub const REJECTED: &str = "rejected";
pub const DONE: &str = "done";

/// What a valid `id_token_hint` tells a logout request.
#[derive(Debug, Clone, PartialEq)]
pub struct Hint {
    pub client_id: String,
    pub subject: String,
    pub sid: uuid::Uuid,
}

/// Verifies a logout `id_token_hint`: one of our signatures, our issuer, a subject, a session
/// id and one audience (the client). Expiry does not matter: logging out with an old token is
/// the common case.
pub fn verify_hint(keys: &KeyRing, issuer: &str, hint: &str) -> Option<Hint> {
    if hint.len() > 16 * 1024 {
        return None;
    }
    let claims = keys.verify_jwt(hint).ok()?;
    if claims["iss"].as_str() != Some(issuer) {
        return None;
    }
    let client_id = match &claims["aud"] {
        Value::String(aud) => aud.clone(),
        Value::Array(auds) => auds.first()?.as_str()?.to_string(),
        _ => return None,
    };
    Some(Hint {
        client_id,
        subject: claims["sub"]
            .as_str()
            .filter(|s| !s.is_empty())?
            .to_string(),
        sid: uuid::Uuid::parse_str(claims["sid"].as_str()?).ok()?,
    })
}

/// `post_logout_redirect_uri` with `state` added, if it is registered for the client exactly.
pub fn post_logout_target(
    registered: &[String],
    requested: &str,
    state: Option<&str>,
) -> Option<String> {
    if !registered.iter().any(|r| r == requested) {
        return None;
    }
    let mut url = url::Url::parse(requested).ok()?;
    if let Some(state) = state {
        url.query_pairs_mut().append_pair("state", state);
    }
    Some(url.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_logout_uri_must_be_registered_exactly() {
        let registered = vec!["https://rp.test/bye".to_string()];
        assert_eq!(
            post_logout_target(&registered, "https://rp.test/bye", Some("s 1")).as_deref(),
            Some("https://rp.test/bye?state=s+1")
        );
        assert!(post_logout_target(&registered, "https://rp.test/bye?x=1", None).is_none());
        assert!(post_logout_target(&registered, "https://evil.test/bye", None).is_none());
    }
}
