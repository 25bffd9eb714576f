//! Hostile input of the security catalogue (BI-02, BI-05, BI-07, BI-09): oversized request
//! heads, deep nesting and huge collections, SQL metacharacters, and script in identity data.
//! identity-svc parses no JWTs and takes no numeric protocol parameters (BI-10, BI-11 are
//! oauth2-svc's).

use serde_json::{Value, json};

use crate::browser::{Browser, PASSWORD, browser_app};
use crate::courier::{mail_settings, start_api_flow, submit_api};
use crate::flows::{api_login, api_token, get_with_token, message_ids};
use crate::helpers::{TestApp, expect_error, fresh_database, spawn, spawn_on};
use crate::smtp_sink::SmtpSink;

/// The status line of a GET of `path` sent over a plain TCP connection to `base`.
async fn raw_status(base: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    // The server may answer and close before it has read everything.
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn bi_02_oversized_urls_headers_and_cookies_get_4xx() {
    let app = spawn().await;
    // Past the server's head limit, below the client library's URI limit (64 KiB).
    let long = "a".repeat(60 * 1024);
    let token = "t".repeat(64 * 1024);
    let cookies: Vec<String> = (0..50)
        .map(|i| format!("c{i}={}", "b".repeat(4096)))
        .collect();
    let requests = [
        (
            "60 KiB query",
            app.http.get(format!(
                "{}/self-service/login/browser?return_to={long}",
                app.public
            )),
        ),
        (
            "64 KiB Authorization",
            app.http
                .get(format!("{}/sessions/whoami", app.public))
                .header("authorization", format!("Bearer {token}")),
        ),
        (
            "64 KiB session token",
            app.http
                .get(format!("{}/sessions/whoami", app.public))
                .header("x-session-token", &token),
        ),
        (
            "50 cookies of 4 KiB",
            app.http
                .get(format!("{}/sessions/whoami", app.public))
                .header("cookie", cookies.join("; ")),
        ),
    ];
    for (what, request) in requests {
        let res = request.send().await.unwrap();
        assert!(res.status().is_client_error(), "{what}: {}", res.status());
    }
    // A 60 KiB filter is just a filter: nothing matches, nothing fails.
    let res = app
        .http
        .get(format!(
            "{}/admin/identities?credentials_identifier={long}",
            app.admin
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Vec<Value>>().await.unwrap(), Vec::<Value>::new());
    // A request line of 100 KiB (more than HTTP clients send) is refused by the server's
    // request-head limit, on both listeners.
    for base in [&app.public, &app.admin] {
        let status = raw_status(
            base,
            &format!("/self-service/login/browser?q={}", "a".repeat(100 * 1024)),
        )
        .await;
        assert!(status.starts_with("HTTP/1.1 4"), "{status}");
    }
    // A return_to past 2 KiB is refused before a flow stores it.
    let res = app
        .http
        .get(format!(
            "{}/self-service/login/browser?return_to=https://app.test/{}",
            app.public,
            "a".repeat(2048)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_error(res, 400).await["id"],
        "self_service_flow_return_to_forbidden"
    );
    // The service is unharmed.
    let res = app.get("/admin/identities").await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn bi_05_deep_nesting_is_400_and_large_collections_are_bounded() {
    let app = spawn().await;
    let deep = format!("{}\"x\"{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    let admin = format!("{}/admin/identities", app.admin);
    for body in [
        format!(r#"{{"schema_id":"default","traits":{{"email":"d@x.test","name":{deep}}}}}"#),
        format!(
            r#"{{"schema_id":"default","traits":{{"email":"d@x.test"}},"metadata_public":{}{}}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        ),
    ] {
        let res = app
            .http
            .post(&admin)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let error = expect_error(res, 400).await;
        assert!(
            error["reason"].as_str().unwrap().contains("recursion"),
            "{error}"
        );
    }
    // A million-element array is past the body limit.
    let million = format!("[{}0]", "0,".repeat(999_999));
    let res = app
        .http
        .post(&admin)
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"schema_id":"default","traits":{{"email":"m@x.test","name":{{"first":{million}}}}}}}"#
        ))
        .send()
        .await
        .unwrap();
    expect_error(res, 413).await;

    // Through the registration flow: deep traits are 400; a 100 000-element array where a
    // string belongs is refused by the schema (4000001), the flow answering in bounded size.
    let flow: Value = app
        .http
        .get(format!("{}/self-service/registration/api", app.public))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let action = flow["ui"]["action"].as_str().unwrap();
    let post = |body: String| {
        app.http
            .post(action)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let res = post(format!(
        r#"{{"method":"password","password":"{PASSWORD}","traits":{{"email":"r@x.test","name":{deep}}}}}"#
    ))
    .await
    .unwrap();
    expect_error(res, 400).await;
    let array = format!("[{}0]", "0,".repeat(99_999));
    let body = format!(
        r#"{{"method":"password","password":"{PASSWORD}","traits":{{"email":"r@x.test","name":{{"first":{array}}}}}}}"#
    );
    let sent = body.len();
    let res = post(body).await.unwrap();
    assert_eq!(res.status(), 400);
    let answer = res.bytes().await.unwrap();
    assert!(answer.len() < 4 * sent, "{} bytes for {sent}", answer.len());
    let flow: Value = serde_json::from_slice(&answer).unwrap();
    let first = flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["attributes"]["name"] == "traits.name.first")
        .unwrap();
    assert_eq!(first["messages"][0]["id"], 4000001, "{}", first["messages"]);
    assert!(app.identities_with("r@x.test").await.is_empty());
}

#[tokio::test]
async fn bi_07_sql_metacharacters_are_plain_data() {
    let app = browser_app().await;
    let email = "a'--@x.test";
    let robert = "Robert'); DROP TABLE identities;--";
    let created = app
        .create_identity(json!({
            "schema_id": "default",
            "traits": {"email": email, "name": {"first": robert, "last": "' OR '1'='1"}},
            "credentials": {"password": {"config": {"password": PASSWORD}}}
        }))
        .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["traits"]["name"]["first"], robert);
    app.create_person_with_password("bob@x.test").await;

    // Lookups by hostile strings find exactly what they name.
    assert_eq!(app.identities_with(email).await.len(), 1);
    assert!(app.identities_with("' OR 1=1--").await.is_empty());
    assert!(app.identities_with("%' OR '1'='1").await.is_empty());
    expect_error(app.get("/admin/identities/'%20OR%201=1--").await, 404).await;
    assert_eq!(app.identity_count().await, 2, "nothing was dropped");

    // Sign-in: hostile identifiers and passwords are wrong credentials, never a bypass.
    for (identifier, password) in [
        ("' OR '1'='1", PASSWORD),
        ("bob@x.test", "' OR 1=1--"),
        (email, "' OR '1'='1' --"),
    ] {
        let res = api_login(&app, identifier, password).await;
        assert_eq!(res.status(), 400, "{identifier} / {password}");
        let flow: Value = res.json().await.unwrap();
        assert_eq!(message_ids(&flow), vec![4000006], "{identifier}");
    }
    // A JSON object as the identifier (a NoSQL operator) is a type error, not a match.
    let flow: Value = app
        .http
        .get(format!("{}/self-service/login/api", app.public))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = app
        .http
        .post(flow["ui"]["action"].as_str().unwrap())
        .json(&json!({"method": "password", "identifier": {"$ne": null}, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(
        res.json::<Value>()
            .await
            .unwrap()
            .get("session_token")
            .is_none()
    );
    // And the hostile address signs in with its own password.
    let token = api_token(&app, email).await;
    let whoami: Value = get_with_token(&app, "/sessions/whoami", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(whoami["identity"]["id"], created["id"]);
}

const IMG: &str = "<img src=x onerror=alert(1)>";

#[tokio::test]
async fn bi_09_script_in_traits_is_stored_as_is_and_served_only_as_json() {
    let app = browser_app().await;
    app.create_identity(json!({
        "schema_id": "default",
        "traits": {"email": "xss@x.test", "name": {"first": IMG, "last": "\"><svg onload=alert(1)>"}},
        "credentials": {"password": {"config": {"password": PASSWORD}}}
    }))
    .await;
    let browser = Browser::new();
    browser.log_in(&app, "xss@x.test").await;
    let whoami = browser.whoami(&app).await;
    assert_eq!(whoami.headers()["content-type"], "application/json");
    assert_eq!(whoami.headers()["x-content-type-options"], "nosniff");
    let whoami: Value = whoami.json().await.unwrap();
    assert_eq!(whoami["identity"]["traits"]["name"]["first"], IMG);
    // The settings flow shows the value back in its node, as data in JSON.
    let res = browser
        .http
        .get(format!("{}/self-service/settings/browser", app.public))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let flow: Value = res.json().await.unwrap();
    let first = flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["attributes"]["name"] == "traits.name.first")
        .unwrap();
    assert_eq!(first["attributes"]["value"], IMG);
    let listed = app.identities_with("xss@x.test").await;
    assert_eq!(
        listed[0]["traits"]["name"]["last"],
        "\"><svg onload=alert(1)>"
    );
}

#[tokio::test]
async fn bi_09_mail_templates_escape_a_hostile_address_in_html() {
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let valid = dir.path().join("recovery_code/valid");
    std::fs::create_dir_all(&valid).unwrap();
    std::fs::write(
        valid.join("email.body.gotmpl"),
        "<p><a href='mailto:{{ .To }}'>{{ .To }}</a>: {{ .RecoveryCode }}</p>",
    )
    .unwrap();
    let path = dir.path().to_str().unwrap().to_string();
    let settings = mail_settings(&sink.uri());
    let app: TestApp = spawn_on(fresh_database(), |s| {
        settings(s);
        s.courier.template_override_path = Some(path);
    })
    .await;
    // An address mail servers accept whose `'` and `&` would break out of an HTML attribute.
    let hostile = "x'onmouseover=alert`1`&y@x.test";
    app.create_person(hostile).await;
    let flow = start_api_flow(&app, "recovery").await;
    let (status, _) = submit_api(&app, &flow, json!({"method": "code", "email": hostile})).await;
    assert_eq!(status, 200);
    let mail = sink.wait_for(hostile, 1).await.remove(0);
    let decoded = mail.decoded();
    let html = decoded
        .split("text/html")
        .nth(1)
        .unwrap_or_else(|| panic!("no HTML part: {decoded}"));
    let escaped = "x&#39;onmouseover=alert`1`&amp;y@x.test";
    assert!(
        html.contains(&format!("<a href='mailto:{escaped}'>{escaped}</a>")),
        "{html}"
    );
    assert!(!html.contains("x'onmouseover"), "{html}");
}
