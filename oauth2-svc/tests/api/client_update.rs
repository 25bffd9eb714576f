//! Changing clients: `PUT` (replace), `PATCH` (RFC 6902), `PUT …/lifespans`, secret rotation
//! (CA-01, CA-10) and per-client token lifespans.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn};

/// A confidential client_credentials client; returns (client_id, secret).
async fn machine_client(app: &TestApp) -> (String, String) {
    let res = app
        .create_client(
            json!({"client_name": "Machine", "grant_types": ["client_credentials"],
            "scope": "read write", "metadata": {"team": "a"}}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    (
        body["client_id"].as_str().unwrap().into(),
        body["client_secret"].as_str().unwrap().into(),
    )
}

async fn token(app: &TestApp, id: &str, secret: &str) -> reqwest::Response {
    app.http
        .post(format!("{}/oauth2/token", app.public))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "read")])
        .send()
        .await
        .unwrap()
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> reqwest::Response {
    app.http
        .request(method, format!("{}{path}", app.admin))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn get_client(app: &TestApp, id: &str) -> Value {
    app.http
        .get(format!("{}/admin/clients/{id}", app.admin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// CA-10: a replace without a secret keeps it and shows none; one with a secret rotates it,
/// shows it once, and the old one stops working (CA-01).
#[tokio::test]
async fn ca_10_put_replaces_the_client_and_rotates_the_secret_only_when_given() {
    let app = spawn().await;
    let (id, secret) = machine_client(&app).await;
    let mut doc = get_client(&app, &id).await;
    doc["client_name"] = json!("Renamed");
    let res = send(
        &app,
        reqwest::Method::PUT,
        &format!("/admin/clients/{id}"),
        doc.clone(),
    )
    .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["client_name"], "Renamed");
    assert!(body.get("client_secret").is_none(), "{body}");
    assert_eq!(get_client(&app, &id).await["client_name"], "Renamed");
    assert_eq!(token(&app, &id, &secret).await.status(), 200);

    let new_secret = "a-brand-new-secret-of-at-least-32-characters";
    doc["client_secret"] = json!(new_secret);
    let res = send(
        &app,
        reqwest::Method::PUT,
        &format!("/admin/clients/{id}"),
        doc,
    )
    .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["client_secret"], new_secret);
    assert!(get_client(&app, &id).await.get("client_secret").is_none());
    let old = token(&app, &id, &secret).await;
    assert_eq!(old.status(), 401);
    assert_eq!(
        old.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    assert_eq!(token(&app, &id, new_secret).await.status(), 200);
}

#[tokio::test]
async fn put_rejects_another_client_id_bad_metadata_and_unknown_clients() {
    let app = spawn().await;
    let (id, _) = machine_client(&app).await;
    let path = format!("/admin/clients/{id}");
    let res = send(
        &app,
        reqwest::Method::PUT,
        &path,
        json!({"client_id": "other"}),
    )
    .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    let res = send(
        &app,
        reqwest::Method::PUT,
        &path,
        json!({"redirect_uris": ["https://a.test/cb#x"]}),
    )
    .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_redirect_uri"
    );
    let res = send(
        &app,
        reqwest::Method::PUT,
        &path,
        json!({"client_secret": "short"}),
    )
    .await;
    assert_eq!(res.status(), 400);
    let res = send(
        &app,
        reqwest::Method::PUT,
        "/admin/clients/nosuch",
        json!({}),
    )
    .await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        get_client(&app, &id).await["client_name"],
        "Machine",
        "nothing changed"
    );
}

/// RFC 6902 on the client document; client_id and created_at cannot change; a patched secret
/// rotates it (CA-01).
#[tokio::test]
async fn patch_applies_json_patch_and_protects_immutable_fields() {
    let app = spawn().await;
    let (id, secret) = machine_client(&app).await;
    let path = format!("/admin/clients/{id}");
    let created_at = get_client(&app, &id).await["created_at"].clone();
    let ops = json!([
        {"op": "replace", "path": "/client_name", "value": "Patched"},
        {"op": "add", "path": "/contacts/-", "value": "ops@example.com"},
        {"op": "remove", "path": "/metadata/team"},
        {"op": "test", "path": "/scope", "value": "read write"}
    ]);
    let res = send(&app, reqwest::Method::PATCH, &path, ops).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["client_name"], "Patched");
    assert_eq!(body["contacts"], json!(["ops@example.com"]));
    assert_eq!(body["metadata"], json!({}));
    assert_eq!(body["created_at"], created_at);
    assert!(body.get("client_secret").is_none());
    assert_eq!(token(&app, &id, &secret).await.status(), 200, "secret kept");

    for bad in [
        json!([{"op": "replace", "path": "/client_id", "value": "x"}]),
        json!([{"op": "replace", "path": "/created_at", "value": "2020-01-01T00:00:00Z"}]),
        json!([{"op": "move", "from": "/client_id", "path": "/owner"}]),
        json!([{"op": "frobnicate", "path": "/client_name"}]),
        json!([{"op": "replace", "path": "/nosuch/x", "value": 1}]),
        json!([{"op": "test", "path": "/client_name", "value": "other"}]),
        json!([{"op": "replace", "path": "/grant_types", "value": ["password"]}]),
        json!({"op": "replace"}),
    ] {
        let res = send(&app, reqwest::Method::PATCH, &path, bad.clone()).await;
        assert_eq!(res.status(), 400, "{bad}");
        let err: Value = res.json().await.unwrap();
        assert!(
            err["error"].is_string() && err["status_code"] == 400,
            "{err}"
        );
    }
    assert_eq!(get_client(&app, &id).await["client_name"], "Patched");
    let res = send(
        &app,
        reqwest::Method::PATCH,
        "/admin/clients/nosuch",
        json!([]),
    )
    .await;
    assert_eq!(res.status(), 404);

    let new_secret = "patched-secret-patched-secret-patched-secret";
    let rotate = json!([{"op": "add", "path": "/client_secret", "value": new_secret}]);
    let body: Value = send(&app, reqwest::Method::PATCH, &path, rotate)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["client_secret"], new_secret);
    assert_eq!(token(&app, &id, &secret).await.status(), 401);
    assert_eq!(token(&app, &id, new_secret).await.status(), 200);
}

