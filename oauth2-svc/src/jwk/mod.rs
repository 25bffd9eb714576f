//! Signing keys: key sets stored in the database, the JWKS, and signing and verifying JWTs.
//!
//! Keys are RSA-2048 / RS256 through josekit, that is OpenSSL: OpenSSL's RSA is constant-time
//! (RustCrypto's `rsa` still carries the Marvin timing advisory), generates a key in
//! milliseconds even in debug builds, and the same crate gives ES256 and EdDSA later.
//!
//! The ring is loaded once at start ([`KeyRing::load`]): each reserved set gets its bootstrap key
//! if it has none, every row is decrypted (re-sealed under the first `secrets.system` value when
//! an older one sealed it), and a row no configured secret opens stops the service.

mod cipher;
mod load;
mod store;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use anyhow::{Context, anyhow, bail, ensure};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use josekit::jwk::KeyPair;
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jws::alg::rsassa::{RsassaJwsSigner, RsassaJwsVerifier};
use josekit::jws::{JwsSigner, JwsVerifier, RS256};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// Hydra's name for the ID-token key set.
pub const ID_TOKEN_SET: &str = "hydra.openid.id-token";
/// The sets that get a key at first start.
const BOOTSTRAP_SETS: &[&str] = &[ID_TOKEN_SET];
const RSA_BITS: u32 = 2048;
const ALG_RS256: &str = "RS256";
const USE_SIG: &str = "sig";

/// Whether a key signs (`active`, from `active_from` on) or is only published so that tokens it
/// signed still verify (`retired`). Every key of either state is in the JWKS, so a next key is
/// published as soon as its row exists, before its `active_from`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyState {
    Active,
    Retired,
}

impl KeyState {
    fn parse(text: &str) -> anyhow::Result<Self> {
        match text {
            "active" => Ok(KeyState::Active),
            "retired" => Ok(KeyState::Retired),
            other => bail!("unknown key state {other:?}"),
        }
    }
}

/// One usable key: its public JWK and the signer and verifier made from its private part.
#[allow(dead_code)] // kid, state, signer and verifier serve the token endpoint's signing
struct Key {
    set_id: String,
    seq: i32,
    kid: String,
    state: KeyState,
    active_from: DateTime<Utc>,
    public_jwk: Value,
    signer: RsassaJwsSigner,
    verifier: RsassaJwsVerifier,
}

impl Key {
    /// Builds a key from its PKCS#8 DER private key; the kid must be the key's thumbprint.
    fn from_der(
        set_id: &str,
        seq: i32,
        kid: &str,
        state: KeyState,
        active_from: DateTime<Utc>,
        der: &[u8],
    ) -> anyhow::Result<Key> {
        let pair = RsaKeyPair::from_der(der).context("stored private key")?;
        let public_jwk = public_jwk(&pair)?;
        ensure!(
            public_jwk["kid"] == kid,
            "the stored key {kid} does not match its kid (RFC 7638 thumbprint)"
        );
        Ok(Key {
            set_id: set_id.to_string(),
            seq,
            kid: kid.to_string(),
            state,
            active_from,
            public_jwk,
            signer: RS256.signer_from_der(der)?,
            verifier: RS256.verifier_from_der(pair.to_der_public_key())?,
        })
    }
}

/// The public JWK of an RSA key pair: `kty`, `use`, `alg`, `kid`, `n`, `e`, nothing private.
fn public_jwk(pair: &RsaKeyPair) -> anyhow::Result<Value> {
    let jwk = pair.to_jwk_public_key();
    let member = |name: &str| {
        jwk.parameter(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| anyhow!("RSA public key without {name}"))
    };
    let (n, e) = (member("n")?, member("e")?);
    Ok(json!({
        "kty": "RSA",
        "use": USE_SIG,
        "alg": ALG_RS256,
        "kid": rsa_thumbprint(&e, &n),
        "n": n,
        "e": e,
    }))
}

