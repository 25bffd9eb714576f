//! Bad input to the admin API: every refusal is in Kratos' envelope and stores nothing.

use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_error, spawn};

async fn post_raw(
    app: &TestApp,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    app.http
        .post(format!("{}/admin/identities", app.admin))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn assert_nothing_stored(app: &TestApp) {
    let list: Vec<Value> = app.get("/admin/identities").await.json().await.unwrap();
    assert!(list.is_empty(), "{list:?}");
}

#[tokio::test]
async fn malformed_json_bodies_are_400() {
    let app = spawn().await;
    let bodies = [
        r#"{"schema_id": "default", "traits": {"email": "a@example.com""#, // truncated
        r#"[{"schema_id": "default", "traits": {}}]"#,                     // top-level array
        r#"{"schema_id": "default"}"#,                                     // no traits
        r#"{"schema_id": "default", "traits": {}, "state": "asleep"}"#,    // unknown state
        "",
    ];
    for body in bodies {
        let error = expect_error(post_raw(&app, "application/json", body).await, 400).await;
        assert_eq!(error["status"], "Bad Request");
        assert!(
            error["reason"].as_str().is_some_and(|r| r.contains("JSON")),
            "{body}: {error}"
        );
    }
    assert_nothing_stored(&app).await;
}

#[tokio::test]
async fn unknown_fields_in_the_body_are_400_naming_the_field() {
    let app = spawn().await;
    let res = app
        .create_identity(
            json!({"schema_id": "default", "traits": {"email": "a@example.com"}, "password": "x"}),
        )
        .await;
    let error = expect_error(res, 400).await;
    assert!(
        error["reason"].as_str().unwrap().contains("password"),
        "{error}"
    );
    assert_nothing_stored(&app).await;
}

#[tokio::test]
async fn traits_that_are_not_an_object_are_400() {
    let app = spawn().await;
    let res = app
        .create_identity(json!({"schema_id": "default", "traits": "a@example.com"}))
        .await;
    let error = expect_error(res, 400).await;
    assert_eq!(error["details"]["messages"][0]["instance_ptr"], "#/traits");
    assert_nothing_stored(&app).await;
}

#[tokio::test]
async fn traits_breaking_the_schema_get_one_message_per_field() {
    let app = spawn().await;
    let res = app.create_identity(json!({"schema_id": "default", "traits": {"email": "not-an-email", "name": {"first": 7}}})).await;
    let error = expect_error(res, 400).await;
    assert!(
        error["message"].as_str().unwrap().contains("validation"),
        "{error}"
    );
    let messages = error["details"]["messages"].as_array().unwrap();
    let pointers: Vec<&str> = messages
        .iter()
        .map(|m| m["instance_ptr"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(pointers.contains(&"#/traits/email"), "{pointers:?}");
    assert!(pointers.contains(&"#/traits/name/first"), "{pointers:?}");
    assert!(
        messages
            .iter()
            .all(|m| m["message"].as_str().is_some_and(|t| !t.is_empty()))
    );

    let res = app
        .create_identity(
            json!({"schema_id": "default", "traits": {"name": {"first": "A"}, "nickname": "x"}}),
        )
        .await;
    let error = expect_error(res, 400).await;
    let messages = error["details"]["messages"].as_array().unwrap();
    assert!(
        messages.iter().all(|m| m["instance_ptr"] == "#/traits"),
        "{messages:?}"
    );
    let text: Vec<&str> = messages
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect();
    assert!(
        text.iter().any(|t| t.contains("email")),
        "missing email reported: {text:?}"
    );
    assert!(
        text.iter().any(|t| t.contains("nickname")),
        "extra trait reported: {text:?}"
    );
    assert_nothing_stored(&app).await;
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = spawn().await;
    let big = json!({"schema_id": "default", "traits": {"email": "a@example.com"}, "metadata_admin": "x".repeat(300 * 1024)});
    let error = expect_error(app.create_identity(big).await, 413).await;
    assert_eq!(error["status"], "Payload Too Large");
    assert_nothing_stored(&app).await;
}

#[tokio::test]
async fn a_wrong_content_type_is_415() {
    let app = spawn().await;
    let res = post_raw(
        &app,
        "text/plain",
        r#"{"schema_id": "default", "traits": {"email": "a@example.com"}}"#,
    )
    .await;
    expect_error(res, 415).await;
    assert_nothing_stored(&app).await;
}

#[tokio::test]
async fn unknown_routes_answer_404_in_the_kratos_envelope() {
    let app = spawn().await;
    for base in [&app.public, &app.admin] {
        let res = app.http.get(format!("{base}/nope")).send().await.unwrap();
        let error = expect_error(res, 404).await;
        assert_eq!(error["status"], "Not Found");
    }
    // The admin API is not on the public listener.
    expect_error(
        app.http
            .get(format!("{}/admin/identities", app.public))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
}
