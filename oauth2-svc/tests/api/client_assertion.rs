//! `private_key_jwt` at the token endpoint (CA-03, CA-07, CA-09).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::KeyPair;
use josekit::jwk::alg::ec::{EcCurve, EcKeyPair};
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jws::{ES256, JwsSigner, RS256};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const ID: &str = "c3";

fn sign(header: Value, claims: &Value, signer: &dyn JwsSigner) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = signer.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

struct Setup {
    app: TestApp,
    rsa: Box<dyn JwsSigner>,
    ec: Box<dyn JwsSigner>,
    /// C3's registered RSA public key, as JWK JSON and as PEM (for algorithm confusion).
    rsa_public: (String, Vec<u8>),
}

/// C3: a `private_key_jwt` client with one RSA and one EC key registered.
async fn setup() -> Setup {
    let app = spawn().await;
    let rsa = RsaKeyPair::generate(2048).unwrap();
    let ec = EcKeyPair::generate(EcCurve::P256).unwrap();
    let mut rsa_public = rsa.to_jwk_public_key();
    rsa_public.set_key_id("rsa-1");
    let mut ec_public = ec.to_jwk_public_key();
    ec_public.set_key_id("ec-1");
    let res = app
        .create_client(
            json!({"client_id": ID, "grant_types": ["client_credentials"],
            "scope": "read", "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [rsa_public.as_ref(), ec_public.as_ref()]}}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert!(body.get("client_secret").is_none(), "no secret: {body}");
    Setup {
        rsa_public: (
            serde_json::to_string(rsa_public.as_ref()).unwrap(),
            rsa.to_pem_public_key(),
        ),
        rsa: Box::new(RS256.signer_from_der(rsa.to_der_private_key()).unwrap()),
        ec: Box::new(ES256.signer_from_der(ec.to_der_private_key()).unwrap()),
        app,
    }
}

fn claims(app: &TestApp, jti: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"iss": ID, "sub": ID, "aud": format!("{}/oauth2/token", app.public),
        "exp": now + 60, "iat": now, "jti": jti})
}

async fn token(app: &TestApp, assertion: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ];
    form.extend_from_slice(extra);
    app.http
        .post(format!("{}/oauth2/token", app.public))
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn assert_invalid_client(res: reqwest::Response) {
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
}

/// CA-07: a valid assertion is accepted once; the same jti again is refused.
#[tokio::test]
async fn ca_07_private_key_jwt_succeeds_once_per_jti() {
    let s = setup().await;
    let jwt = sign(
        json!({"alg": "RS256", "kid": "rsa-1"}),
        &claims(&s.app, "j-1"),
        &*s.rsa,
    );
    let res = token(&s.app, &jwt, &[]).await;
    assert_eq!(res.status(), 200);
    assert!(res.json::<Value>().await.unwrap()["access_token"].is_string());
    assert_invalid_client(token(&s.app, &jwt, &[]).await).await;

    // ES256, with client_id in the body and the issuer as audience.
    let mut es = claims(&s.app, "j-2");
    es["aud"] = json!(s.app.public);
    let jwt = sign(json!({"alg": "ES256", "kid": "ec-1"}), &es, &*s.ec);
    assert_eq!(
        token(&s.app, &jwt, &[("client_id", ID)]).await.status(),
        200
    );
}

/// CA-09: another key, a forged alg, an expired or far-future exp, a wrong aud or issuer.
#[tokio::test]
async fn ca_09_bad_assertions_are_invalid_client() {
    let s = setup().await;
    let other = RsaKeyPair::generate(2048).unwrap();
    let other = RS256.signer_from_der(other.to_der_private_key()).unwrap();
    let app = &s.app;
    let rs = json!({"alg": "RS256", "kid": "rsa-1"});
    assert_invalid_client(token(app, &sign(rs.clone(), &claims(app, "a"), &other), &[]).await)
        .await;
    let jku = json!({"alg": "RS256", "jku": "https://evil.test/jwks.json"});
    assert_invalid_client(token(app, &sign(jku, &claims(app, "b"), &other), &[]).await).await;
    let now = chrono::Utc::now().timestamp();
    for (name, value) in [
        ("exp", json!(now - 10)),
        ("exp", json!(now + 7200)),
        ("aud", json!("https://other.test/oauth2/token")),
        ("iss", json!("c4")),
        ("jti", Value::Null),
    ] {
        let mut c = claims(app, &format!("bad-{name}-{value}"));
        c[name] = value.clone();
        if value.is_null() {
            c.as_object_mut().unwrap().remove(name);
        }
        let res = token(app, &sign(rs.clone(), &c, &*s.rsa), &[]).await;
        assert_eq!(res.status(), 401, "{name} = {value}");
    }
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none"}).to_string()),
        URL_SAFE_NO_PAD.encode(claims(app, "n").to_string())
    );
    assert_invalid_client(token(app, &none, &[]).await).await;
    let wrong_type = sign(rs.clone(), &claims(app, "t"), &*s.rsa);
    let res = app
        .http
        .post(format!("{}/oauth2/token", app.public))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "x"),
            ("client_assertion", wrong_type.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_invalid_client(res).await;
    // The valid assertion still works afterwards: nothing above spent its jti.
    let good = sign(rs, &claims(app, "t"), &*s.rsa);
    assert_eq!(token(app, &good, &[]).await.status(), 200);
}