/// The RFC 7638 thumbprint of an RSA key: base64url SHA-256 of `{"e","kty","n"}`, members in
/// lexicographic order without whitespace. `e` and `n` are base64url, so they need no escaping.
pub fn rsa_thumbprint(e: &str, n: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// OIDC Core §3.1.3.6 `at_hash` for RS256: base64url of the left half of SHA-256 of the token.
#[allow(dead_code)] // used by the token endpoint
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

/// The keys this service signs with and publishes. Cheap to clone.
#[derive(Clone)]
pub struct KeyRing {
    keys: Arc<Vec<Key>>,
}

impl KeyRing {
    fn new(mut keys: Vec<Key>) -> KeyRing {
        // Newest first, so the JWKS lists the key that signs (or will sign next) at the top.
        keys.sort_by(|a, b| {
            (b.active_from, b.seq, &b.set_id).cmp(&(a.active_from, a.seq, &a.set_id))
        });
        KeyRing {
            keys: Arc::new(keys),
        }
    }

    /// The newest active key of `set_id` whose `active_from` has come.
    #[allow(dead_code)] // used by the token endpoint through sign_jwt
    fn signing_key(&self, set_id: &str, now: DateTime<Utc>) -> anyhow::Result<&Key> {
        self.keys
            .iter()
            .find(|k| k.set_id == set_id && k.state == KeyState::Active && k.active_from <= now)
            .ok_or_else(|| anyhow!("key set {set_id} has no active signing key"))
    }

    /// Signs `claims` (a JSON object) as a compact JWS with the current ID-token key (RS256),
    /// header `{alg, kid, typ:"JWT"}`.
    #[allow(dead_code)] // used by the token endpoint
    pub fn sign_jwt(&self, claims: &Value) -> Result<String, anyhow::Error> {
        ensure!(claims.is_object(), "JWT claims must be a JSON object");
        let key = self.signing_key(ID_TOKEN_SET, Utc::now())?;
        let header = json!({"alg": ALG_RS256, "kid": key.kid, "typ": "JWT"});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?)
        );
        let signature = key.signer.sign(input.as_bytes())?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    /// The public JWKS: every published key (never a private part).
    pub fn jwks(&self) -> Value {
        let keys: Vec<&Value> = self.keys.iter().map(|k| &k.public_jwk).collect();
        json!({ "keys": keys })
    }

    /// Verifies a compact JWS made by one of our keys and returns its claims. The key is chosen
    /// by `kid` only and `alg` must be RS256, so `none`, HS256 (keyed with our public key) or a
    /// key named in the token cannot be substituted. Claims (`exp`, `aud`, …) are not checked:
    /// that is the caller's policy (an `id_token_hint` may be expired).
    #[allow(dead_code)] // used for id_token_hint
    pub fn verify_jwt(&self, token: &str) -> Result<Value, anyhow::Error> {
        let mut parts = token.split('.');
        let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            bail!("not a compact JWS");
        };
        let header: Map<String, Value> = decode_json(header_b64).context("JWS header")?;
        ensure!(
            header.get("alg").and_then(Value::as_str) == Some(ALG_RS256),
            "JWS alg must be {ALG_RS256}"
        );
        ensure!(
            !header.contains_key("crit"),
            "JWS has critical header parameters"
        );
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .context("JWS header has no kid")?;
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .with_context(|| format!("no key with kid {kid}"))?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature_b64)
            .context("JWS signature encoding")?;
        key.verifier
            .verify(format!("{header_b64}.{claims_b64}").as_bytes(), &signature)
            .context("JWS signature does not verify")?;
        let claims: Map<String, Value> = decode_json(claims_b64).context("JWT claims")?;
        Ok(Value::Object(claims))
    }
}

#[allow(dead_code)] // used by verify_jwt
fn decode_json(part: &str) -> anyhow::Result<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part)?;
    Ok(serde_json::from_slice(&bytes)?)
}
