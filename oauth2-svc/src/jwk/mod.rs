//! Signing keys: key sets stored in the database, the JWKS, and signing and verifying JWTs.
//!
//! Keys are RS256 (RSA-2048, the default), ES256 or EdDSA through josekit, that is OpenSSL:
//! OpenSSL's RSA is constant-time (RustCrypto's `rsa` still carries the Marvin timing advisory)
//! and generates a key in milliseconds even in debug builds.
//!
//! The ring is loaded at start ([`KeyRing::load`]): each reserved set gets its bootstrap key if
//! it has none, every row is decrypted (re-sealed under the first `secrets.system` value when an
//! older one sealed it), and a row no configured secret opens stops the service. Afterwards every
//! replica re-reads the keys every `oauth2.keys.reload_interval`, so a key created through any
//! replica is published everywhere before it starts signing (`oauth2.keys.publish_ahead`).

pub mod admin;
mod key;
mod load;
mod store;
#[cfg(test)]
mod tests;

use std::sync::{Arc, RwLock};

use anyhow::{Context, anyhow, bail, ensure};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use josekit::jws::{JwsSigner, JwsVerifier};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

pub use key::Alg;

/// HKDF salt of the private-key cipher: separates it from the other uses of `secrets.system`.
const CIPHER_SALT: &[u8] = b"olympus/oauth2-svc/jwk";

/// Hydra's name for the ID-token key set.
pub const ID_TOKEN_SET: &str = "hydra.openid.id-token";
/// The sets that get a key at first start.
const BOOTSTRAP_SETS: &[&str] = &[ID_TOKEN_SET];

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
#[derive(Debug)]
struct Key {
    set_id: String,
    seq: i32,
    kid: String,
    alg: Alg,
    state: KeyState,
    active_from: DateTime<Utc>,
    public_jwk: Value,
    signer: Box<dyn JwsSigner>,
    verifier: Box<dyn JwsVerifier>,
}

/// Where a key sits in its set and since when it signs.
struct Placement<'a> {
    set_id: &'a str,
    seq: i32,
    state: KeyState,
    active_from: DateTime<Utc>,
}

impl Key {
    /// Builds a key from its PKCS#8 DER private key; the kid must be the key's thumbprint.
    fn from_der(at: Placement<'_>, kid: &str, alg: Alg, der: &[u8]) -> anyhow::Result<Key> {
        let public_jwk = alg.public_jwk(der).context("stored private key")?;
        ensure!(
            public_jwk["kid"] == kid,
            "the stored key {kid} does not match its kid (RFC 7638 thumbprint)"
        );
        Ok(Key {
            set_id: at.set_id.to_string(),
            seq: at.seq,
            kid: kid.to_string(),
            alg,
            state: at.state,
            active_from: at.active_from,
            verifier: alg.verifier(&public_jwk)?,
            signer: alg.signer(der)?,
            public_jwk,
        })
    }
}

