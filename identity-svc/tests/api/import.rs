//! `PATCH /admin/identities` (Kratos' batchPatchIdentities) and imported password hashes:
//! each format signs in with its own algorithm and is rehashed to argon2id on success.

use diesel::prelude::*;
use serde_json::{Value, json};
use service_kit::db::{DatabaseSettings, Db, DbError, Dsn, Id, Json};

use crate::browser::{Browser, browser_app};
use crate::helpers::{TestApp, expect_error};

/// Made by Python's hashlib (pbkdf2_hmac, scrypt) for [`PASSWORD`], in Kratos' formats.
const PASSWORD: &str = "Tr0ub4dor&3-imported";
const PBKDF2_SHA256: &str =
    "$pbkdf2-sha256$i=1000,l=32$c2FsdHlzYWx0eXNhbHQxNg$Qjvh4GuxkU3vx2uBsoL9+aJYTsWJ+Fbn35TWLw0bH30";
const PBKDF2_SHA512: &str = "$pbkdf2-sha512$i=1000,l=64$c2FsdHlzYWx0eXNhbHQxNg$3xrRhqiaRIKQqmwuX1Wanofvs7a5hlZtyUXwCEdTMihZR7pRs8SfcV8LuXujR5gcbNq2nvDB5Sq8bK+kha7xAA";
const SCRYPT: &str =
    "$scrypt$ln=1024,r=8,p=1$c2FsdHlzYWx0eXNhbHQxNg==$DSpAU1gs6USpT7DeZpRrOWZMDqX+60Z7ZDu0aKzpa9E=";
/// OpenBSD's bcrypt vector for "U*U".
const BCRYPT: &str = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";

impl TestApp {
    async fn batch(&self, body: Value) -> reqwest::Response {
        self.http
            .patch(format!("{}/admin/identities", self.admin))
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

fn person(email: &str, credentials: Value) -> Value {
    json!({"schema_id": "default", "traits": {"email": email}, "credentials": credentials})
}

fn hashed(hash: &str) -> Value {
    json!({"password": {"config": {"hashed_password": hash}}})
}

/// The password hash stored for identity `id`, read from the database.
async fn stored_hash(app: &TestApp, id: &str) -> String {
    use identity_svc::db::schema::identity_credentials as ic;
    let dsn = Dsn::parse(&app.db.dsn).unwrap();
    let id = Id(id.parse().unwrap());
    tokio::task::spawn_blocking(move || {
        let db = Db::connect(&dsn, &DatabaseSettings::default()).unwrap();
        let mut conn = db.writer_blocking().unwrap();
        let config: Option<Json> = ic::table
            .filter(ic::identity_id.eq(id))
            .filter(ic::credential_type.eq("password"))
            .select(ic::config)
            .first(&mut *conn)
            .map_err(DbError::from)
            .unwrap();
        config.unwrap().0["hashed_password"]
            .as_str()
            .unwrap()
            .to_string()
    })
    .await
    .unwrap()
}

async fn login_status(app: &TestApp, email: &str, password: &str) -> u16 {
    let browser = Browser::new();
    let flow = browser.start_login(app, "").await;
    let res = browser
        .submit(
            &flow,
            &[("identifier", email), ("password", password)],
            true,
        )
        .await;
    res.status().as_u16()
}

#[tokio::test]
async fn imported_hashes_sign_in_and_are_rehashed_to_argon2id() {
    let app = browser_app().await;
    let cases = [
        ("bcrypt@example.com", BCRYPT, "U*U"),
        ("pbkdf2-256@example.com", PBKDF2_SHA256, PASSWORD),
        ("pbkdf2-512@example.com", PBKDF2_SHA512, PASSWORD),
        ("scrypt@example.com", SCRYPT, PASSWORD),
    ];
    let patches: Vec<Value> = cases
        .iter()
        .enumerate()
        .map(|(i, (email, hash, _))| {
            json!({"patch_id": uuid::Uuid::from_u128(i as u128 + 1), "create": person(email, hashed(hash))})
        })
        .collect();
    let res = app.batch(json!({ "identities": patches })).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let results = body["identities"].as_array().unwrap();
    assert_eq!(results.len(), cases.len());
    for (i, ((email, hash, password), result)) in cases.iter().zip(results).enumerate() {
        assert_eq!(result["action"], "create", "{result}");
        assert_eq!(
            result["patch_id"],
            uuid::Uuid::from_u128(i as u128 + 1).to_string()
        );
        let id = result["identity"].as_str().unwrap();
        assert_eq!(stored_hash(&app, id).await, *hash, "stored as given");
        assert_eq!(
            login_status(&app, email, "wrong password").await,
            400,
            "{email}"
        );
        assert_eq!(
            stored_hash(&app, id).await,
            *hash,
            "a failed sign-in changes nothing"
        );
        assert_eq!(login_status(&app, email, password).await, 200, "{email}");
        let rehashed = stored_hash(&app, id).await;
        assert!(
            rehashed.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{email}: {rehashed}"
        );
        assert_eq!(
            login_status(&app, email, password).await,
            200,
            "{email} again"
        );
        assert_eq!(
            stored_hash(&app, id).await,
            rehashed,
            "current hashes are kept"
        );
    }
}

/// IF-10: bcrypt reads 72 bytes; an imported bcrypt hash never lets a prefix sign in.
#[tokio::test]
async fn if_10_imported_bcrypt_is_not_truncated() {
    let app = browser_app().await;
    let long = "p".repeat(100);
    let hash = bcrypt::hash(&long[..72], 4).unwrap();
    let res = app
        .create_identity(person("long@example.com", hashed(&hash)))
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(login_status(&app, "long@example.com", &long).await, 400);
    assert_eq!(
        login_status(&app, "long@example.com", &long[..72]).await,
        200
    );
}

#[tokio::test]
async fn a_batch_reports_each_identity_and_creates_the_good_ones() {
    let app = browser_app().await;
    app.create_person("taken@example.com").await;
    let res = app
        .batch(json!({"identities": [
            {"patch_id": "00000000-0000-0000-0000-000000000001", "create": person("new@example.com", hashed(SCRYPT))},
            {"patch_id": "00000000-0000-0000-0000-000000000002", "create": person("taken@example.com", json!(null))},
            {"patch_id": "00000000-0000-0000-0000-000000000003", "create": {"schema_id": "default", "traits": "str"}},
            {"patch_id": "00000000-0000-0000-0000-000000000004", "create": person("md5@example.com", hashed("$md5$abc"))},
            {"patch_id": "00000000-0000-0000-0000-000000000005"},
            {"create": person("plain@example.com", json!({"password": {"config": {"password": "a long enough password"}}}))},
            "not an object"
        ]}))
        .await;
    assert_eq!(res.status(), 200);
    let results: Value = res.json().await.unwrap();
    let results = results["identities"].as_array().unwrap();
    let actions: Vec<&str> = results
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "create", "error", "error", "error", "error", "create", "error"
        ]
    );
    let codes: Vec<&Value> = results.iter().map(|r| &r["error"]["code"]).collect();
    assert_eq!(codes[1], 409);
    for i in [2, 3, 4, 6] {
        assert_eq!(codes[i], 400, "{}", results[i]);
    }
    assert_eq!(
        results[2]["patch_id"],
        "00000000-0000-0000-0000-000000000003"
    );
    assert!(results[5].get("patch_id").is_none());
    assert!(
        !results[3].to_string().contains("$md5$abc"),
        "errors do not echo hashes"
    );
    let list: Value = app.get("/admin/identities").await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert_eq!(
        login_status(&app, "plain@example.com", "a long enough password").await,
        200
    );