/// Hydra's per-grant lifespans: stored on the client in Go's form, applied to `expires_in`,
/// cleared with null; bad durations are 400.
#[tokio::test]
async fn lifespans_change_the_token_expires_in() {
    let app = spawn().await;
    let (id, secret) = machine_client(&app).await;
    let path = format!("/admin/clients/{id}/lifespans");
    let before: Value = token(&app, &id, &secret).await.json().await.unwrap();
    assert_eq!(before["expires_in"], 3600);

    let body = json!({"client_credentials_grant_access_token_lifespan": "2m",
        "authorization_code_grant_id_token_lifespan": "1.5h"});
    let res = send(&app, reqwest::Method::PUT, &path, body).await;
    assert_eq!(res.status(), 200);
    let client: Value = res.json().await.unwrap();
    assert_eq!(
        client["client_credentials_grant_access_token_lifespan"],
        "2m0s"
    );
    assert_eq!(
        client["authorization_code_grant_id_token_lifespan"],
        "1h30m0s"
    );
    assert_eq!(client["client_name"], "Machine");
    assert_eq!(
        get_client(&app, &id).await["client_credentials_grant_access_token_lifespan"],
        "2m0s"
    );
    let after: Value = token(&app, &id, &secret).await.json().await.unwrap();
    assert_eq!(after["expires_in"], 120);

    for bad in ["soon", "0s", "-1h", "1d"] {
        let body = json!({"client_credentials_grant_access_token_lifespan": bad});
        let res = send(&app, reqwest::Method::PUT, &path, body).await;
        assert_eq!(res.status(), 400, "{bad}");
    }
    let res = send(
        &app,
        reqwest::Method::PUT,
        "/admin/clients/nosuch/lifespans",
        json!({}),
    )
    .await;
    assert_eq!(res.status(), 404);

    let cleared = json!({"client_credentials_grant_access_token_lifespan": null});
    assert_eq!(
        send(&app, reqwest::Method::PUT, &path, cleared)
            .await
            .status(),
        200
    );
    let reset: Value = token(&app, &id, &secret).await.json().await.unwrap();
    assert_eq!(reset["expires_in"], 3600);
}
