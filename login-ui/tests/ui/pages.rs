//! The home page, the stylesheet and the not-found page: content, headers, escaping.

use crate::helpers::{assert_security_headers, spawn, spawn_with};

#[tokio::test]
async fn home_page_renders_with_the_security_headers() {
    let app = spawn().await;
    let res = app.get("/").await;
    assert_eq!(res.status(), 200);
    assert_security_headers(res.headers(), false);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    let html = res.text().await.unwrap();
    assert!(html.starts_with("<!doctype html>"), "{html}");
    assert!(html.contains("Welcome to Olympus"), "{html}");
    assert!(
        html.contains(r#"<link rel="stylesheet" href="/static/olympus.css">"#),
        "{html}"
    );
    assert!(!html.contains("<script"), "no JavaScript at all: {html}");
    assert!(
        !html.contains("style="),
        "no inline style (the CSP forbids it): {html}"
    );
}

#[tokio::test]
async fn https_public_url_adds_hsts() {
    // Still bound on loopback: only the configured public URL says https.
    let app = spawn_with(|s| {
        s.urls.self_.public = Some("https://login.example.com".into());
        s.dev = false;
    })
    .await;
    for path in ["/", "/no-such-page"] {
        assert_security_headers(app.get(path).await.headers(), true);
    }
}

#[tokio::test]
async fn stylesheet_is_served_as_css() {
    let app = spawn().await;
    let res = app.get("/static/olympus.css").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(res.headers()["cache-control"], "public, max-age=3600");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let css = res.text().await.unwrap();
    assert!(css.contains(":focus-visible"), "focus outlines are visible");
    assert!(css.contains("prefers-color-scheme: dark"));
}

#[tokio::test]
async fn unknown_route_is_a_styled_html_404_with_the_headers() {
    let app = spawn().await;
    for res in [
        app.get("/no/such/page").await,
        app.http
            .post(format!("{}/", app.public))
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(res.status(), 404);
        assert_security_headers(res.headers(), false);
        assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
        let html = res.text().await.unwrap();
        assert!(html.contains("Page not found"), "{html}");
        assert!(
            html.contains("/static/olympus.css"),
            "styled like every page: {html}"
        );
        assert!(html.contains(r#"href="/""#), "offers the way home: {html}");
    }
}

/// AZ-17 (c) and the not-found page: whatever the request brings (path, request id, the
/// `error`, `error_description` and `error_hint` of `/error`) is escaped or dropped, rendered
/// as text, never as markup or a `javascript:` link.
#[tokio::test]
async fn az_17_what_the_request_brings_is_escaped() {
    let app = spawn().await;
    // The request id is taken as given when it is printable ASCII, so it can carry markup.
    let res = app
        .http
        .get(format!("{}/%3Cscript%3Ealert(1)%3C/script%3E", app.public))
        .header("x-request-id", r#""><img/src=x>"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;"),
        "the decoded path, escaped: {html}"
    );
    assert!(
        html.contains("&quot;&gt;&lt;img&#x2F;src=x&gt;"),
        "the request id, escaped: {html}"
    );
    assert!(
        !html.contains("<script") && !html.contains("<img"),
        "{html}"
    );

    let url = reqwest::Url::parse_with_params(
        &format!("{}/error", app.public),
        [
            ("error", "<img src=x onerror=1>"),
            ("error_description", "<script>alert(1)</script>"),
            ("error_hint", "<a href=javascript:alert(1)>x</a>"),
        ],
    )
    .unwrap();
    let res = app.http.get(url).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert_security_headers(res.headers(), false);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;"),
        "the description, escaped: {html}"
    );
    for markup in [
        "<script",
        "<img",
        "<a href=javascript",
        "javascript:",
        "onerror",
    ] {
        assert!(!html.contains(markup), "{markup}: {html}");
    }
}