    // Nothing created: 409 when all clashed, 400 otherwise, with the details.
    let res = app
        .batch(json!({"identities": [{"create": person("taken@example.com", json!(null))}]}))
        .await;
    let error = expect_error(res, 409).await;
    assert_eq!(error["details"]["identities"][0]["error"]["code"], 409);
    let res = app
        .batch(json!({"identities": [{"create": {"schema_id": "nope", "traits": {}}}]}))
        .await;
    expect_error(res, 400).await;
    let res = app.batch(json!({"identities": []})).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_batch_refuses_bad_bodies_and_too_many_identities() {
    let app = browser_app().await;
    let url = format!("{}/admin/identities", app.admin);
    let raw = |body: Vec<u8>, content_type: &'static str| {
        app.http
            .patch(&url)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    for body in [
        &b"{\"identities\":"[..],
        b"[]",
        b"{\"identities\":{}}",
        b"{\"identities\":[],\"more\":1}",
        b"{\"identities\":[\"\xff\"]}",
        b"{} trailing",
    ] {
        let res = raw(body.to_vec(), "application/json").await.unwrap();
        expect_error(res, 400).await;
    }
    let res = raw(b"identities=1".to_vec(), "text/plain").await.unwrap();
    expect_error(res, 415).await;
    let hashed_one = json!({"create": person("x@example.com", hashed(SCRYPT))});
    let res = app
        .batch(json!({"identities": vec![hashed_one.clone(); 1001]}))
        .await;
    assert!(
        expect_error(res, 400).await["reason"]
            .as_str()
            .unwrap()
            .contains("1000")
    );
    let plain = json!({"create": person("y@example.com", json!({"password": {"config": {"password": "a long enough password"}}}))});
    let mut mixed = vec![hashed_one; 200];
    mixed.push(plain);
    let res = app.batch(json!({"identities": mixed})).await;
    assert!(
        expect_error(res, 400).await["reason"]
            .as_str()
            .unwrap()
            .contains("200")
    );
    // BI-01: past identity.batch_import_body_bytes.
    let huge = vec![b' '; 5 * 1024 * 1024];
    let res = raw(huge, "application/json").await.unwrap();
    expect_error(res, 413).await;
    let list: Value = app.get("/admin/identities").await.json().await.unwrap();
    assert!(list.as_array().unwrap().is_empty(), "nothing was created");
}
