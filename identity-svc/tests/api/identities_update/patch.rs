//! `PATCH /admin/identities/{id}` (JSON Patch): what it applies, what it refuses, and concurrent
//! patches; and the list filters that find the result.

use serde_json::{Value, json};

use super::{id_of, try_login};
use crate::browser::{PASSWORD, browser_app};
use crate::helpers::expect_error;

#[tokio::test]
async fn patch_applies_a_json_patch() {
    let app = browser_app().await;
    let id = id_of(&app.create_person_with_password("ada@example.com").await);
    let res = app
        .patch_identity(
            &id,
            json!([
                {"op": "test", "path": "/traits/email", "value": "ada@example.com"},
                {"op": "replace", "path": "/traits/email", "value": "lovelace@example.com"},
                {"op": "add", "path": "/metadata_public", "value": {"tier": 1}},
                {"op": "add", "path": "/metadata_admin", "value": {"seen": ["a"]}},
                {"op": "add", "path": "/metadata_admin/seen/-", "value": "b"},
                {"op": "replace", "path": "/external_id", "value": "ext-1"},
                {"op": "remove", "path": "/traits/name"}
            ]),
        )
        .await;
    assert_eq!(res.status(), 200);
    let patched: Value = res.json().await.unwrap();
    assert_eq!(patched["traits"], json!({"email": "lovelace@example.com"}));
    assert_eq!(patched["metadata_public"], json!({"tier": 1}));
    assert_eq!(patched["metadata_admin"], json!({"seen": ["a", "b"]}));
    assert_eq!(patched["external_id"], "ext-1");
    let address = &patched["verifiable_addresses"][0];
    assert_eq!(address["value"], "lovelace@example.com");
    assert_eq!(address["verified"], false);
    assert_eq!(
        try_login(&app, "lovelace@example.com", PASSWORD)
            .await
            .status(),
        200
    );

    // An admin may mark an address verified (and only change its verification).
    let res = app
        .patch_identity(
            &id,
            json!([
                {"op": "replace", "path": "/verifiable_addresses/0/verified", "value": true},
                {"op": "replace", "path": "/verifiable_addresses/0/status", "value": "completed"}
            ]),
        )
        .await;
    assert_eq!(res.status(), 200);
    let verified: Value = res.json().await.unwrap();
    let address = &verified["verifiable_addresses"][0];
    assert_eq!(address["verified"], true);
    assert_eq!(address["status"], "completed");
    assert!(address["verified_at"].is_string(), "{address}");
    assert_eq!(address["id"], patched["verifiable_addresses"][0]["id"]);
    // The verification stays while the address stays in the traits.
    let res = app
        .patch_identity(
            &id,
            json!([{"op": "add", "path": "/traits/name", "value": {"first": "Ada"}}]),
        )
        .await;
    let kept: Value = res.json().await.unwrap();
    assert_eq!(kept["verifiable_addresses"][0]["verified"], true);
}

#[tokio::test]
async fn patch_refuses_immutable_fields_and_invalid_operations() {
    let app = browser_app().await;
    let id = id_of(&app.create_person("ada@example.com").await);
    let before = app.identity(&id).await;
    for (ops, says) in [
        (
            json!([{"op": "replace", "path": "/id", "value": uuid::Uuid::now_v7()}]),
            "/id cannot",
        ),
        (
            json!([{"op": "replace", "path": "/created_at", "value": "2020-01-01T00:00:00Z"}]),
            "/created_at cannot",
        ),
        (
            json!([{"op": "replace", "path": "/state_changed_at", "value": "2020-01-01T00:00:00Z"}]),
            "/state_changed_at cannot",
        ),
        (
            json!([{"op": "add", "path": "/credentials", "value": {"password": {}}}]),
            "/credentials cannot",
        ),
        (
            json!([{"op": "replace", "path": "/schema_url", "value": "https://evil.test"}]),
            "/schema_url cannot",
        ),
        (
            json!([{"op": "replace", "path": "/verifiable_addresses/0/value", "value": "x@y.z"}]),
            "only `verified` and `status`",
        ),
        (
            json!([{"op": "replace", "path": "/verifiable_addresses/0/status", "value": "done"}]),
            "pending, sent or completed",
        ),
        (
            json!([{"op": "replace", "path": "/state", "value": "banned"}]),
            "active or inactive",
        ),
        (
            json!([{"op": "replace", "path": "/schema_id", "value": 7}]),
            "must be a string",
        ),
        (
            json!([{"op": "replace", "path": "/schema_id", "value": "nope"}]),
            "not configured",
        ),
        (
            json!([{"op": "replace", "path": "/traits/email", "value": "no at sign"}]),
            "validation",
        ),
        (
            json!([{"op": "frobnicate", "path": "/traits"}]),
            "unknown op",
        ),
        (
            json!([{"op": "remove", "path": "/traits/nope"}]),
            "does not exist",
        ),
        (
            json!([{"op": "replace", "path": "traits/email", "value": "a@b.c"}]),
            "must start with /",
        ),
        (
            json!([{"op": "test", "path": "/state", "value": "inactive"}]),
            "differs",
        ),
        (
            json!([{"op": "add", "path": "/traits/x"}]),
            "needs a `value`",
        ),
        (
            json!([{"op": "replace", "path": "", "value": {}}]),
            "cannot be changed",
        ),
    ] {
        let res = app.patch_identity(&id, ops.clone()).await;
        let error = expect_error(res, 400).await;
        let text = error.to_string();
        assert!(text.contains(says), "{ops}: {error}");
    }
    for body in [
        json!({"op": "remove"}),
        json!([{"path": "/x"}]),
        json!([{"op": "add", "path": "/x", "value": 1, "extra": 1}]),
    ] {
        expect_error(app.patch_identity(&id, body).await, 400).await;
    }
    let unknown = uuid::Uuid::now_v7().to_string();
    expect_error(app.patch_identity(&unknown, json!([])).await, 404).await;
    assert_eq!(
        app.identity(&id).await,
        before,
        "no failed patch changed anything"
    );
}

