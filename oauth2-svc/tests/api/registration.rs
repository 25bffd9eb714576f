//! Dynamic client registration (RFC 7591 / 7592) at `/oauth2/register`.

use serde_json::{Value, json};
use service_kit::settings::{Secret, SecretList};

use crate::helpers::{TestApp, fresh_database, spawn, spawn_on};

async fn dcr_app() -> TestApp {
    spawn_on(fresh_database(), |s| {
        s.oidc.dynamic_client_registration.enabled = true;
    })
    .await
}

async fn register(app: &TestApp, body: Value) -> reqwest::Response {
    app.http
        .post(format!("{}/oauth2/register", app.public))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn manage(
    app: &TestApp,
    method: reqwest::Method,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app.http.request(method, uri);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

fn machine_client() -> Value {
    json!({
        "client_id": "chosen-by-the-caller",
        "client_name": "Self-registered",
        "grant_types": ["client_credentials"],
        "scope": "openid email",
    })
}

async fn client_credentials(app: &TestApp, id: &str, secret: &str) -> reqwest::StatusCode {
    app.http
        .post(format!("{}/oauth2/token", app.public))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "email")])
        .send()
        .await
        .unwrap()
        .status()
}

async fn assert_invalid_token(response: reqwest::Response) {
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
}

#[tokio::test]
async fn dcr_is_off_by_default_and_not_advertised() {
    let app = spawn().await;
    let response = register(&app, machine_client()).await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "Not Found");
    let discovery: Value = app
        .http
        .get(format!("{}/.well-known/openid-configuration", app.public))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(discovery.get("registration_endpoint").is_none());
}

#[tokio::test]
async fn dcr_registers_a_client_that_its_token_manages() {
    let app = dcr_app().await;
    let discovery: Value = app
        .http
        .get(format!("{}/.well-known/openid-configuration", app.public))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        discovery["registration_endpoint"],
        format!("{}/oauth2/register", app.public)
    );

    let response = register(&app, machine_client()).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let created: Value = response.json().await.unwrap();
    let id = created["client_id"].as_str().unwrap().to_string();
    assert_ne!(id, "chosen-by-the-caller", "the server names the client");
    let secret = created["client_secret"].as_str().unwrap().to_string();
    let token = created["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let uri = created["registration_client_uri"].as_str().unwrap();
    assert_eq!(uri, format!("{}/oauth2/register/{id}", app.public));
    assert_eq!(client_credentials(&app, &id, &secret).await, 200);

    // Read back: neither the secret nor the token is shown again.
    let response = manage(&app, reqwest::Method::GET, uri, Some(&token), None).await;
    assert_eq!(response.status(), 200);
    let read: Value = response.json().await.unwrap();
    assert_eq!(read["client_name"], "Self-registered");
    assert_eq!(read["registration_client_uri"], uri);
    assert!(read.get("client_secret").is_none());
    assert!(read.get("registration_access_token").is_none());

    // Missing, wrong, another client's and an admin-made client's: all the same 401.
    assert_invalid_token(manage(&app, reqwest::Method::GET, uri, None, None).await).await;
    let wrong = format!("{token}x");
    assert_invalid_token(manage(&app, reqwest::Method::GET, uri, Some(&wrong), None).await).await;
    let other: Value = register(&app, json!({})).await.json().await.unwrap();
    let other_token = other["registration_access_token"].as_str().unwrap();
    assert_invalid_token(manage(&app, reqwest::Method::GET, uri, Some(other_token), None).await)
        .await;
    let admin_made = app.create_client(json!({"client_id": "admin-made"})).await;
    assert_eq!(admin_made.status(), 201);
    let admin_uri = format!("{}/oauth2/register/admin-made", app.public);
    assert_invalid_token(manage(&app, reqwest::Method::GET, &admin_uri, Some(&token), None).await)
        .await;
    let unknown = format!("{}/oauth2/register/no-such-client", app.public);
    assert_invalid_token(manage(&app, reqwest::Method::GET, &unknown, Some(&token), None).await)
        .await;
}

#[tokio::test]
async fn dcr_put_replaces_the_client_and_rotates_the_token() {
    let app = dcr_app().await;
    let created: Value = register(&app, machine_client()).await.json().await.unwrap();
    let id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    let token = created["registration_access_token"].as_str().unwrap();
    let uri = created["registration_client_uri"].as_str().unwrap();

    let chosen = json!({"client_id": id, "client_secret": "s".repeat(40), "grant_types": ["client_credentials"]});
    let response = manage(&app, reqwest::Method::PUT, uri, Some(token), Some(chosen)).await;
    assert_eq!(response.status(), 400, "a secret cannot be chosen");
    let renamed = json!({"client_id": "another", "grant_types": ["client_credentials"]});
    let response = manage(&app, reqwest::Method::PUT, uri, Some(token), Some(renamed)).await;
    assert_eq!(response.status(), 400, "the client id cannot change");

    // RFC 7592 §2.2: the current secret may be repeated in the body.
    let replacement = json!({
        "client_id": id,
        "client_secret": secret,
        "client_name": "Renamed",
        "grant_types": ["client_credentials"],
        "scope": "openid",
    });
    let response = manage(
        &app,
        reqwest::Method::PUT,
        uri,
        Some(token),
        Some(replacement),
    )
    .await;
    assert_eq!(response.status(), 200);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["client_name"], "Renamed");
    assert_eq!(updated["scope"], "openid");
    assert!(updated.get("client_secret").is_none(), "the secret stays");
    let new_token = updated["registration_access_token"].as_str().unwrap();
    assert_ne!(new_token, token);
    assert_invalid_token(manage(&app, reqwest::Method::GET, uri, Some(token), None).await).await;
    let response = manage(&app, reqwest::Method::GET, uri, Some(new_token), None).await;
    assert_eq!(response.status(), 200);
    // The secret still works, for the narrower scope only.
    let status = client_credentials(&app, id, secret).await;
    assert_eq!(status, 400, "email is no longer the client's");
    let response = app
        .http
        .post(format!("{}/oauth2/token", app.public))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // Delete: the token stops working and the client is gone.
    let response = manage(&app, reqwest::Method::DELETE, uri, Some(new_token), None).await;
    assert_eq!(response.status(), 204);
    assert_invalid_token(manage(&app, reqwest::Method::GET, uri, Some(new_token), None).await)
        .await;
    let admin = app
        .http
        .get(format!("{}/admin/clients/{id}", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 404);
}