/// CA-09: HS256 keyed with C3's public key (JWK or PEM), the `kid` of C4's key signed by C4,
/// flipped signature bytes, and `jku`/`x5u` headers naming the attacker's key set are all
/// `invalid_client`; nothing is fetched from `jku`/`x5u`, and none of it spends the `jti`.
#[tokio::test]
async fn ca_09_forged_signatures_are_invalid_client_and_nothing_is_fetched() {
    let s = setup().await;
    let app = &s.app;
    let evil = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let evil_url = format!("http://{}/jwks.json", evil.local_addr().unwrap());
    let fetched = tokio::spawn(async move { evil.accept().await.is_ok() });
    let c4 = RsaKeyPair::generate(2048).unwrap();
    let mut c4_public = c4.to_jwk_public_key();
    c4_public.set_key_id("c4-key");
    let res = app
        .create_client(
            json!({"client_id": "c4", "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [c4_public.as_ref()]}}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let c4 = RS256.signer_from_der(c4.to_der_private_key()).unwrap();
    let c = claims(app, "forged");
    let (jwk, pem) = &s.rsa_public;
    let mut forged = Vec::new();
    for key in [jwk.as_bytes(), pem.as_slice()] {
        let hs = josekit::jws::HS256.signer_from_bytes(key).unwrap();
        forged.push(sign(json!({"alg": "HS256", "kid": "rsa-1"}), &c, &hs));
    }
    forged.push(sign(json!({"alg": "RS256", "kid": "c4-key"}), &c, &c4));
    for header in ["jku", "x5u"] {
        let h = json!({"alg": "RS256", "kid": "c4-key", header: evil_url});
        forged.push(sign(h, &c, &c4));
    }
    let good = sign(json!({"alg": "RS256", "kid": "rsa-1"}), &c, &*s.rsa);
    let (input, signature) = good.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    bytes[0] ^= 0x01;
    forged.push(format!("{input}.{}", URL_SAFE_NO_PAD.encode(bytes)));
    for jwt in &forged {
        assert_invalid_client(token(app, jwt, &[]).await).await;
    }
    assert!(
        !fetched.is_finished(),
        "something connected to the jku/x5u host"
    );
    fetched.abort();
    assert_eq!(token(app, &good, &[]).await.status(), 200);
}

/// CA-03: a private_key_jwt client cannot use a secret; a secret client cannot use an assertion.
#[tokio::test]
async fn ca_03_the_registered_method_is_enforced() {
    let s = setup().await;
    let app = &s.app;
    let res = app
        .http
        .post(format!("{}/oauth2/token", app.public))
        .basic_auth(ID, Some("a-secret-a-secret-a-secret-a-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_invalid_client(res).await;
    let created: Value = app
        .create_client(json!({"client_id": "c1", "grant_types": ["client_credentials"]}))
        .await
        .json()
        .await
        .unwrap();
    assert!(created["client_secret"].is_string());
    let mut c = claims(app, "m");
    (c["iss"], c["sub"]) = (json!("c1"), json!("c1"));
    let jwt = sign(json!({"alg": "RS256", "kid": "rsa-1"}), &c, &*s.rsa);
    assert_invalid_client(token(app, &jwt, &[]).await).await;
}

#[tokio::test]
async fn private_key_jwt_clients_need_public_keys() {
    let app = spawn().await;
    for body in [
        json!({"token_endpoint_auth_method": "private_key_jwt"}),
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://rp.test/jwks"}),
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}),
        json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": []}}),
    ] {
        let res = app.create_client(body.clone()).await;
        assert_eq!(res.status(), 400, "{body}");
        assert_eq!(
            res.json::<Value>().await.unwrap()["error"],
            "invalid_client_metadata"
        );
    }
}