/// Concurrent patches each apply on the state the last one left: none is lost.
#[tokio::test]
async fn concurrent_patches_lose_no_update() {
    let app = browser_app().await;
    let id = id_of(&app.create_person("ada@example.com").await);
    let res = app
        .patch_identity(
            &id,
            json!([{"op": "add", "path": "/metadata_admin", "value": {}}]),
        )
        .await;
    assert_eq!(res.status(), 200);
    let url = format!("{}/admin/identities/{id}", app.admin);
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let (http, url) = (app.http.clone(), url.clone());
            let ops = json!([{"op": "add", "path": format!("/metadata_admin/k{i}"), "value": i}]);
            tokio::spawn(async move { http.patch(url).json(&ops).send().await.unwrap().status() })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap().as_u16());
    }
    let stored = app.identity(&id).await;
    for (i, status) in statuses.iter().enumerate() {
        assert!(*status == 200 || *status == 409, "{status}");
        if *status == 200 {
            assert_eq!(stored["metadata_admin"][format!("k{i}")], i, "{stored}");
        }
    }
    assert!(statuses.contains(&200));
}

#[tokio::test]
async fn the_list_filters_by_identifier_and_by_trait_with_keyset_pages() {
    let app = browser_app().await;
    let ada = app.create_person_with_password("ada@example.com").await;
    let res = app
        .create_identity(json!({"schema_id": "default",
            "traits": {"email": "ann@example.com", "name": {"first": "Ada", "last": "B"}}}))
        .await;
    let ann: Value = res.json().await.unwrap();
    app.create_person("bob@example.com").await;
    let list = async |query: &str| app.get(&format!("/admin/identities?{query}")).await;
    let ids = |v: Value| -> Vec<String> { v.as_array().unwrap().iter().map(id_of).collect() };

    let res = list("credentials_identifier=%20ADA@Example.COM%20").await;
    assert_eq!(
        ids(res.json().await.unwrap()),
        [id_of(&ada)],
        "normalised exact match"
    );
    let res = list("credentials_identifier=ada@example").await;
    assert!(ids(res.json().await.unwrap()).is_empty(), "no prefix match");
    let res = list("traits.email=ann@example.com").await;
    assert_eq!(ids(res.json().await.unwrap()), [id_of(&ann)]);
    let res = list("traits.name.first=Ada").await;
    assert_eq!(ids(res.json().await.unwrap()), [id_of(&ada), id_of(&ann)]);
    let res = list("traits.name.first=Ada&traits.name.last=B").await;
    assert_eq!(
        ids(res.json().await.unwrap()),
        [id_of(&ann)],
        "filters combine"
    );
    let res = list("traits.name.first=ada").await;
    assert!(
        ids(res.json().await.unwrap()).is_empty(),
        "trait matches are exact"
    );
    // BI-07: metacharacters are data.
    let res = list("traits.email=%27%20OR%201=1--").await;
    assert!(ids(res.json().await.unwrap()).is_empty());

    // Keyset pages keep the filter.
    let res = list("traits.name.first=Ada&page_size=1").await;
    let link = res.headers()["link"].to_str().unwrap().to_string();
    assert!(link.contains("traits.name.first=Ada"), "{link}");
    assert_eq!(ids(res.json().await.unwrap()), [id_of(&ada)]);
    let next = link
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_string();
    let res = app.get(&next).await;
    assert!(res.headers().get("link").is_none());
    assert_eq!(ids(res.json().await.unwrap()), [id_of(&ann)]);

    for bad in [
        "traits.=x",
        "traits.a..b=x",
        "traits.a'b=x",
        "traits.a%20b=x",
        "trait.email=x",
        "page_size=0",
        "page_token=%%%",
    ] {
        expect_error(list(bad).await, 400).await;
    }
}
