//! The status of identity-svc and oauth2-svc in the readiness body (operators only; the home
//! page shows the visitor's account instead), and the request id passed upstream.

use serde_json::json;

use crate::helpers::{StubUpstream, closed_url, spawn_with};

#[tokio::test]
async fn both_identity_svc_listeners_are_probed_for_readiness() {
    let identity = StubUpstream::start().await;
    let app = spawn_with(|s| {
        s.urls.identity.public = Some(identity.url.clone());
        s.urls.identity.admin = Some(format!("{}/admin", identity.url));
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
    assert_eq!(
        body["upstreams"],
        json!({ "identity": "up", "oauth2": "down" })
    );
    let mut paths: Vec<String> = identity.seen().into_iter().map(|seen| seen.path).collect();
    paths.sort();
    assert_eq!(paths, ["/admin/health/alive", "/health/alive"]);
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
        .header("cookie", "ory_kratos_session=abc")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let seen = upstream.seen();
    // The home page asks identity-svc who is signed in (the stub's answer is no session).
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen.iter()
            .all(|s| s.path == "/sessions/whoami" && s.request_id.as_deref() == Some("trace-77")),
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
