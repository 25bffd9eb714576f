//! Keys of trusted issuers: which public JWKs are accepted (RSA for RS256, EC P-256 for ES256,
//! never a private part) and how an assertion's signature is checked against one. The
//! algorithm comes from the stored key, never from the assertion alone, so `none`, HS256 keyed
//! with a public key, or a key named in the header (`jku`, `x5u`, `jwk`) cannot be substituted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::Jwk;
use josekit::jws::{ES256, JwsVerifier, RS256};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// Longest assertion looked at (BI-10).
pub const MAX_ASSERTION_LEN: usize = 8 * 1024;

/// A public JWK as stored: only its public members, with its algorithm and `kid`.
pub struct TrustedKey {
    pub jwk: Value,
    pub kid: String,
}

/// Checks a JWK from the admin API and keeps its public members only.
pub fn public_key(jwk: &Value) -> Result<TrustedKey, String> {
    let object = jwk
        .as_object()
        .ok_or("Field 'jwk' must be a JSON object.")?;
    if ["d", "p", "q", "dp", "dq", "qi", "k"]
        .iter()
        .any(|m| object.contains_key(*m))
    {
        return Err("Field 'jwk' must be a public key.".into());
    }
    let text = |name: &str| object.get(name).and_then(Value::as_str);
    let (members, alg): (&[&str], &str) = match (text("kty"), text("crv")) {
        (Some("RSA"), _) => (&["e", "kty", "n"], "RS256"),
        (Some("EC"), Some("P-256")) => (&["crv", "kty", "x", "y"], "ES256"),
        _ => return Err("Field 'jwk' must be an RSA or an EC P-256 key.".into()),
    };
    if text("alg").is_some_and(|a| a != alg) {
        return Err(format!("Field 'jwk' must be used with {alg}."));
    }
    let mut public = Map::new();
    for member in members {
        let value = text(member).ok_or(format!("Field 'jwk' lacks the member {member}."))?;
        public.insert((*member).into(), value.into());
    }
    // RFC 7638: the thumbprint is over the required members in lexicographic order.
    let thumbprint = URL_SAFE_NO_PAD.encode(Sha256::digest(
        serde_json::to_vec(&public).map_err(|e| e.to_string())?,
    ));
    let kid = text("kid").map(str::to_string).unwrap_or(thumbprint);
    public.insert("kid".into(), kid.clone().into());
    public.insert("alg".into(), alg.into());
    public.insert("use".into(), "sig".into());
    let public = Value::Object(public);
    verifier(&public).map_err(|_| "Field 'jwk' is not a valid public key.".to_string())?;
    Ok(TrustedKey { jwk: public, kid })
}

fn verifier(jwk: &Value) -> anyhow::Result<Box<dyn JwsVerifier>> {
    let map = jwk.as_object().cloned().unwrap_or_default();
    let key = Jwk::from_map(map)?;
    Ok(match jwk.get("alg").and_then(Value::as_str) {
        Some("ES256") => Box::new(ES256.verifier_from_jwk(&key)?),
        _ => Box::new(RS256.verifier_from_jwk(&key)?),
    })
}

/// An assertion split and decoded, its signature not yet checked.
pub struct Assertion {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

impl Assertion {
    pub fn parse(token: &str) -> Option<Assertion> {
        if token.len() > MAX_ASSERTION_LEN {
            return None;
        }
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let decode = |part: &str| -> Option<Map<String, Value>> {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
        };
        let header = decode(h)?;
        if header.contains_key("crit") {
            return None;
        }
        Some(Assertion {
            claims: decode(c)?,
            header,
            signing_input: format!("{h}.{c}"),
            signature: URL_SAFE_NO_PAD.decode(s).ok()?,
        })
    }

    /// Whether `jwk` (a stored trusted key) signed this assertion with the key's algorithm.
    pub fn signed_by(&self, jwk: &Value) -> bool {
        let alg = jwk.get("alg").and_then(Value::as_str);
        if self.header.get("alg").and_then(Value::as_str) != alg {
            return false;
        }
        let kid = self.header.get("kid").and_then(Value::as_str);
        if kid.is_some_and(|k| Some(k) != jwk.get("kid").and_then(Value::as_str)) {
            return false;
        }
        verifier(jwk)
            .and_then(|v| Ok(v.verify(self.signing_input.as_bytes(), &self.signature)?))
            .is_ok()
    }

    pub fn text(&self, claim: &str) -> Option<&str> {
        self.claims.get(claim).and_then(Value::as_str)
    }

    pub fn number(&self, claim: &str) -> Option<i64> {
        self.claims.get(claim).and_then(Value::as_i64)
    }

    /// `aud` as a list (a single string counts as one).
    pub fn audience(&self) -> Vec<&str> {
        match self.claims.get("aud") {
            Some(Value::String(a)) => vec![a.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        }
    }
}

/// The wire form's `public_key` (Hydra's trustedOAuth2JwtGrantJsonWebKey).
pub fn public_key_ref(issuer: &str, kid: &str) -> Value {
    json!({"set": issuer, "kid": kid})
}
