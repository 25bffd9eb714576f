//! `PUT /admin/identities/{id}`: a whole new identity, its password kept or replaced.

use serde_json::{Value, json};

use super::{id_of, try_login};
use crate::browser::{PASSWORD, browser_app};
use crate::helpers::expect_error;

#[tokio::test]
async fn put_replaces_the_identity_and_keeps_its_password() {
    let app = browser_app().await;
    let ada = app.create_person_with_password("ada@example.com").await;
    let id = id_of(&ada);
    let res = app
        .put_identity(
            &id,
            json!({"schema_id": "default", "state": "active",
                "traits": {"email": " Ada.L@Example.com ", "name": {"first": "Ada", "last": "King"}},
                "metadata_public": {"plan": "pro"}, "metadata_admin": {"note": "vip"},
                "external_id": "crm-42"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["id"], id.as_str());
    assert_eq!(updated["traits"]["email"], "Ada.L@Example.com", "trimmed");
    assert_eq!(updated["metadata_public"], json!({"plan": "pro"}));
    assert_eq!(updated["metadata_admin"], json!({"note": "vip"}));
    assert_eq!(updated["external_id"], "crm-42");
    assert_eq!(updated["created_at"], ada["created_at"]);
    assert_ne!(updated["updated_at"], ada["updated_at"]);
    assert_eq!(updated["state_changed_at"], ada["state_changed_at"]);
    assert_eq!(
        updated["verifiable_addresses"][0]["value"],
        "ada.l@example.com"
    );
    assert_eq!(
        app.identity(&id).await,
        updated,
        "GET shows what PUT answered"
    );

    // The password stays; the identifier follows the traits.
    assert_eq!(
        try_login(&app, "ada@example.com", PASSWORD).await.status(),
        400
    );
    let res = try_login(&app, "ada.l@example.com", PASSWORD).await;
    assert_eq!(res.status(), 200);
    let session: Value = res.json().await.unwrap();
    let seen = &session["session"]["identity"];
    assert_eq!(seen["metadata_public"], json!({"plan": "pro"}));
    assert!(
        seen.get("metadata_admin").is_none(),
        "admin metadata never reaches the identity: {seen}"
    );

    // PUT is a full replacement: what is left out is cleared (as in Kratos).
    let res = app
        .put_identity(
            &id,
            json!({"schema_id": "default", "traits": {"email": "ada.l@example.com"}}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let cleared: Value = res.json().await.unwrap();
    assert_eq!(cleared["metadata_public"], Value::Null);
    assert!(cleared.get("metadata_admin").is_none());
    assert!(cleared.get("external_id").is_none());
    assert_eq!(cleared["state"], "active", "absent state is kept");
}

#[tokio::test]
async fn put_with_a_password_replaces_it() {
    let app = browser_app().await;
    let id = id_of(&app.create_person_with_password("ada@example.com").await);
    let body = |password: &str| {
        json!({"schema_id": "default", "traits": {"email": "ada@example.com"},
            "credentials": {"password": {"config": {"password": password}}}})
    };
    let res = app.put_identity(&id, body("short")).await;
    assert!(
        expect_error(res, 400).await["reason"]
            .as_str()
            .unwrap()
            .contains("credentials.password.config.password"),
    );
    let res = app.put_identity(&id, body("a brand new passphrase")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        try_login(&app, "ada@example.com", PASSWORD).await.status(),
        400
    );
    assert_eq!(
        try_login(&app, "ada@example.com", "a brand new passphrase")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn put_refuses_bad_input() {
    let app = browser_app().await;
    let id = id_of(&app.create_person("ada@example.com").await);
    app.create_person("bob@example.com").await;
    let url = format!("{}/admin/identities/{id}", app.admin);
    let raw = |body: &'static [u8], content_type: &'static str| {
        app.http
            .put(&url)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    for (body, code) in [
        (&b"{\"schema_id\":"[..], 400),
        (b"[]", 400),
        (b"{\"schema_id\":\"default\",\"traits\":\"str\"}", 400),
        (b"{\"schema_id\":1,\"traits\":{}}", 400),
        (
            b"{\"schema_id\":\"default\",\"traits\":{},\"state\":\"gone\"}",
            400,
        ),
        (
            b"{\"schema_id\":\"default\",\"traits\":{},\"id\":\"x\"}",
            400,
        ),
        (
            b"{\"schema_id\":\"nope\",\"traits\":{\"email\":\"a@b.c\"}}",
            400,
        ),
        (
            b"{\"schema_id\":\"default\",\"traits\":{\"email\":\"not an email\"}}",
            400,
        ),
        // BI-06: raw 0xFF bytes are not UTF-8.
        (
            b"{\"schema_id\":\"default\",\"traits\":{\"email\":\"\xff@x.test\"}}",
            400,
        ),
        (
            b"{\"schema_id\":\"default\",\"traits\":{\"email\":\"bob@example.com\"}}",
            409,
        ),
    ] {
        let res = raw(body, "application/json").await.unwrap();
        let text = String::from_utf8_lossy(body).into_owned();
        let error = expect_error(res, code).await;
        assert!(!error.to_string().contains("diesel"), "{text}: {error}");
    }
    let res = raw(b"schema_id=default", "application/x-www-form-urlencoded")
        .await
        .unwrap();
    expect_error(res, 415).await;
    // BI-01: a body over serve.request_limits.json_body_bytes.
    let big = json!({"schema_id": "default", "traits": {"email": "ada@example.com"},
        "metadata_admin": "x".repeat(300 * 1024)});
    expect_error(app.put_identity(&id, big).await, 413).await;
    let body = json!({"schema_id": "default", "traits": {"email": "ada@example.com"}});
    for unknown in [uuid::Uuid::now_v7().to_string(), "not-a-uuid".to_string()] {
        expect_error(app.put_identity(&unknown, body.clone()).await, 404).await;
    }
    assert_eq!(
        app.identity(&id).await["traits"]["email"],
        "ada@example.com",
        "nothing changed"
    );
}
