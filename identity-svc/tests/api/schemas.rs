//! `GET /schemas` and `GET /schemas/{id}`, and schemas configured from files and base64.

use base64::Engine;
use identity_svc::config::SchemaSource;
use serde_json::{Value, json};

use crate::helpers::{expect_error, fresh_database, spawn, spawn_on};

fn default_schema() -> Value {
    serde_json::from_str(include_str!("../../schemas/default.schema.json")).unwrap()
}

#[tokio::test]
async fn schemas_are_listed_on_both_listeners() {
    let app = spawn().await;
    for base in [&app.public, &app.admin] {
        let res = app
            .http
            .get(format!("{base}/schemas"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let list: Value = res.json().await.unwrap();
        assert_eq!(
            list,
            json!([{"id": "default", "schema": default_schema()}]),
            "{base}"
        );
    }
}

#[tokio::test]
async fn a_schema_is_served_by_id_or_base64url_id() {
    let app = spawn().await;
    for base in [&app.public, &app.admin] {
        for id in ["default", "ZGVmYXVsdA"] {
            let res = app
                .http
                .get(format!("{base}/schemas/{id}"))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "{base} {id}");
            assert_eq!(res.json::<Value>().await.unwrap(), default_schema());
        }
        let res = app
            .http
            .get(format!("{base}/schemas/unknown"))
            .send()
            .await
            .unwrap();
        expect_error(res, 404).await;
    }
}

#[tokio::test]
async fn an_identitys_schema_url_serves_its_schema() {
    let app = spawn().await;
    let identity = app.create_person("url@example.com").await;
    let res = app
        .http
        .get(identity["schema_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), default_schema());
}

fn username_schema() -> Value {
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"traits": {
            "type": "object",
            "properties": {
                "username": {"type": "string", "minLength": 2,
                    "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}},
                "emails": {"type": "array", "items": {"type": "string", "format": "email",
                    "ory.sh/kratos": {"recovery": {"via": "email"}}}}
            },
            "required": ["username"]
        }}
    })
}

#[tokio::test]
async fn schemas_load_from_file_and_base64_urls() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("person.json");
    std::fs::write(&path, default_schema().to_string()).unwrap();
    let encoded = base64::engine::general_purpose::STANDARD.encode(username_schema().to_string());
    let app = spawn_on(fresh_database(), |s| {
        s.identity.default_schema_id = "person".into();
        s.identity.schemas = vec![
            SchemaSource {
                id: "person".into(),
                url: format!("file://{}", path.display()),
            },
            SchemaSource {
                id: "user name".into(),
                url: format!("base64://{encoded}"),
            },
        ];
    })
    .await;
    let list: Vec<Value> = app
        .http
        .get(format!("{}/schemas", app.public))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = list.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["person", "user name"]);
    expect_error(
        app.http
            .get(format!("{}/schemas/default", app.public))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;

    let res = app
        .create_identity(json!({"schema_id": "user name", "traits": {"username": " Zed ", "emails": ["Z@Example.com"]}}))
        .await;
    assert_eq!(res.status(), 201);
    let identity: Value = res.json().await.unwrap();
    assert_eq!(
        identity["schema_url"],
        format!("{}/schemas/dXNlciBuYW1l", app.public)
    );
    assert_eq!(
        identity["traits"]["username"], "Zed",
        "identifier traits are trimmed"
    );
    assert_eq!(identity["verifiable_addresses"], json!([]));
    assert_eq!(identity["recovery_addresses"][0]["value"], "z@example.com");
    let schema: Value = app
        .http
        .get(identity["schema_url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(schema, username_schema());
    // A non-e-mail identifier keeps its case.
    let id = identity["id"].as_str().unwrap();
    let full: Value = app
        .get(&format!(
            "/admin/identities/{id}?include_credential=password"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        full["credentials"]["password"]["identifiers"],
        json!(["Zed"])
    );
    let res = app
        .create_identity(json!({"schema_id": "user name", "traits": {"username": "Zed"}}))
        .await;
    expect_error(res, 409).await;
}