/// The RFC 7638 thumbprint of an RSA key: base64url SHA-256 of `{"e","kty","n"}`, members in
/// lexicographic order without whitespace. `e` and `n` are base64url, so they need no escaping.
#[cfg(test)]
pub fn rsa_thumbprint(e: &str, n: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// OIDC Core §3.1.3.6 `at_hash` for RS256: base64url of the left half of SHA-256 of the token.
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

type Snapshot = Arc<Vec<Arc<Key>>>;

struct Inner {
    keys: RwLock<Snapshot>,
    clock: service_kit::clock::Clock,
}

/// The keys this service signs with and publishes; re-read from the database by a background
/// task. Cheap to clone.
#[derive(Clone)]
pub struct KeyRing {
    inner: Arc<Inner>,
}

impl KeyRing {
    #[cfg(test)]
    fn new(keys: Vec<Key>) -> KeyRing {
        KeyRing::with_clock(keys.into_iter().map(Arc::new).collect(), Default::default())
    }

    fn with_clock(keys: Vec<Arc<Key>>, clock: service_kit::clock::Clock) -> KeyRing {
        let ring = KeyRing {
            inner: Arc::new(Inner {
                keys: RwLock::new(Arc::new(vec![])),
                clock,
            }),
        };
        ring.replace(keys);
        ring
    }

    fn snapshot(&self) -> Snapshot {
        match self.inner.keys.read() {
            Ok(keys) => keys.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn replace(&self, mut keys: Vec<Arc<Key>>) {
        // Newest first, so the JWKS lists the key that signs (or will sign next) at the top.
        keys.sort_by(|a, b| {
            (b.active_from, b.seq, &b.set_id).cmp(&(a.active_from, a.seq, &a.set_id))
        });
        let keys = Arc::new(keys);
        match self.inner.keys.write() {
            Ok(mut slot) => *slot = keys,
            Err(poisoned) => *poisoned.into_inner() = keys,
        }
    }

    /// The newest active key of `set_id` whose `active_from` has come.
    fn signing_key(&self, set_id: &str) -> anyhow::Result<Arc<Key>> {
        let now = self.inner.clock.now();
        self.snapshot()
            .iter()
            .find(|k| k.set_id == set_id && k.state == KeyState::Active && k.active_from <= now)
            .cloned()
            .ok_or_else(|| anyhow!("key set {set_id} has no active signing key"))
    }

    /// Signs `claims` (a JSON object) as a compact JWS with the current key of `set_id`,
    /// header `{alg, kid, typ}`: the kid always names the key that signed.
    fn sign(&self, set_id: &str, typ: &str, claims: &Value) -> anyhow::Result<String> {
        ensure!(claims.is_object(), "JWT claims must be a JSON object");
        let key = self.signing_key(set_id)?;
        let header = json!({"alg": key.alg.name(), "kid": key.kid, "typ": typ});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?)
        );
        let signature = key.signer.sign(input.as_bytes())?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    /// Signs an ID token (or another JWT of ours) with the current ID-token key.
    pub fn sign_jwt(&self, claims: &Value) -> Result<String, anyhow::Error> {
        self.sign(ID_TOKEN_SET, "JWT", claims)
    }

    /// Signs an RFC 9068 JWT access token with the current ID-token key: header
    /// `{alg, kid, typ:"at+jwt"}`, so it cannot be mistaken for an ID token.
    pub fn sign_access_token_jwt(&self, claims: &Value) -> Result<String, anyhow::Error> {
        self.sign(ID_TOKEN_SET, "at+jwt", claims)
    }

    /// The public keys of `set_id` (never a private part), newest first.
    pub fn set_keys(&self, set_id: &str) -> Vec<Value> {
        self.snapshot()
            .iter()
            .filter(|k| k.set_id == set_id)
            .map(|k| k.public_jwk.clone())
            .collect()
    }

    /// The public JWKS: every published key of the ID-token set.
    pub fn jwks(&self) -> Value {
        json!({ "keys": self.set_keys(ID_TOKEN_SET) })
    }

    /// The algorithms ID tokens may be signed with (for discovery).
    pub fn id_token_algs(&self) -> Vec<&'static str> {
        let mut algs: Vec<&'static str> = self
            .snapshot()
            .iter()
            .filter(|k| k.set_id == ID_TOKEN_SET && k.state == KeyState::Active)
            .map(|k| k.alg.name())
            .collect();
        algs.sort_unstable();
        algs.dedup();
        algs
    }

    /// Verifies a compact JWS made by one of our keys and returns its claims. The key is chosen
    /// by `kid` only and the header's `alg` must be that key's, so `none`, HS256 (keyed with our
    /// public key) or a key named in the token cannot be substituted. Claims (`exp`, `aud`, …)
    /// are not checked: that is the caller's policy (an `id_token_hint` may be expired).
    pub fn verify_jwt(&self, token: &str) -> Result<Value, anyhow::Error> {
        let mut parts = token.split('.');
        let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            bail!("not a compact JWS");
        };
        let header: Map<String, Value> = decode_json(header_b64).context("JWS header")?;
        ensure!(
            !header.contains_key("crit"),
            "JWS has critical header parameters"
        );
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .context("JWS header has no kid")?;
        let keys = self.snapshot();
        let key = keys
            .iter()
            .find(|k| k.kid == kid)
            .with_context(|| format!("no key with kid {kid}"))?;
        ensure!(
            header.get("alg").and_then(Value::as_str) == Some(key.alg.name()),
            "JWS alg must be {}",
            key.alg.name()
        );
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

fn decode_json(part: &str) -> anyhow::Result<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part)?;
    Ok(serde_json::from_slice(&bytes)?)
}
