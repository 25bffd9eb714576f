//! `private_key_jwt` client authentication (RFC 7523 §2.2 and §3, OIDC Core §9): the client
//! signs a short-lived JWT with a key registered in its `jwks`; each `jti` is accepted once.
//!
//! Keys come only from the client's registered `jwks`: `jwks_uri` is not fetched (clients that
//! name one are rejected at registration), and a `jku`, `x5u`, `jwk` or `x5c` header is never
//! followed, so an assertion cannot bring its own key (CA-09). Only RS256 and ES256 verify;
//! `none` and HS* never do.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::Jwk;
use josekit::jws::{ES256, JwsVerifier, RS256};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use shared_types::client::OAuth2Client;

use super::store;
use crate::state::AppState;
use crate::token::OAuth2Error;

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
pub const SIGNING_ALGS: &[&str] = &["RS256", "ES256"];
const MAX_KEYS: usize = 10;
/// How far in the future `exp` may lie: assertions are meant to be used at once.
const MAX_LIFETIME_SECS: i64 = 600;
/// Tolerated clock skew for `iat` and `nbf`.
const SKEW_SECS: i64 = 60;
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Why an assertion was refused; logged, never shown (the client gets `invalid_client`).
#[derive(Debug)]
pub enum AssertionError {
    Rejected(&'static str),
    Internal(anyhow::Error),
}

impl From<AssertionError> for OAuth2Error {
    fn from(err: AssertionError) -> Self {
        match err {
            AssertionError::Rejected(reason) => {
                tracing::info!(reason, "client assertion rejected");
                OAuth2Error::InvalidClient
            }
            AssertionError::Internal(e) => OAuth2Error::Internal(e),
        }
    }
}

/// Registration rules for the key fields: `jwks` holds public RS256/ES256 keys, `jwks_uri`
/// is not supported, and `private_key_jwt` needs `jwks`.
pub fn check_client_keys(method: &str, client: &OAuth2Client) -> Result<(), String> {
    if client.jwks_uri.as_deref().is_some_and(|u| !u.is_empty()) {
        return Err("jwks_uri is not supported; register the client's public keys in jwks".into());
    }
    if let Some(alg) = &client.token_endpoint_auth_signing_alg
        && !SIGNING_ALGS.contains(&alg.as_str())
    {
        return Err(format!(
            "token_endpoint_auth_signing_alg must be one of: {}",
            SIGNING_ALGS.join(", ")
        ));
    }
    match &client.jwks {
        Some(jwks) => check_jwks(jwks),
        None if method == "private_key_jwt" => {
            Err("token_endpoint_auth_method private_key_jwt requires jwks".into())
        }
        None => Ok(()),
    }
}

fn check_jwks(jwks: &Value) -> Result<(), String> {
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("jwks must be a JWK Set: {\"keys\": [...]}")?;
    if keys.is_empty() || keys.len() > MAX_KEYS {
        return Err(format!("jwks must hold between 1 and {MAX_KEYS} keys"));
    }
    for key in keys {
        let map = key.as_object().ok_or("jwks keys must be JSON objects")?;
        if PRIVATE_MEMBERS.iter().any(|m| map.contains_key(*m)) {
            return Err("jwks must hold public keys only (no private or symmetric members)".into());
        }
        let jwk = Jwk::from_map(map.clone()).map_err(|_| "jwks holds an invalid JWK")?;
        if verifier(&jwk).is_none() {
            return Err(
                "jwks keys must be RSA (at least 2048 bits) or EC P-256 signing keys".into(),
            );
        }
    }
    Ok(())
}

/// The verifier of a registered key, by its key type: RSA verifies RS256, EC P-256 ES256.
fn verifier(jwk: &Jwk) -> Option<(&'static str, Box<dyn JwsVerifier>)> {
    match jwk.key_type() {
        "RSA" => RS256
            .verifier_from_jwk(jwk)
            .ok()
            .map(|v| ("RS256", Box::new(v) as Box<dyn JwsVerifier>)),
        "EC" => ES256
            .verifier_from_jwk(jwk)
            .ok()
            .map(|v| ("ES256", Box::new(v) as Box<dyn JwsVerifier>)),
        _ => None,
    }
}

/// The `sub` of an assertion, unverified: which client claims to be speaking when the request
/// carries no `client_id` (RFC 7521 §4.2). Only used to look the client up.
pub fn claimed_client_id(assertion: &str) -> Option<String> {
    let claims = assertion.split('.').nth(1)?;
    let claims: Map<String, Value> = decode_json(claims).ok()?;
    claims.get("sub")?.as_str().map(str::to_string)
}

fn decode_json(part: &str) -> Result<Map<String, Value>, AssertionError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| AssertionError::Rejected("a part is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| AssertionError::Rejected("a part is not JSON"))
}

/// What a verified assertion leaves to do: spend its `jti` until `exp`.
#[derive(Debug, PartialEq)]
pub struct Verified {
    pub jti: String,
    pub exp: i64,
}

/// Checks the signature against the client's `jwks` and the claims (`iss` = `sub` = client_id,
/// `aud` naming one of `audiences`, a short `exp`, a `jti`).
pub fn verify(
    assertion: &str,
    client_id: &str,
    client: &OAuth2Client,
    audiences: &[String],
    now: i64,
) -> Result<Verified, AssertionError> {
    use AssertionError::Rejected;
    let mut parts = assertion.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Rejected("not a compact JWS"));
    };
    let header = decode_json(header_b64)?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("none");
    let registered = client.token_endpoint_auth_signing_alg.as_deref();
    if !SIGNING_ALGS.contains(&alg) || registered.is_some_and(|r| r != alg) {
        return Err(Rejected("alg is not allowed"));
    }
    if header.contains_key("crit") {
        return Err(Rejected("critical header parameters"));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| Rejected("signature is not base64url"))?;
    let input = format!("{header_b64}.{claims_b64}");
    let kid = header.get("kid").and_then(Value::as_str);
    if !registered_keys(client, kid)
        .filter_map(|jwk| verifier(&jwk))
        .any(|(key_alg, v)| key_alg == alg && v.verify(input.as_bytes(), &signature).is_ok())
    {
        return Err(Rejected("no registered key verifies the signature"));
    }
    check_claims(&decode_json(claims_b64)?, client_id, audiences, now)
}

