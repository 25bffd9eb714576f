//! The admin identities API: create, get, list, delete.

use serde_json::{Value, json};

use crate::helpers::{expect_error, spawn};

#[tokio::test]
async fn create_answers_201_in_kratos_shape_and_get_returns_the_same() {
    let app = spawn().await;
    let res = app
        .create_identity(json!({
            "schema_id": "default",
            "traits": {"email": " Ann@Example.COM", "name": {"first": "Ann", "last": "Lee"}},
            "metadata_public": {"plan": "pro"},
            "metadata_admin": {"crm": 42},
            "external_id": "crm-42"
        }))
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let created: Value = res.json().await.unwrap();
    let id = uuid::Uuid::parse_str(created["id"].as_str().unwrap()).unwrap();
    assert_eq!(id.get_version_num(), 7);
    assert_eq!(created["schema_id"], "default");
    assert_eq!(
        created["schema_url"],
        format!("{}/schemas/ZGVmYXVsdA", app.public)
    );
    assert_eq!(created["state"], "active");
    assert!(created["state_changed_at"].is_string());
    assert_eq!(
        created["traits"],
        json!({"email": "Ann@Example.COM", "name": {"first": "Ann", "last": "Lee"}})
    );
    assert_eq!(created["metadata_public"], json!({"plan": "pro"}));
    assert_eq!(created["metadata_admin"], json!({"crm": 42}));
    assert_eq!(created["external_id"], "crm-42");
    assert!(
        created.get("credentials").is_none(),
        "credentials only on request"
    );
    let verifiable = created["verifiable_addresses"].as_array().unwrap();
    assert_eq!(verifiable.len(), 1);
    assert_eq!(verifiable[0]["value"], "ann@example.com");
    assert_eq!(verifiable[0]["via"], "email");
    assert_eq!(verifiable[0]["verified"], false);
    assert_eq!(verifiable[0]["status"], "pending");
    let recovery = created["recovery_addresses"].as_array().unwrap();
    assert_eq!(recovery.len(), 1);
    assert_eq!(recovery[0]["value"], "ann@example.com");
    assert_eq!(recovery[0]["via"], "email");

    let fetched: Value = app
        .get(&format!("/admin/identities/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, created);
}

#[tokio::test]
async fn include_credential_shows_the_password_identifiers_only() {
    let app = spawn().await;
    let created = app.create_person("Bo@Example.com").await;
    let id = created["id"].as_str().unwrap();
    let res = app
        .get(&format!(
            "/admin/identities/{id}?include_credential=password"
        ))
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let password = &body["credentials"]["password"];
    assert_eq!(password["type"], "password");
    assert_eq!(password["identifiers"], json!(["bo@example.com"]));
    assert!(password.get("config").is_none(), "no secrets, no config");
    let res = app
        .get(&format!("/admin/identities/{id}?include_credential=oidc"))
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["credentials"], json!({}));
    expect_error(
        app.get(&format!(
            "/admin/identities/{id}?include_credential=secrets"
        ))
        .await,
        400,
    )
    .await;
}

#[tokio::test]
async fn identities_can_be_created_inactive() {
    let app = spawn().await;
    let res = app.create_identity(json!({"schema_id": "default", "traits": {"email": "x@example.com"}, "state": "inactive"})).await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let fetched: Value = app
        .get(&format!("/admin/identities/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["state"], "inactive");
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_404() {
    let app = spawn().await;
    let unknown = uuid::Uuid::now_v7();
    for id in [unknown.to_string(), "not-a-uuid".to_string()] {
        let error = expect_error(app.get(&format!("/admin/identities/{id}")).await, 404).await;
        assert_eq!(error["status"], "Not Found");
        let res = app
            .http
            .delete(format!("{}/admin/identities/{id}", app.admin))
            .send()
            .await
            .unwrap();
        expect_error(res, 404).await;
    }
}

#[tokio::test]
async fn delete_removes_the_identity_and_frees_its_identifier() {
    let app = spawn().await;
    let first = app.create_person("gone@example.com").await;
    let id = first["id"].as_str().unwrap();
    let res = app
        .http
        .delete(format!("{}/admin/identities/{id}", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    expect_error(app.get(&format!("/admin/identities/{id}")).await, 404).await;
    let again = app
        .http
        .delete(format!("{}/admin/identities/{id}", app.admin))
        .send()
        .await
        .unwrap();
    expect_error(again, 404).await;
    let second = app.create_person("gone@example.com").await;
    let list: Vec<Value> = app.get("/admin/identities").await.json().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], second["id"]);
}

#[tokio::test]
async fn a_duplicate_email_is_409_even_in_another_case_or_with_spaces() {
    let app = spawn().await;
    let first = app.create_person("dup@example.com").await;
    for email in ["dup@example.com", "DUP@Example.com", "  dup@example.com  "] {
        let res = app
            .create_identity(json!({"schema_id": "default", "traits": {"email": email}}))
            .await;
        let error = expect_error(res, 409).await;
        assert!(
            error["reason"]
                .as_str()
                .unwrap()
                .contains("dup@example.com"),
            "{error}"
        );
    }
    let list: Vec<Value> = app.get("/admin/identities").await.json().await.unwrap();
    assert_eq!(list.len(), 1, "no partial rows are left behind");
    assert_eq!(list[0]["id"], first["id"]);
}

#[tokio::test]
async fn a_duplicate_external_id_is_409() {
    let app = spawn().await;
    let body = |email: &str| json!({"schema_id": "default", "traits": {"email": email}, "external_id": "ext-1"});
    assert_eq!(
        app.create_identity(body("one@example.com")).await.status(),
        201
    );
    let error = expect_error(app.create_identity(body("two@example.com")).await, 409).await;
    assert!(
        error["reason"].as_str().unwrap().contains("external_id"),
        "{error}"
    );
    let list: Vec<Value> = app
        .get("/admin/identities?credentials_identifier=two@example.com")
        .await
        .json()
        .await
        .unwrap();
    assert!(list.is_empty(), "the refused identity was not stored");
}

#[tokio::test]
async fn an_unknown_schema_id_is_400() {
    let app = spawn().await;
    let res = app
        .create_identity(json!({"schema_id": "nope", "traits": {"email": "a@example.com"}}))
        .await;
    let error = expect_error(res, 400).await;
    assert!(
        error["reason"].as_str().unwrap().contains("nope"),
        "{error}"
    );
}

fn next_link(res: &reqwest::Response) -> Option<String> {
    let link = res.headers().get("link")?.to_str().unwrap().to_string();
    assert!(link.ends_with("; rel=\"next\""), "{link}");
    Some(
        link.trim_start_matches('<')
            .split('>')
            .next()
            .unwrap()
            .to_string(),
    )
}

#[tokio::test]
async fn list_pages_through_identities_in_creation_order() {
    let app = spawn().await;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(
            app.create_person(&format!("p{i}@example.com")).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let mut seen = Vec::new();
    let mut path = "/admin/identities?page_size=2".to_string();
    let mut pages = 0;
    loop {
        let res = app.get(&path).await;
        assert_eq!(res.status(), 200);
        let next = next_link(&res);
        let page: Vec<Value> = res.json().await.unwrap();
        assert!(page.len() <= 2);
        seen.extend(page.iter().map(|i| i["id"].as_str().unwrap().to_string()));
        pages += 1;
        match next {
            Some(link) => path = link,
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, created);
    let all: Vec<Value> = app.get("/admin/identities").await.json().await.unwrap();
    assert_eq!(all.len(), 5);
}

#[tokio::test]
async fn list_rejects_bad_paging_and_unknown_parameters() {
    let app = spawn().await;
    for query in [
        "page_size=0",
        "page_size=1001",
        "page_size=ten",
        "page_token=%%%",
        "page_token=AAAA",
        "ids=x",
    ] {
        expect_error(app.get(&format!("/admin/identities?{query}")).await, 400).await;
    }
    assert_eq!(
        app.get("/admin/identities?page_size=1000").await.status(),
        200
    );
}

#[tokio::test]
async fn list_filters_by_normalised_credentials_identifier() {
    let app = spawn().await;
    let ann = app.create_person("ann@example.com").await;
    app.create_person("bob@example.com").await;
    for query in ["ann@example.com", "%20ANN@Example.com%20"] {
        let res = app
            .get(&format!(
                "/admin/identities?credentials_identifier={query}&include_credential=password"
            ))
            .await;
        let list: Vec<Value> = res.json().await.unwrap();
        assert_eq!(list.len(), 1, "{query}");
        assert_eq!(list[0]["id"], ann["id"]);
        assert_eq!(
            list[0]["credentials"]["password"]["identifiers"],
            json!(["ann@example.com"])
        );
    }
    let none: Vec<Value> = app
        .get("/admin/identities?credentials_identifier=ann@example")
        .await
        .json()
        .await
        .unwrap();
    assert!(none.is_empty());
}
