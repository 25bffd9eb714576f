//! The signing algorithms of key sets: RS256 (RSA-2048), ES256 (P-256) and EdDSA (Ed25519),
//! all through josekit (OpenSSL). A key is stored as its PKCS#8 DER private key; its public JWK
//! and `kid` (the RFC 7638 thumbprint) are derived from it.

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::KeyPair;
use josekit::jwk::alg::ec::{EcCurve, EcKeyPair};
use josekit::jwk::alg::ed::{EdCurve, EdKeyPair};
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jws::{ES256, EdDSA, JwsSigner, JwsVerifier, RS256};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub const RSA_BITS: u32 = 2048;
pub const USE_SIG: &str = "sig";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    Rs256,
    Es256,
    EdDsa,
}

impl Alg {
    pub const ALL: &[&str] = &["RS256", "ES256", "EdDSA"];

    pub fn parse(name: &str) -> Option<Alg> {
        match name {
            "RS256" => Some(Alg::Rs256),
            "ES256" => Some(Alg::Es256),
            "EdDSA" => Some(Alg::EdDsa),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
        }
    }

    /// A new private key, PKCS#8 DER.
    pub fn generate(self) -> anyhow::Result<Vec<u8>> {
        Ok(match self {
            Alg::Rs256 => RsaKeyPair::generate(RSA_BITS)?.to_der_private_key(),
            Alg::Es256 => EcKeyPair::generate(EcCurve::P256)?.to_der_private_key(),
            Alg::EdDsa => EdKeyPair::generate(EdCurve::Ed25519)?.to_der_private_key(),
        })
    }

    /// The public JWK of a private key: `kty`, `use`, `alg`, `kid` and the public members.
    pub fn public_jwk(self, der: &[u8]) -> anyhow::Result<Value> {
        let (jwk, required): (josekit::jwk::Jwk, &[&str]) = match self {
            Alg::Rs256 => (
                RsaKeyPair::from_der(der)?.to_jwk_public_key(),
                &["e", "kty", "n"],
            ),
            Alg::Es256 => (
                EcKeyPair::from_der(der, Some(EcCurve::P256))?.to_jwk_public_key(),
                &["crv", "kty", "x", "y"],
            ),
            Alg::EdDsa => (
                EdKeyPair::from_der(der)?.to_jwk_public_key(),
                &["crv", "kty", "x"],
            ),
        };
        let mut public = Map::new();
        for member in required {
            let value = jwk
                .parameter(member)
                .and_then(Value::as_str)
                .ok_or_else(|| anyhow!("public key without {member}"))?;
            public.insert(member.to_string(), value.into());
        }
        let kid = thumbprint(&public, required);
        public.insert("use".into(), USE_SIG.into());
        public.insert("alg".into(), self.name().into());
        public.insert("kid".into(), kid.into());
        Ok(Value::Object(public))
    }

    pub fn signer(self, der: &[u8]) -> anyhow::Result<Box<dyn JwsSigner>> {
        Ok(match self {
            Alg::Rs256 => Box::new(RS256.signer_from_der(der)?),
            Alg::Es256 => Box::new(ES256.signer_from_der(der)?),
            Alg::EdDsa => Box::new(EdDSA.signer_from_der(der)?),
        })
    }

    pub fn verifier(self, public_jwk: &Value) -> anyhow::Result<Box<dyn JwsVerifier>> {
        let map = public_jwk.as_object().context("a JWK is a JSON object")?;
        let jwk = josekit::jwk::Jwk::from_map(map.clone())?;
        Ok(match self {
            Alg::Rs256 => Box::new(RS256.verifier_from_jwk(&jwk)?),
            Alg::Es256 => Box::new(ES256.verifier_from_jwk(&jwk)?),
            Alg::EdDsa => Box::new(EdDSA.verifier_from_jwk(&jwk)?),
        })
    }
}

/// RFC 7638: base64url SHA-256 of the required members in lexicographic order, no whitespace.
/// The members are base64url or fixed names, so they need no escaping.
fn thumbprint(public: &Map<String, Value>, required: &[&str]) -> String {
    let members: Vec<String> = required
        .iter()
        .map(|m| format!("\"{m}\":\"{}\"", public[*m].as_str().unwrap_or_default()))
        .collect();
    let canonical = format!("{{{}}}", members.join(","));
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// Refuses anything but a signing key of a supported algorithm.
pub fn parse_alg_and_use(alg: &str, key_use: &str) -> anyhow::Result<Alg> {
    if key_use != USE_SIG {
        bail!("use must be sig: keys here only sign");
    }
    Alg::parse(alg).ok_or_else(|| anyhow!("alg must be one of: {}", Alg::ALL.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alg_signs_and_its_public_jwk_verifies() {
        for alg in [Alg::Rs256, Alg::Es256, Alg::EdDsa] {
            let der = alg.generate().unwrap();
            let public = alg.public_jwk(&der).unwrap();
            assert_eq!(public["alg"], alg.name());
            for private in ["d", "p", "q", "dp", "dq", "qi"] {
                assert!(public.get(private).is_none());
            }
            let signature = alg.signer(&der).unwrap().sign(b"input").unwrap();
            let verifier = alg.verifier(&public).unwrap();
            assert!(verifier.verify(b"input", &signature).is_ok(), "{alg:?}");
            assert!(verifier.verify(b"other", &signature).is_err(), "{alg:?}");
        }
    }
}