/// The client's registered keys, narrowed to `kid` when the assertion names one.
fn registered_keys<'a>(
    client: &'a OAuth2Client,
    kid: Option<&'a str>,
) -> impl Iterator<Item = Jwk> + 'a {
    client
        .jwks
        .as_ref()
        .and_then(|j| j.get("keys"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|k| k.as_object().and_then(|m| Jwk::from_map(m.clone()).ok()))
        .filter(move |jwk| kid.is_none() || jwk.key_id() == kid)
}

fn check_claims(
    claims: &Map<String, Value>,
    client_id: &str,
    audiences: &[String],
    now: i64,
) -> Result<Verified, AssertionError> {
    use AssertionError::Rejected;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let number = |name: &str| claims.get(name).and_then(Value::as_i64);
    if text("iss") != Some(client_id) || text("sub") != Some(client_id) {
        return Err(Rejected("iss and sub must be the client_id"));
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => audiences.contains(a),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .any(|a| audiences.iter().any(|x| x == a)),
        _ => false,
    };
    if !aud_ok {
        return Err(Rejected("aud does not name this server's token endpoint"));
    }
    let exp = number("exp").ok_or(Rejected("exp is missing"))?;
    if exp <= now {
        return Err(Rejected("the assertion has expired"));
    }
    if exp > now + MAX_LIFETIME_SECS {
        return Err(Rejected("exp is too far in the future"));
    }
    if number("nbf").is_some_and(|nbf| nbf > now + SKEW_SECS)
        || number("iat").is_some_and(|iat| iat > now + SKEW_SECS)
    {
        return Err(Rejected("the assertion is not valid yet"));
    }
    match text("jti") {
        Some(jti) if !jti.is_empty() && jti.len() <= 512 => Ok(Verified {
            jti: jti.to_string(),
            exp,
        }),
        _ => Err(Rejected("jti is missing")),
    }
}

/// Verifies `assertion` for the client and spends its `jti` (CA-07, CA-09). The `jti` is stored
/// as a SHA-256 digest (it is not a secret, and the digest stays valid across a rotation of
/// `secrets.system`) until `exp`; a second use is refused.
pub async fn authenticate(
    state: &AppState,
    client_id: &str,
    client: &OAuth2Client,
    assertion: &str,
) -> Result<(), AssertionError> {
    let settings = &state.settings;
    let issuer =
        (settings.settings.urls.self_.issuer.as_deref()).unwrap_or(settings.issuer.as_str());
    let audiences = vec![
        format!("{}/oauth2/token", issuer.trim_end_matches('/')),
        issuer.to_string(),
    ];
    let now = state.settings.settings.clock.now();
    let verified = verify(assertion, client_id, client, &audiences, now.timestamp())?;
    let row = store::NewJtiRow {
        id: service_kit::db::Id::new_v7(),
        client_id: client_id.to_string(),
        jti_hash: URL_SAFE_NO_PAD.encode(Sha256::digest(verified.jti.as_bytes())),
        expires_at: chrono::DateTime::from_timestamp(verified.exp, 0)
            .unwrap_or(now)
            .naive_utc(),
        created_at: now.naive_utc(),
    };
    let now = now.naive_utc();
    let fresh = state
        .db
        .write(move |c| store::spend_jti(c, row, now).map_err(anyhow::Error::from))
        .await
        .map_err(AssertionError::Internal)?;
    match fresh {
        true => Ok(()),
        false => Err(AssertionError::Rejected("the jti was already used")),
    }
}

#[cfg(test)]
#[path = "assertion_tests.rs"]
mod tests;
