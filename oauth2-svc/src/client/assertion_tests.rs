//! Unit tests of client assertions (CA-07 and CA-09 at the level of one assertion).

use josekit::jwk::alg::ec::{EcCurve, EcKeyPair};
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jws::JwsSigner;
use serde_json::json;

use super::*;

const TOKEN: &str = "https://auth.test/oauth2/token";
const NOW: i64 = 1_700_000_000;

fn audiences() -> Vec<String> {
    vec![TOKEN.into(), "https://auth.test".into()]
}

fn compact(header: Value, claims: Value, signer: Option<&dyn JwsSigner>) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = signer.map_or(vec![], |s| s.sign(input.as_bytes()).unwrap());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn claims() -> Value {
    json!({"iss": "c3", "sub": "c3", "aud": TOKEN, "exp": NOW + 60, "iat": NOW, "jti": "j-1"})
}

fn client_with(public: Value) -> OAuth2Client {
    OAuth2Client {
        token_endpoint_auth_method: Some("private_key_jwt".into()),
        jwks: Some(json!({"keys": [public]})),
        ..Default::default()
    }
}

fn rsa() -> (RsaKeyPair, Value) {
    let pair = RsaKeyPair::generate(2048).unwrap();
    let mut public = pair.to_jwk_public_key();
    public.set_key_id("k1");
    (pair, Value::Object(public.as_ref().clone()))
}

#[test]
fn accepts_rs256_and_es256_assertions() {
    let (pair, public) = rsa();
    let signer = RS256.signer_from_der(pair.to_der_private_key()).unwrap();
    let jwt = compact(
        json!({"alg": "RS256", "kid": "k1"}),
        claims(),
        Some(&signer),
    );
    let verified = verify(&jwt, "c3", &client_with(public), &audiences(), NOW).unwrap();
    assert_eq!(
        verified,
        Verified {
            jti: "j-1".into(),
            exp: NOW + 60
        }
    );

    let ec = EcKeyPair::generate(EcCurve::P256).unwrap();
    let public = Value::Object(ec.to_jwk_public_key().as_ref().clone());
    let signer = ES256.signer_from_der(ec.to_der_private_key()).unwrap();
    let mut aud_list = claims();
    aud_list["aud"] = json!(["https://auth.test"]);
    let jwt = compact(json!({"alg": "ES256"}), aud_list, Some(&signer));
    assert!(verify(&jwt, "c3", &client_with(public), &audiences(), NOW).is_ok());
}

/// CA-09: alg none, HS256 keyed with the public key, another key, flipped bytes, a jku header.
#[test]
fn rejects_forged_signatures() {
    let (pair, public) = rsa();
    let client = client_with(public.clone());
    let signer = RS256.signer_from_der(pair.to_der_private_key()).unwrap();
    let rejected = |jwt: &str| verify(jwt, "c3", &client, &audiences(), NOW).is_err();

    assert!(rejected(&compact(json!({"alg": "none"}), claims(), None)));
    let hs = josekit::jws::HS256
        .signer_from_bytes(public.to_string().as_bytes())
        .unwrap();
    assert!(rejected(&compact(
        json!({"alg": "HS256"}),
        claims(),
        Some(&hs)
    )));
    let (other, _) = rsa();
    let other = RS256.signer_from_der(other.to_der_private_key()).unwrap();
    assert!(rejected(&compact(
        json!({"alg": "RS256", "kid": "k1"}),
        claims(),
        Some(&other)
    )));
    let evil = json!({"alg": "RS256", "jku": "https://evil.test/jwks"});
    assert!(rejected(&compact(evil, claims(), Some(&other))));
    let good = compact(
        json!({"alg": "RS256", "kid": "k1"}),
        claims(),
        Some(&signer),
    );
    let mut flipped = good.clone().into_bytes();
    let last = flipped.len() - 5;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    assert!(rejected(&String::from_utf8(flipped).unwrap()));
    assert!(!rejected(&good));
}

#[test]
fn rejects_bad_claims() {
    let (pair, public) = rsa();
    let client = client_with(public);
    let signer = RS256.signer_from_der(pair.to_der_private_key()).unwrap();
    let with = |name: &str, value: Value| {
        let mut c = claims();
        match value {
            Value::Null => c.as_object_mut().unwrap().remove(name),
            v => c.as_object_mut().unwrap().insert(name.into(), v),
        };
        compact(json!({"alg": "RS256"}), c, Some(&signer))
    };
    for (name, value) in [
        ("aud", json!("https://auth.test/other")),
        ("iss", json!("c4")),
        ("sub", json!("c4")),
        ("exp", Value::Null),
        ("exp", json!(NOW - 1)),
        ("exp", json!(NOW + 3600)),
        ("jti", Value::Null),
        ("iat", json!(NOW + 3600)),
    ] {
        let jwt = with(name, value.clone());
        assert!(
            verify(&jwt, "c3", &client, &audiences(), NOW).is_err(),
            "{name} = {value}"
        );
    }
}

#[test]
fn registration_rules_for_keys() {
    let (_, public) = rsa();
    assert!(check_client_keys("private_key_jwt", &client_with(public.clone())).is_ok());
    let none = OAuth2Client::default();
    assert!(check_client_keys("private_key_jwt", &none).is_err());
    let uri = OAuth2Client {
        jwks_uri: Some("https://rp.test/jwks".into()),
        ..Default::default()
    };
    assert!(check_client_keys("private_key_jwt", &uri).is_err());
    let mut private = public;
    private["d"] = json!("AAAA");
    assert!(check_client_keys("private_key_jwt", &client_with(private)).is_err());
    let oct = json!({"kty": "oct", "k": "c2VjcmV0"});
    assert!(check_client_keys("private_key_jwt", &client_with(oct)).is_err());
}
