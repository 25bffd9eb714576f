//! The admin keys API and rotation (ID-05, ID-10): a new key is published before it signs,
//! every token names the key that signed it, and old tokens verify while their key is published.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn};

const ID_SET: &str = "hydra.openid.id-token";

async fn admin(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = app.http.request(method, format!("{}{path}", app.admin));
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

async fn jwks_kids(app: &TestApp) -> Vec<String> {
    let jwks: Value = app
        .http
        .get(format!("{}/.well-known/jwks.json", app.public))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

/// A JWT access token from a client whose access tokens are JWTs; returns (header, token).
async fn signed_token(app: &TestApp) -> (Value, String) {
    let created: Value = app
        .create_client(
            json!({"grant_types": ["client_credentials"], "scope": "read",
            "access_token_strategy": "jwt"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let res: Value = app
        .http
        .post(format!("{}/oauth2/token", app.public))
        .basic_auth(
            created["client_id"].as_str().unwrap(),
            created["client_secret"].as_str(),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = res["access_token"]
        .as_str()
        .expect("a JWT access token")
        .to_string();
    let header = token.split('.').next().unwrap();
    (
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap(),
        token,
    )
}

async fn introspect_active(app: &TestApp, token: &str) -> bool {
    let res: Value = app
        .http
        .post(format!("{}/admin/oauth2/introspect", app.admin))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    res["active"] == true
}

/// ID-10: rotation publishes first, signs after `oauth2.keys.publish_ahead`; the old kid stays
/// published and its tokens still verify.
#[tokio::test]
async fn id_10_a_new_key_is_published_before_it_signs() {
    let app = spawn().await;
    let old_kid = jwks_kids(&app).await.remove(0);
    let (header, old_token) = signed_token(&app).await;
    assert_eq!(header["kid"], old_kid.as_str());

    let res = admin(
        &app,
        reqwest::Method::POST,
        &format!("/admin/keys/{ID_SET}"),
        Some(json!({"alg": "ES256", "use": "sig", "kid": "ignored"})),
    )
    .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let key = &created["keys"][0];
    let new_kid = key["kid"].as_str().unwrap().to_string();
    assert_eq!(
        (&key["kty"], &key["alg"], &key["use"]),
        (&json!("EC"), &json!("ES256"), &json!("sig"))
    );
    for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        assert!(key.get(private).is_none(), "{private} returned: {key}");
    }
    assert_eq!(
        jwks_kids(&app).await,
        [new_kid.clone(), old_kid.clone()],
        "published at once"
    );
    let (header, _) = signed_token(&app).await;
    assert_eq!(header["kid"], old_kid.as_str(), "not signing yet");

    app.clock.advance(std::time::Duration::from_secs(11 * 60));
    let (header, new_token) = signed_token(&app).await;
    assert_eq!(
        (&header["kid"], &header["alg"]),
        (&json!(new_kid), &json!("ES256"))
    );
    assert!(introspect_active(&app, &new_token).await);
    assert!(jwks_kids(&app).await.contains(&old_kid));
    let doc: Value = app
        .http
        .get(format!("{}/.well-known/openid-configuration", app.public))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["ES256", "RS256"])
    );

    assert!(
        introspect_active(&app, &old_token).await,
        "old tokens verify while published"
    );

    // The old key can go once its successor signs; its tokens then no longer verify.
    let res = admin(
        &app,
        reqwest::Method::DELETE,
        &format!("/admin/keys/{ID_SET}/{old_kid}"),
        None,
    )
    .await;
    assert_eq!(res.status(), 204);
    assert_eq!(jwks_kids(&app).await, std::slice::from_ref(&new_kid));
    assert!(!introspect_active(&app, &old_token).await);
}

#[tokio::test]
async fn the_keys_api_reads_creates_and_deletes_sets() {
    let app = spawn().await;
    let kid = jwks_kids(&app).await.remove(0);
    let set: Value = admin(
        &app,
        reqwest::Method::GET,
        &format!("/admin/keys/{ID_SET}"),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(set["keys"][0]["kid"], kid.as_str());
    assert!(set["keys"][0].get("d").is_none());
    let one = admin(
        &app,
        reqwest::Method::GET,
        &format!("/admin/keys/{ID_SET}/{kid}"),
        None,
    )
    .await;
    assert_eq!(one.status(), 200);
    assert_eq!(
        one.json::<Value>().await.unwrap()["keys"][0]["kid"],
        kid.as_str()
    );
    for path in [
        "/admin/keys/nosuch".to_string(),
        format!("/admin/keys/{ID_SET}/nosuch"),
    ] {
        let res = admin(&app, reqwest::Method::GET, &path, None).await;
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(res.json::<Value>().await.unwrap()["status_code"], 404);
    }

    for body in [
        json!({"alg": "HS256", "use": "sig"}),
        json!({"alg": "RS256", "use": "enc"}),
        json!({"alg": "RS256"}),
    ] {
        let res = admin(
            &app,
            reqwest::Method::POST,
            "/admin/keys/custom",
            Some(body.clone()),
        )
        .await;
        assert_eq!(res.status(), 400, "{body}");
    }
    let res = admin(
        &app,
        reqwest::Method::POST,
        "/admin/keys/custom",
        Some(json!({"alg": "EdDSA", "use": "sig"})),
    )
    .await;
    assert_eq!(res.status(), 201);
    let key: Value = res.json::<Value>().await.unwrap()["keys"][0].clone();
    assert_eq!(
        (&key["kty"], &key["crv"]),
        (&json!("OKP"), &json!("Ed25519"))
    );
    assert!(
        !jwks_kids(&app)
            .await
            .contains(&key["kid"].as_str().unwrap().to_string()),
        "other sets are not in the public JWKS"
    );
    let res = admin(
        &app,
        reqwest::Method::PUT,
        &format!("/admin/keys/custom/{}", key["kid"].as_str().unwrap()),
        Some(key.clone()),
    )
    .await;
    assert_eq!(res.status(), 400, "import is refused");

    // The reserved set keeps its signing key and cannot be deleted.
    let res = admin(
        &app,
        reqwest::Method::DELETE,
        &format!("/admin/keys/{ID_SET}/{kid}"),
        None,
    )
    .await;
    assert_eq!(res.status(), 409);
    let res = admin(
        &app,
        reqwest::Method::DELETE,
        &format!("/admin/keys/{ID_SET}"),
        None,
    )
    .await;
    assert_eq!(res.status(), 409);
    assert_eq!(jwks_kids(&app).await, [kid]);

    assert_eq!(
        admin(&app, reqwest::Method::DELETE, "/admin/keys/custom", None)
            .await
            .status(),
        204
    );
    assert_eq!(
        admin(&app, reqwest::Method::GET, "/admin/keys/custom", None)
            .await
            .status(),
        404
    );
    assert_eq!(
        admin(&app, reqwest::Method::DELETE, "/admin/keys/custom", None)
            .await
            .status(),
        404
    );
}
