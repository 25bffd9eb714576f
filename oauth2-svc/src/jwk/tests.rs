use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, Utc};
use hmac::{Hmac, Mac};
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jwk::{Jwk, KeyPair};
use josekit::jws::RS256;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::*;

fn key(state: KeyState, active_from: DateTime<Utc>) -> Key {
    let pair = RsaKeyPair::generate(key::RSA_BITS).unwrap();
    let der = pair.to_der_private_key();
    let kid = Alg::Rs256.public_jwk(&der).unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_string();
    let at = Placement {
        set_id: ID_TOKEN_SET,
        seq: 0,
        state,
        active_from,
    };
    Key::from_der(at, &kid, Alg::Rs256, &der).unwrap()
}

fn new_ring() -> KeyRing {
    KeyRing::new(vec![key(
        KeyState::Active,
        Utc::now() - Duration::minutes(1),
    )])
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

fn parts(token: &str) -> Vec<String> {
    token.split('.').map(str::to_string).collect()
}

/// The thumbprint computed another way: serde_json over a sorted map, as RFC 7638 §3 describes.
fn thumbprint_of(jwk: &Value) -> String {
    let members: BTreeMap<&str, &Value> = ["e", "kty", "n"]
        .into_iter()
        .map(|m| (m, &jwk[m]))
        .collect();
    URL_SAFE_NO_PAD.encode(Sha256::digest(serde_json::to_vec(&members).unwrap()))
}

#[test]
fn rfc_7638_example_thumbprint() {
    let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    assert_eq!(
        rsa_thumbprint("AQAB", n),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

#[test]
fn at_hash_matches_the_oidc_core_example() {
    // OpenID Connect Core 1.0, Appendix A.3 (RS256).
    assert_eq!(
        at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
        "77QmUPtjPfzWtF2AnpK9RQ"
    );
}

#[test]
fn jwks_has_public_members_only_and_thumbprint_kids() {
    let jwks = new_ring().jwks();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let jwk = &keys[0];
    assert_eq!(
        (&jwk["kty"], &jwk["alg"], &jwk["use"]),
        (&json!("RSA"), &json!("RS256"), &json!("sig"))
    );
    assert_eq!(jwk["kid"], thumbprint_of(jwk));
    for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        assert!(jwk.get(private).is_none(), "{private} in {jwk}");
    }
}

#[test]
fn signs_and_verifies_and_the_jwks_key_verifies_too() {
    let ring = new_ring();
    let claims =
        json!({"iss": "https://x", "sub": "s", "aud": ["c"], "exp": 2_000_000_000, "nonce": "n"});
    let token = ring.sign_jwt(&claims).unwrap();
    assert_eq!(ring.verify_jwt(&token).unwrap(), claims);

    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts(&token)[0]).unwrap()).unwrap();
    let jwk = ring.jwks()["keys"][0].clone();
    assert_eq!(
        header,
        json!({"alg": "RS256", "kid": jwk["kid"], "typ": "JWT"})
    );

    // An independent path: josekit's own JWT decoding with a verifier made from the JWKS entry.
    let verifier = RS256
        .verifier_from_jwk(&Jwk::from_map(jwk.as_object().unwrap().clone()).unwrap())
        .unwrap();
    let (payload, _) = josekit::jwt::decode_with_verifier(&token, &verifier).unwrap();
    assert_eq!(payload.subject(), Some("s"));
    assert_eq!(payload.claim("nonce"), Some(&json!("n")));
}

