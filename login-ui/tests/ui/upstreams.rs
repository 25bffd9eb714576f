//! The status of identity-svc and oauth2-svc, on the home page and in the readiness body.

use serde_json::json;

use crate::helpers::{StubUpstream, closed_url, spawn, spawn_with};

#[tokio::test]
async fn closed_upstreams_show_as_down() {
    let app = spawn().await;
    let html = app.get("/").await.text().await.unwrap();
    assert_eq!(
        html.matches("Down: not reachable right now").count(),
        2,
        "{html}"
    );
    assert!(!html.contains("Up: working normally"), "{html}");
}

#[tokio::test]
async fn a_live_upstream_shows_as_up_beside_a_closed_one() {
    let identity = StubUpstream::start().await;
    let app = spawn_with(|s| {
        s.urls.identity.public = Some(identity.url.clone());
        s.urls.identity.admin = Some(format!("{}/admin", identity.url));
    })
    .await;
    let html = app.get("/").await.text().await.unwrap();
    assert!(html.contains(r#"<li class="status status-up">"#), "{html}");
    assert!(
        html.contains(r#"<li class="status status-down">"#),
        "{html}"
    );
    let identity_item = html.split("Accounts and sign-in").nth(1).unwrap();
    assert!(
        identity_item.trim_start().contains("Up: working normally"),
        "{html}"
    );
    let mut paths: Vec<String> = identity.seen().into_iter().map(|seen| seen.path).collect();
    paths.sort();
    assert_eq!(
        paths,
        ["/admin/health/alive", "/health/alive"],
        "both identity-svc listeners are probed"
    );
}

#[tokio::test]
async fn the_request_id_is_forwarded_to_upstreams() {
    let upstream = StubUpstream::start().await;
    let app = spawn_with(|s| {
        s.urls.identity.public = Some(upstream.url.clone());
        s.urls.identity.admin = Some(upstream.url.clone());
        s.urls.oauth2.admin = Some(upstream.url.clone());
    })
    .await;
    let res = app
        .http
        .get(format!("{}/", app.public))
        .header("x-request-id", "trace-77")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let seen = upstream.seen();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(
        seen.iter()
            .all(|s| s.path == "/health/alive" && s.request_id.as_deref() == Some("trace-77")),
        "{seen:?}"
    );
}

#[tokio::test]
async fn readiness_reflects_login_ui_and_lists_upstreams() {
    let oauth2 = StubUpstream::start().await;
    let app = spawn_with(|s| s.urls.oauth2.admin = Some(oauth2.url.clone())).await;
    for base in [&app.public, &app.admin] {
        let res = app
            .http
            .get(format!("{base}/health/ready"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "ready although identity-svc is down");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(
            body,
            json!({ "status": "ok", "upstreams": { "identity": "down", "oauth2": "up" } })
        );
    }
}

#[tokio::test]
async fn an_upstream_that_does_not_answer_in_time_is_down() {
    // Accepts connections but never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let app = spawn_with(|s| {
        s.urls.oauth2.admin = Some(url);
        s.urls.identity.public = Some(closed_url());
        s.upstream_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let body: serde_json::Value = app
        .http
        .get(format!("{}/health/ready", app.admin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["upstreams"]["oauth2"], "down");
    drop(silent);
}