#[tokio::test]
async fn dcr_refuses_what_only_an_operator_may_set() {
    let app = dcr_app().await;
    for (body, field) in [
        (json!({"client_secret": "s".repeat(40)}), "invalid_request"),
        (json!({"skip_consent": true}), "invalid_client_metadata"),
        (
            json!({"metadata": {"tier": "gold"}}),
            "invalid_client_metadata",
        ),
        (
            json!({"access_token_strategy": "jwt"}),
            "invalid_client_metadata",
        ),
        (
            json!({"audience": ["https://api.test"]}),
            "invalid_client_metadata",
        ),
        (json!({"scope": "openid admin"}), "invalid_client_metadata"),
        (
            json!({"authorization_code_grant_refresh_token_lifespan": "8760h"}),
            "invalid_client_metadata",
        ),
        (
            json!({"backchannel_logout_uri": "https://169.254.169.254/latest"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["javascript:alert(1)"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://rp.test/cb#frag"]}),
            "invalid_redirect_uri",
        ),
    ] {
        let response = register(&app, body.clone()).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"], field, "{body}");
    }
    // Bad bodies get the envelope too.
    let response = app
        .http
        .post(format!("{}/oauth2/register", app.public))
        .header("content-type", "application/json")
        .body("{\"client_name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let response = app
        .http
        .post(format!("{}/oauth2/register", app.public))
        .header("content-type", "application/json")
        .body(format!("{{\"client_name\": \"{}\"}}", "x".repeat(2 << 20)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let response = register(&app, json!({"redirect_uris": "not-a-list"})).await;
    assert_eq!(response.status(), 400);
    // Nothing of the refused registrations was stored.
    let clients: Value = app
        .http
        .get(format!("{}/admin/clients", app.admin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(clients, json!([]));
}

#[tokio::test]
async fn dcr_with_initial_access_tokens_needs_one() {
    let initial = "i".repeat(40);
    let configured = initial.clone();
    let app = spawn_on(fresh_database(), move |s| {
        let dcr = &mut s.oidc.dynamic_client_registration;
        dcr.enabled = true;
        dcr.initial_access_tokens =
            SecretList::new([Secret::new("o".repeat(40)), Secret::new(configured)]);
    })
    .await;
    let uri = format!("{}/oauth2/register", app.public);
    let body = Some(json!({"client_name": "gated"}));
    assert_invalid_token(manage(&app, reqwest::Method::POST, &uri, None, body.clone()).await).await;
    let wrong = "w".repeat(40);
    assert_invalid_token(
        manage(
            &app,
            reqwest::Method::POST,
            &uri,
            Some(&wrong),
            body.clone(),
        )
        .await,
    )
    .await;
    let response = manage(&app, reqwest::Method::POST, &uri, Some(&initial), body).await;
    assert_eq!(response.status(), 201);
}

/// RFC 7592 §2.2 asks a client to send back what it read: fields only an operator sets are not
/// shown to the registration and survive its PUT.
#[tokio::test]
async fn dcr_put_keeps_what_the_operator_set() {
    let app = dcr_app().await;
    let created: Value = register(&app, machine_client()).await.json().await.unwrap();
    let id = created["client_id"].as_str().unwrap();
    let token = created["registration_access_token"].as_str().unwrap();
    let uri = created["registration_client_uri"].as_str().unwrap();
    let patch = json!([
        {"op": "add", "path": "/audience", "value": ["https://api.test"]},
        {"op": "add", "path": "/metadata", "value": {"tier": "gold"}},
        {"op": "replace", "path": "/skip_consent", "value": true},
    ]);
    let res = app
        .http
        .patch(format!("{}/admin/clients/{id}", app.admin))
        .json(&patch)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let mut read: Value = manage(&app, reqwest::Method::GET, uri, Some(token), None)
        .await
        .json()
        .await
        .unwrap();
    for field in ["audience", "metadata", "skip_consent"] {
        assert!(
            read.get(field)
                .is_none_or(|v| v == &json!([]) || v == &json!(false)),
            "{field} is the operator's: {read}"
        );
    }
    read["client_name"] = json!("Renamed");
    for field in ["registration_client_uri", "created_at", "updated_at"] {
        read.as_object_mut().unwrap().remove(field);
    }
    let res = manage(&app, reqwest::Method::PUT, uri, Some(token), Some(read)).await;
    assert_eq!(res.status(), 200, "what was read can be sent back");
    let admin: Value = app
        .http
        .get(format!("{}/admin/clients/{id}", app.admin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(admin["client_name"], "Renamed");
    assert_eq!(admin["audience"], json!(["https://api.test"]));
    assert_eq!(admin["metadata"], json!({"tier": "gold"}));
    assert_eq!(admin["skip_consent"], true);
}
