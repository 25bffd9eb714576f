//! Malformed, oversized and non-UTF-8 registration bodies are refused, and nothing is stored.

use serde_json::{Value, json};

use crate::browser::{Browser, PASSWORD, browser_app, node};
use crate::flows::{csrf_token, get_public};
use crate::helpers::expect_error;

/// BI-03: malformed JSON and wrong types get structured 400s; nothing is stored.
#[tokio::test]
async fn bi_03_malformed_bodies_get_structured_errors() {
    let app = browser_app().await;
    let browser = Browser::new();
    let flow = browser.start_registration(&app, "").await;
    let action = flow["ui"]["action"].as_str().unwrap();
    let csrf = csrf_token(&flow);
    for raw in [
        "{\"traits\":".to_string(),
        "[]".to_string(),
        format!("{{\"csrf_token\":\"{csrf}\",\"traits\":\"str\",\"password\":\"{PASSWORD}\"}}"),
        format!("{{\"csrf_token\":\"{csrf}\",\"method\":\"password\"}} trailing"),
        format!("{{\"csrf_token\":\"{csrf}\",\"password\":7}}"),
    ] {
        let res = browser
            .http
            .post(action)
            .header("content-type", "application/json")
            .body(raw.clone())
            .send()
            .await
            .unwrap();
        let error = expect_error(res, 400).await;
        let text = error.to_string();
        assert!(
            !text.contains("diesel") && !text.contains("panicked"),
            "{raw}: {text}"
        );
    }
    // A trait of the wrong type is a validation message on its node.
    let res = browser
        .http
        .post(action)
        .json(
            &json!({"csrf_token": csrf, "method": "password", "password": PASSWORD,
            "traits": {"email": 7, "name": {"first": ["x"]}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(node(&body, "traits.email")["messages"][0]["type"], "error");
    assert_eq!(
        node(&body, "traits.name.first")["messages"][0]["type"],
        "error"
    );
    // Dotted trait keys deeper than any schema are refused before they are built.
    let deep = format!("traits.{}", vec!["a"; 10_000].join("."));
    let res = browser
        .submit(&flow, &[(deep.as_str(), "x"), ("password", PASSWORD)], true)
        .await;
    expect_error(res, 400).await;
    assert_eq!(app.identity_count().await, 0);
}

/// BI-01: a 10 MiB body is refused with 413, and the service stays healthy.
#[tokio::test]
async fn bi_01_oversized_bodies_are_refused() {
    let app = browser_app().await;
    let api: Value = get_public(&app.http, &app, "/self-service/registration/api", false)
        .await
        .json()
        .await
        .unwrap();
    let huge = json!({"method": "password", "password": PASSWORD,
        "traits": {"email": "ada@example.com", "name": {"first": "x".repeat(10 << 20)}}});
    let res = app
        .http
        .post(api["ui"]["action"].as_str().unwrap())
        .json(&huge)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let res = get_public(&app.http, &app, "/health/alive", false).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.identity_count().await, 0);
}

/// BI-06: invalid UTF-8 in a form or a JSON body is a 400, never stored.
#[tokio::test]
async fn bi_06_invalid_utf8_is_refused() {
    let app = browser_app().await;
    let browser = Browser::new();
    let flow = browser.start_registration(&app, "").await;
    let action = flow["ui"]["action"].as_str().unwrap();
    let csrf = csrf_token(&flow);
    let form = format!(
        "csrf_token={csrf}&method=password&password=correct+horse+battery&traits.email=%FF%FE%40example.com"
    );
    let res = browser
        .http
        .post(action)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    expect_error(res, 400).await;
    let mut raw = format!(
        "{{\"csrf_token\":\"{csrf}\",\"password\":\"{PASSWORD}\",\"traits\":{{\"email\":\""
    )
    .into_bytes();
    raw.extend_from_slice(b"\xff\xfe@example.com\"}}");
    let res = browser
        .http
        .post(action)
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();
    expect_error(res, 400).await;
    assert_eq!(app.identity_count().await, 0);
}