#[test]
fn rejects_tokens_not_made_by_our_keys() {
    let ring = new_ring();
    let ours = ring.sign_jwt(&json!({"sub": "s"})).unwrap();
    let kid = ring.jwks()["keys"][0]["kid"].as_str().unwrap().to_string();
    let [header, claims, signature] = <[String; 3]>::try_from(parts(&ours)).unwrap();

    // Another key: its own kid is unknown here; with our kid its signature fails.
    let other = new_ring();
    let foreign = other.sign_jwt(&json!({"sub": "s"})).unwrap();
    assert!(ring.verify_jwt(&foreign).is_err());
    let p = parts(&foreign);
    assert!(
        ring.verify_jwt(&format!("{header}.{}.{}", p[1], p[2]))
            .is_err()
    );

    // alg none, with and without a signature.
    let none = b64(&json!({"alg": "none", "kid": kid, "typ": "JWT"}));
    assert!(ring.verify_jwt(&format!("{none}.{claims}.")).is_err());
    assert!(
        ring.verify_jwt(&format!("{none}.{claims}.{signature}"))
            .is_err()
    );

    // HS256 keyed with our public key (the algorithm-confusion attack).
    let hs = b64(&json!({"alg": "HS256", "kid": kid, "typ": "JWT"}));
    let public = serde_json::to_vec(&ring.jwks()["keys"][0]).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&public).unwrap();
    mac.update(format!("{hs}.{claims}").as_bytes());
    let mac = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    assert!(ring.verify_jwt(&format!("{hs}.{claims}.{mac}")).is_err());

    // Tampered claims, a missing kid, critical headers, and not a compact JWS at all.
    let tampered = b64(&json!({"sub": "admin"}));
    assert!(
        ring.verify_jwt(&format!("{header}.{tampered}.{signature}"))
            .is_err()
    );
    let no_kid = b64(&json!({"alg": "RS256", "typ": "JWT"}));
    assert!(
        ring.verify_jwt(&format!("{no_kid}.{claims}.{signature}"))
            .is_err()
    );
    let crit = b64(&json!({"alg": "RS256", "kid": kid, "crit": ["exp"], "exp": 1}));
    assert!(
        ring.verify_jwt(&format!("{crit}.{claims}.{signature}"))
            .is_err()
    );
    assert!(ring.verify_jwt(&format!("{ours}.x")).is_err());
    assert!(ring.verify_jwt("").is_err());
    assert!(ring.verify_jwt(&ours).is_ok());
}

#[test]
fn claims_must_be_an_object() {
    assert!(new_ring().sign_jwt(&json!(["sub"])).is_err());
}

#[test]
fn the_newest_due_active_key_signs_and_every_key_is_published() {
    let now = Utc::now();
    let retired = key(KeyState::Retired, now - Duration::hours(2));
    let current = key(KeyState::Active, now - Duration::hours(1));
    let next = key(KeyState::Active, now + Duration::hours(1));
    let kids = [&retired.kid, &current.kid, &next.kid].map(|k| k.clone());
    let ring = KeyRing::new(vec![retired, current, next]);

    let token = ring.sign_jwt(&json!({})).unwrap();
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts(&token)[0]).unwrap()).unwrap();
    assert_eq!(
        header["kid"], kids[1],
        "the next key is published before it signs"
    );

    let jwks = ring.jwks();
    let published: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(
        published,
        [&kids[2], &kids[1], &kids[0]].map(String::as_str)
    );
}

#[test]
fn a_ring_without_a_due_key_does_not_sign() {
    let ring = KeyRing::new(vec![key(KeyState::Retired, Utc::now())]);
    assert!(ring.sign_jwt(&json!({})).is_err());
    assert_eq!(ring.jwks()["keys"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_second_bootstrap_row_for_a_set_is_ignored() {
    use service_kit::db::testdb::TestDatabase;
    use service_kit::db::{Backend, DatabaseSettings, Db, DbError, Dsn, migrate};
    use service_kit::settings::{Secret, SecretList};

    let versions = crate::db::MIGRATIONS.versions(Backend::Postgres);
    let settings = DatabaseSettings::default();
    let test_db = TestDatabase::fresh("oauth2", &versions, |dsn| {
        migrate::migrate_now(&Dsn::parse(dsn)?, &settings, &crate::db::MIGRATIONS).map(|_| ())
    })
    .unwrap();
    let dsn = Dsn::parse(&test_db.dsn).unwrap();
    migrate::migrate_now(&dsn, &settings, &crate::db::MIGRATIONS).unwrap();
    let db = Db::connect(&dsn, &settings).unwrap();

    let cipher = service_kit::cipher::KeyCipher::new(
        &SecretList::new([Secret::new("s".repeat(32))]),
        super::CIPHER_SALT,
    );
    let now = service_kit::db::now();
    let first = super::load::new_key_row(&cipher, ID_TOKEN_SET, 0, Alg::Rs256, now).unwrap();
    let second = super::load::new_key_row(&cipher, ID_TOKEN_SET, 0, Alg::Rs256, now).unwrap();
    let kid = first.kid.clone();
    for (row, expected) in [(first, 1), (second, 0)] {
        let inserted = db
            .write(move |c| super::store::insert_if_absent(c, row).map_err(DbError::from))
            .await
            .unwrap();
        assert_eq!(inserted, expected);
    }
    let rows = db
        .read(|c| super::store::list(c, ID_TOKEN_SET).map_err(DbError::from))
        .await
        .unwrap();
    assert_eq!(
        rows.iter().map(|r| r.kid.as_str()).collect::<Vec<_>>(),
        [kid.as_str()]
    );
}
