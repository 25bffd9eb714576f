//! `/device` and `/device/done`: the device flow's user code form (CSRF-protected, accessible
//! errors) and what each answer of oauth2-svc's device accept call shows.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::helpers::{TestApp, assert_security_headers, spawn, spawn_with};

/// An oauth2-svc stand-in whose every answer is `status` with `body`.
async fn answering(status: &'static str, body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    url
}

/// The form's CSRF cookie and token, from a GET of the page.
async fn form_tokens(app: &TestApp) -> (String, String) {
    let res = app.get("/device?device_challenge=ch").await;
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let html = res.text().await.unwrap();
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    let token = html[start..start + html[start..].find('"').unwrap()].to_string();
    (cookie, token)
}

async fn post(app: &TestApp, cookie: Option<&str>, fields: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app.http.post(format!("{}/device", app.public)).form(fields);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn the_form_shows_the_prefilled_code_with_a_label_and_a_scoped_csrf_cookie() {
    let app = spawn().await;
    let res = app
        .get("/device?device_challenge=ch&user_code=BCDF-GHJK")
        .await;
    assert_eq!(res.status(), 200);
    assert_security_headers(res.headers(), false);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("Path=/device") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let html = res.text().await.unwrap();
    assert!(html.contains("<label for=\"field-user_code\">"));
    assert!(html.contains("id=\"field-user_code\""));
    assert!(html.contains("value=\"BCDF-GHJK\""));
    assert!(html.contains("name=\"device_challenge\" value=\"ch\""));
    assert!(!html.contains("<script"));

    let res = app.get("/device").await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn a_post_without_login_uis_token_is_refused() {
    let app = spawn().await;
    let fields = [
        ("device_challenge", "ch"),
        ("user_code", "BCDF-GHJK"),
        ("csrf_token", "forged"),
    ];
    assert_eq!(post(&app, None, &fields).await.status(), 403);
    let (cookie, _) = form_tokens(&app).await;
    assert_eq!(post(&app, Some(&cookie), &fields).await.status(), 403);
}

#[tokio::test]
async fn a_wrong_code_shows_the_form_again_with_a_linked_error() {
    let upstream = answering("400 Bad Request", r#"{"error":"invalid_request"}"#).await;
    let app = spawn_with(|s| s.urls.oauth2.admin = Some(upstream)).await;
    let (cookie, token) = form_tokens(&app).await;
    let fields = [
        ("device_challenge", "ch"),
        ("user_code", "<b>WRONG</b>"),
        ("csrf_token", token.as_str()),
    ];
    let res = post(&app, Some(&cookie), &fields).await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("That code is not valid"));
    assert!(html.contains("aria-invalid=\"true\""));
    assert!(html.contains("aria-describedby=\"field-user_code-hint field-user_code-messages\""));
    assert!(html.contains("id=\"field-user_code-messages\" role=\"alert\""));
    assert!(
        html.contains("value=\"&lt;b&gt;WRONG&lt;&#x2F;b&gt;\""),
        "escaped"
    );
}

#[tokio::test]
async fn a_spent_challenge_offers_a_fresh_start() {
    let upstream = answering(
        "410 Gone",
        r#"{"redirect_to":"https://auth.test/oauth2/device/verify"}"#,
    )
    .await;
    let app = spawn_with(|s| s.urls.oauth2.admin = Some(upstream)).await;
    let (cookie, token) = form_tokens(&app).await;
    let fields = [
        ("device_challenge", "ch"),
        ("user_code", "BCDF-GHJK"),
        ("csrf_token", token.as_str()),
    ];
    let res = post(&app, Some(&cookie), &fields).await;
    assert_eq!(res.status(), 410);
    let html = res.text().await.unwrap();
    assert!(html.contains("Start again to connect your device"));
    assert!(
        html.contains("href=\"https:&#x2F;&#x2F;auth.test&#x2F;oauth2&#x2F;device&#x2F;verify\"")
    );
}

#[tokio::test]
async fn an_accepted_code_continues_at_oauth2_svc() {
    let upstream = answering(
        "200 OK",
        r#"{"redirect_to":"https://auth.test/oauth2/device/verify?device_verifier=v"}"#,
    )
    .await;
    let app = spawn_with(|s| s.urls.oauth2.admin = Some(upstream)).await;
    let (cookie, token) = form_tokens(&app).await;
    let fields = [
        ("device_challenge", "ch"),
        ("user_code", "bcdf ghjk"),
        ("csrf_token", token.as_str()),
    ];
    let res = post(&app, Some(&cookie), &fields).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        "https://auth.test/oauth2/device/verify?device_verifier=v"
    );
}

#[tokio::test]
async fn the_done_page_says_to_return_to_the_device_or_shows_the_error() {
    let app = spawn().await;
    let res = app.get("/device/done").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("You can return to your device")
    );
    let res = app
        .get("/device/done?error=access_denied&error_description=%3Cscript%3Ex")
        .await;
    let html = res.text().await.unwrap();
    assert!(html.contains("The device was not connected"));
    assert!(html.contains("&lt;script&gt;x"));
    assert!(!html.contains("You can return to your device"));
}
