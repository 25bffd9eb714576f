//! A software WebAuthn authenticator for the passkey and webauthn tests: one ES256 key,
//! attestation "none", user verification always performed, a signature counter the test can
//! set. It signs whatever origin it is told, so tests can play a phishing page too.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const RP_ID: &str = "olympus.test";
pub const ORIGIN: &str = "https://login.olympus.test";

pub struct Authenticator {
    key: SigningKey,
    pub credential_id: Vec<u8>,
    pub counter: u32,
    user_handle: Vec<u8>,
}

impl Authenticator {
    pub fn new() -> Self {
        let mut secret = [0u8; 32];
        secret[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        secret[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Authenticator {
            key: SigningKey::from_slice(&secret).expect("a P-256 scalar"),
            credential_id: uuid::Uuid::new_v4().as_bytes().to_vec(),
            counter: 0,
            user_handle: Vec::new(),
        }
    }

    pub fn id(&self) -> String {
        B64.encode(&self.credential_id)
    }

    /// `navigator.credentials.create` for `options` (`{"publicKey": …}`), as the JSON the
    /// script posts.
    pub fn create(&mut self, options: &Value, origin: &str) -> String {
        let public_key = &options["publicKey"];
        self.user_handle = B64
            .decode(public_key["user"]["id"].as_str().unwrap())
            .unwrap();
        let client_data = client_data("webauthn.create", public_key, origin);
        let point = self.key.verifying_key().to_encoded_point(false);
        let mut cose = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20];
        cose.extend_from_slice(point.x().unwrap());
        cose.extend_from_slice(&[0x22, 0x58, 0x20]);
        cose.extend_from_slice(point.y().unwrap());
        let mut auth_data = self.auth_data(public_key, 0x45);
        auth_data.extend_from_slice(&[0u8; 16]);
        auth_data.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&cose);
        let mut attestation = vec![0xa3, 0x63];
        attestation.extend_from_slice(b"fmt");
        attestation.push(0x64);
        attestation.extend_from_slice(b"none");
        attestation.push(0x67);
        attestation.extend_from_slice(b"attStmt");
        attestation.extend_from_slice(&[0xa0, 0x68]);
        attestation.extend_from_slice(b"authData");
        attestation.push(0x59);
        attestation.extend_from_slice(&(auth_data.len() as u16).to_be_bytes());
        attestation.extend_from_slice(&auth_data);
        json!({
            "id": self.id(),
            "rawId": self.id(),
            "type": "public-key",
            "extensions": {},
            "response": {
                "attestationObject": B64.encode(attestation),
                "clientDataJSON": B64.encode(client_data),
            }
        })
        .to_string()
    }

    /// `navigator.credentials.get` for `options`: signs with the next counter value.
    pub fn get(&mut self, options: &Value, origin: &str) -> String {
        let public_key = &options["publicKey"];
        self.counter += 1;
        let client_data = client_data("webauthn.get", public_key, origin);
        let auth_data = self.auth_data(public_key, 0x05);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let signature: Signature = self.key.sign(&signed);
        json!({
            "id": self.id(),
            "rawId": self.id(),
            "type": "public-key",
            "extensions": {},
            "response": {
                "authenticatorData": B64.encode(auth_data),
                "clientDataJSON": B64.encode(client_data),
                "signature": B64.encode(signature.to_der().as_bytes()),
                "userHandle": B64.encode(&self.user_handle),
            }
        })
        .to_string()
    }

    /// rpIdHash, flags (user present and verified, plus `extra`), counter.
    fn auth_data(&self, public_key: &Value, flags: u8) -> Vec<u8> {
        let rp_id = public_key["rp"]["id"]
            .as_str()
            .or(public_key["rpId"].as_str())
            .unwrap();
        let mut data = Sha256::digest(rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend_from_slice(&self.counter.to_be_bytes());
        data
    }
}

fn client_data(kind: &str, public_key: &Value, origin: &str) -> Vec<u8> {
    json!({
        "type": kind,
        "challenge": public_key["challenge"],
        "origin": origin,
        "crossOrigin": false,
    })
    .to_string()
    .into_bytes()
}
