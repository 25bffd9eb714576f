//! `PUT` and `PATCH /admin/identities/{id}` (Kratos' updateIdentity and patchIdentity): traits,
//! state, metadata, address verification, deactivation, bad input, concurrent changes, and the
//! list filters.

use serde_json::{Value, json};

use crate::browser::{Browser, PASSWORD, browser_app, node};
use crate::helpers::{TestApp, expect_error, fresh_database, spawn_on};
use crate::receiver::Receiver;

impl TestApp {
    pub async fn put_identity(&self, id: &str, body: Value) -> reqwest::Response {
        self.http
            .put(format!("{}/admin/identities/{id}", self.admin))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch_identity(&self, id: &str, body: Value) -> reqwest::Response {
        self.http
            .patch(format!("{}/admin/identities/{id}", self.admin))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn identity(&self, id: &str) -> Value {
        let res = self.get(&format!("/admin/identities/{id}")).await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }
}

fn id_of(identity: &Value) -> String {
    identity["id"].as_str().unwrap().to_string()
}

/// Signs in through a fresh browser flow as JSON and answers the response.
async fn try_login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    let browser = Browser::new();
    let flow = browser.start_login(app, "").await;
    browser
        .submit(
            &flow,
            &[("identifier", email), ("password", password)],
            true,
        )
        .await
}

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

/// IF-17 (admin-disable): deactivation revokes the sessions and refuses sign-in, with Kratos'
/// `identity_disabled` for the right password only (IF-01 keeps wrong passwords alike), and
/// queues `identity.deactivated` for the lifecycle hook in the same transaction.
#[tokio::test]
async fn if_17_deactivating_an_identity_ends_its_sessions_and_its_sign_ins() {
    let receiver = Receiver::start().await;
    let app = spawn_on(fresh_database(), |s| {
        s.dev = true;
        s.hooks.identity_lifecycle.url = Some(receiver.url.clone());
        s.hooks.identity_lifecycle.secret =
            service_kit::settings::SecretList::new([service_kit::settings::Secret::new(
                "the-hook-secret-shared-with-the-receiver",
            )]);
        s.outbox.interval = std::time::Duration::from_millis(100);
    })
    .await;
    let id = id_of(&app.create_person_with_password("ada@example.com").await);
    let browser = Browser::new();
    browser.log_in(&app, "ada@example.com").await;
    assert_eq!(browser.whoami(&app).await.status(), 200);

    let res = app
        .patch_identity(
            &id,
            json!([{"op": "replace", "path": "/state", "value": "inactive"}]),
        )
        .await;
    assert_eq!(res.status(), 200);
    let inactive: Value = res.json().await.unwrap();
    assert_eq!(inactive["state"], "inactive");
    assert_ne!(inactive["state_changed_at"], Value::Null);

    let res = browser.whoami(&app).await;
    assert_eq!(expect_error(res, 401).await["id"], "session_inactive");
    let res = try_login(&app, "ada@example.com", PASSWORD).await;
    let error = expect_error(res, 401).await;
    assert_eq!(error["id"], "identity_disabled");
    assert_eq!(error["reason"], "This account was disabled.");
    let res = try_login(&app, "ada@example.com", "wrong password").await;
    assert_eq!(res.status(), 400);
    let flow: Value = res.json().await.unwrap();
    assert_eq!(flow["ui"]["messages"][0]["id"], 4000006);
    assert_eq!(
        node(&flow, "identifier")["attributes"]["value"],
        "ada@example.com"
    );

    // The notice reaches the hook.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let body: Value = loop {
        if let Some(request) = receiver.requests().first() {
            break serde_json::from_slice(&request.body).unwrap();
        }
        assert!(std::time::Instant::now() < deadline, "no notice");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    };
    assert_eq!(body["event"], "identity.deactivated");
    assert_eq!(body["identity_id"], id.as_str());

    // A PUT that keeps the state changes neither it nor the sessions; reactivating lets the
    // identity sign in again (its old sessions stay ended) and sends nothing.
    let res = app
        .put_identity(&id, json!({"schema_id": "default", "traits": {"email": "ada@example.com"}, "state": "active"}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(browser.whoami(&app).await.status(), 401);
    assert_eq!(
        try_login(&app, "ada@example.com", PASSWORD).await.status(),
        200
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        receiver.requests().len(),
        1,
        "only the deactivation is notified"
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
