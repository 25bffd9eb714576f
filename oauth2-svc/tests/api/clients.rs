//! The admin clients API: create, get, list, delete and their bad input; client secrets
//! (security.md CA-10). Redirect URI rules (AZ-07) are in `security_redirects.rs`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn};

/// CA-10: a generated secret has 256 bits, is shown once (in the create response) and never by
/// GET or list.
#[tokio::test]
async fn ca_10_the_generated_secret_is_shown_once_and_never_again() {
    let app = spawn().await;
    let res = app
        .create_client(json!({"client_name": "Demo", "redirect_uris": ["https://rp.test/cb"], "scope": "openid email"}))
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let created: Value = res.json().await.unwrap();
    let id = created["client_id"].as_str().unwrap().to_string();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 7);
    let secret = created["client_secret"].as_str().unwrap();
    assert_eq!(
        URL_SAFE_NO_PAD.decode(secret).unwrap().len(),
        32,
        "256 bits"
    );
    assert_eq!(created["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(created["grant_types"], json!(["authorization_code"]));
    assert_eq!(created["response_types"], json!(["code"]));
    assert!(created["created_at"].is_string());

    let fetched: Value = app
        .http
        .get(format!("{}/admin/clients/{id}", app.admin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(fetched.get("client_secret").is_none(), "{fetched}");
    assert_eq!(fetched["client_name"], "Demo");
    assert_eq!(fetched["redirect_uris"], json!(["https://rp.test/cb"]));
    assert_eq!(fetched["scope"], "openid email");
    for url in [
        format!("{}/admin/clients/{id}", app.admin),
        format!("{}/admin/clients", app.admin),
    ] {
        let text = app
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(text.contains(&id) && !text.contains(secret), "{text}");
    }
}

async fn machine_client(app: &TestApp) -> (String, String) {
    let body = json!({"grant_types": ["client_credentials"], "scope": "read"});
    let created: Value = app.create_client(body).await.json().await.unwrap();
    let id = created["client_id"].as_str().unwrap().to_string();
    (id, created["client_secret"].as_str().unwrap().to_string())
}

/// CA-10: 200 wrong-secret attempts in a minute from one address: the first `max_failures` (20)
/// are 401 `invalid_client`, later ones 429 with `Retry-After` — the right secret too, from that
/// address, or guessing would go on. The real client at another address is never held off, an
/// unknown client_id is throttled the same way (a 429 tells nothing), and after the window the
/// address may try again.
#[tokio::test]
async fn ca_10_wrong_secret_attempts_are_throttled_per_address_without_locking_out_the_client() {
    let app = crate::helpers::spawn_on(crate::helpers::fresh_database(), |s| {
        s.oauth2.client_authentication.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let (id, secret) = machine_client(&app).await;
    let url = format!("{}/oauth2/token", app.public);
    let attempt = |from: &'static str, id: String, secret: String| {
        app.http
            .post(&url)
            .header("x-forwarded-for", from)
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    let (guesser, client) = ("203.0.113.9", "198.51.100.7");
    for target in [id.clone(), "no-such-client".to_string()] {
        let mut statuses = Vec::new();
        for i in 0..200 {
            let wrong = format!("wrong-secret-{i:03}-wrong-secret-wrong-secret");
            let res = attempt(guesser, target.clone(), wrong).await.unwrap();
            let status = res.status().as_u16();
            if status == 429 {
                let retry: u64 = res.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!((1..=60).contains(&retry), "{retry}");
                let body: Value = res.json().await.unwrap();
                assert_eq!(body["error"], "temporarily_unavailable");
            }
            statuses.push(status);
        }
        // Failures are counted off the response path, so the switch may lag by a request or two.
        assert!(
            statuses[..20].iter().all(|s| *s == 401),
            "{target}: {statuses:?}"
        );
        assert!(
            statuses[25..].iter().all(|s| *s == 429),
            "{target}: {statuses:?}"
        );
    }
    let res = attempt(guesser, id.clone(), secret.clone()).await.unwrap();
    assert_eq!(
        res.status(),
        429,
        "the guesser's address waits, right secret or not"
    );
    let res = attempt(client, id.clone(), secret.clone()).await.unwrap();
    assert_eq!(res.status(), 200, "the real client is not locked out");

    app.clock.advance(std::time::Duration::from_secs(61));
    let res = attempt(guesser, id.clone(), secret.clone()).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.json::<Value>().await.unwrap()["access_token"].is_string());
}

/// CA-10: a supplied secret is returned once and stored only as a keyed hash.
#[tokio::test]
async fn ca_10_the_secret_is_stored_only_as_a_keyed_hash() {
    let app = spawn().await;
    let secret = "a-caller-chosen-secret-of-40-characters!!";
    let res = app
        .create_client(json!({"client_id": "chosen", "client_secret": secret}))
        .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["client_id"], "chosen");
    assert_eq!(created["client_secret"], secret);
    let dsn = service_kit::db::Dsn::parse(&app.db.dsn).unwrap();
    let db = service_kit::db::Db::connect(&dsn, &Default::default()).unwrap();
    #[derive(diesel::QueryableByName)]
    struct Stored {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        secret_hash: Option<String>,
    }
    let rows: Vec<Stored> = db
        .read(|c| {
            use diesel::RunQueryDsl;
            diesel::sql_query("SELECT secret_hash FROM oauth2_clients")
                .load(c)
                .map_err(service_kit::db::DbError::from)
        })
        .await
        .unwrap();
    let stored = rows[0].secret_hash.clone().unwrap();
    assert_ne!(stored, secret);
    assert!(!stored.contains("caller-chosen"));
    assert_eq!(stored.len(), 43, "base64url of an HMAC-SHA256");
}

#[tokio::test]
async fn public_clients_have_no_secret() {
    let app = spawn().await;
    let res = app
        .create_client(
            json!({"token_endpoint_auth_method": "none", "redirect_uris": ["http://127.0.0.1/cb"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert!(created.get("client_secret").is_none());
}

#[tokio::test]
async fn duplicate_client_id_is_a_conflict() {
    let app = spawn().await;
    assert_eq!(
        app.create_client(json!({"client_id": "twice"}))
            .await
            .status(),
        201
    );
    let res = app.create_client(json!({"client_id": "twice"})).await;
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status_code"], 409);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("client_id")
    );
}

#[tokio::test]
async fn invalid_metadata_is_rejected_with_a_reason() {
    let app = spawn().await;
    let cases = [
        (json!({"client_secret": "too-short"}), "at least 32"),
        (json!({"grant_types": ["password"]}), "grant_types"),
        (
            json!({"token_endpoint_auth_method": "magic"}),
            "token_endpoint_auth_method",
        ),
        (json!({"logo_uri": "javascript:alert(1)"}), "logo_uri"),
        (json!({"client_id": "has space"}), "client_id"),
        (
            json!({"redirect_uris": vec!["https://rp.test/cb"; 101]}),
            "at most",
        ),
    ];
    for (body, reason) in cases {
        let res = app.create_client(body.clone()).await;
        assert_eq!(res.status(), 400, "{body}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"], "invalid_client_metadata", "{body}");
        assert!(
            err["error_description"].as_str().unwrap().contains(reason),
            "{body}: {err}"
        );
    }
    // Nothing was stored.
    let list: Vec<Value> = app
        .http
        .get(format!("{}/admin/clients", app.admin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(list.is_empty());
}

#[tokio::test]
async fn malformed_bodies_are_400_and_oversized_413() {
    let app = spawn().await;
    let url = format!("{}/admin/clients", app.admin);
    for raw in [
        r#"{"client_name":"#,
        "[]",
        r#"{"redirect_uris":"https://x"}"#,
        r#"{"client_name":"a"} trailing"#,
    ] {
        let res = app
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{raw}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"], "invalid_request", "{raw}");
    }
    let invalid_utf8 = b"{\"client_name\":\"\xff\xfe\"}".to_vec();
    let res = app
        .http
        .post(&url)
        .header("content-type", "application/json")
        .body(invalid_utf8)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = app
        .http
        .post(&url)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    let huge = json!({"client_name": "x".repeat(10 * 1024 * 1024)});
    let res = app.create_client(huge).await;
    assert_eq!(res.status(), 413);
    // The service is healthy afterwards.
    assert_eq!(
        app.http
            .get(format!("{}/health/ready", app.admin))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn unknown_clients_are_404_and_delete_is_final() {
    let app = spawn().await;
    let res = app
        .http
        .get(format!("{}/admin/clients/nope", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"], "Not Found");
    let res = app
        .http
        .delete(format!("{}/admin/clients/nope", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    app.create_client(json!({"client_id": "gone"})).await;
    let res = app
        .http
        .delete(format!("{}/admin/clients/gone", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = app
        .http
        .get(format!("{}/admin/clients/gone", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = app
        .http
        .delete(format!("{}/admin/clients/gone", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn list_pages_with_a_link_header_and_filters() {
    let app = spawn().await;
    for i in 0..5 {
        let owner = if i % 2 == 0 { "team-a" } else { "team-b" };
        app.create_client(json!({"client_id": format!("c{i}"), "owner": owner}))
            .await;
    }
    let mut seen = Vec::new();
    let mut next = Some(format!("{}/admin/clients?page_size=2", app.admin));
    while let Some(url) = next.take() {
        let res = app.http.get(&url).send().await.unwrap();
        assert_eq!(res.status(), 200);
        next = res.headers().get("link").map(|l| {
            let l = l.to_str().unwrap();
            let path = &l[l.find('<').unwrap() + 1..l.find('>').unwrap()];
            assert!(l.ends_with("rel=\"next\""));
            format!("{}{path}", app.admin)
        });
        let page: Vec<Value> = res.json().await.unwrap();
        assert!(page.len() <= 2);
        seen.extend(
            page.into_iter()
                .map(|c| c["client_id"].as_str().unwrap().to_string()),
        );
    }
    assert_eq!(seen, ["c0", "c1", "c2", "c3", "c4"]);

    let filtered: Vec<Value> = app
        .http
        .get(format!("{}/admin/clients?owner=team-b", app.admin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<_> = filtered
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["c1", "c3"]);

    for bad in [
        "page_size=0",
        "page_size=501",
        "page_token=%%%",
        "page_size=abc",
        "unknown=1",
    ] {
        let res = app
            .http
            .get(format!("{}/admin/clients?{bad}", app.admin))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{bad}");
    }
}
