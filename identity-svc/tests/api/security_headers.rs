//! Response headers of the security catalogue (HD-01, HD-02, HD-05, HD-06): HSTS outside dev
//! mode, no framing, JSON with `nosniff` and `no-store` on flows, whoami and errors, and no CORS
//! grant to a foreign or `null` origin.

use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::browser::{Browser, browser_app};
use crate::flows::api_token;
use crate::helpers::{TestApp, fresh_database, spawn, spawn_on};

const EVIL: &str = "https://evil.test";

/// Responses of each kind identity-svc serves: flow JSON (browser and API), a browser redirect,
/// whoami with and without a session, an error, an unknown path, and the admin API.
async fn sample(app: &TestApp) -> Vec<(String, reqwest::Response)> {
    app.create_person_with_password("ada@example.com").await;
    let token = api_token(app, "ada@example.com").await;
    let browser = Browser::new();
    let flow = browser.start_login(app, "").await;
    let mut out = Vec::new();
    let public = |path: &str| format!("{}{path}", app.public);
    let requests = [
        (
            "login browser (JSON)",
            browser
                .http
                .get(public("/self-service/login/browser"))
                .header("accept", "application/json"),
        ),
        (
            "login browser (redirect)",
            app.http.get(public("/self-service/login/browser")),
        ),
        (
            "login flow fetch",
            browser.http.get(public(&format!(
                "/self-service/login/flows?id={}",
                flow["id"].as_str().unwrap()
            ))),
        ),
        (
            "registration api",
            app.http.get(public("/self-service/registration/api")),
        ),
        (
            "whoami",
            app.http
                .get(public("/sessions/whoami"))
                .header("x-session-token", token.as_str()),
        ),
        ("whoami 401", app.http.get(public("/sessions/whoami"))),
        (
            "unknown flow 404",
            app.http.get(public(
                "/self-service/login/flows?id=00000000-0000-7000-8000-000000000000",
            )),
        ),
        (
            "bad submit 400",
            app.http
                .post(public("/self-service/login?flow=nope"))
                .json(&serde_json::json!({})),
        ),
        ("unknown path 404", app.http.get(public("/nothing-here"))),
        (
            "admin list",
            app.http.get(format!("{}/admin/identities", app.admin)),
        ),
        (
            "admin 404",
            app.http.get(format!("{}/admin/identities/nope", app.admin)),
        ),
    ];
    for (name, request) in requests {
        out.push((name.to_string(), request.send().await.unwrap()));
    }
    out
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
}

#[tokio::test]
async fn hd_02_no_response_may_be_framed() {
    let app = spawn().await;
    for (name, res) in sample(&app).await {
        let headers = res.headers();
        assert_eq!(header(headers, "x-frame-options"), "DENY", "{name}");
        assert!(
            header(headers, "content-security-policy").contains("frame-ancestors 'none'"),
            "{name}: {headers:?}"
        );
    }
}

#[tokio::test]
async fn hd_05_json_is_typed_unsniffable_and_flows_and_errors_are_not_cached() {
    let app = spawn().await;
    for (name, res) in sample(&app).await {
        let headers = res.headers().clone();
        assert_eq!(
            header(&headers, "x-content-type-options"),
            "nosniff",
            "{name}"
        );
        let body = res.bytes().await.unwrap();
        if !body.is_empty() {
            assert_eq!(
                header(&headers, "content-type"),
                "application/json",
                "{name}"
            );
            serde_json::from_slice::<Value>(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        // Flows, whoami, identities and every error are per-user state: never cached.
        assert_eq!(header(&headers, "cache-control"), "no-store", "{name}");
    }
}

#[tokio::test]
async fn hd_06_foreign_and_null_origins_get_no_cors_grant_and_trace_is_refused() {
    let app = browser_app().await;
    app.create_person_with_password("ada@example.com").await;
    let browser = Browser::new();
    browser.log_in(&app, "ada@example.com").await;
    let paths = [
        "/sessions/whoami",
        "/sessions",
        "/self-service/login/browser",
        "/self-service/registration/browser",
        "/self-service/settings/browser",
    ];
    for origin in [EVIL, "null"] {
        for path in paths {
            let url = format!("{}{path}", app.public);
            let get = browser
                .http
                .get(&url)
                .header("origin", origin)
                .header("accept", "application/json")
                .send()
                .await
                .unwrap();
            assert!(!get.status().is_server_error(), "{path}: {}", get.status());
            let preflight = browser
                .http
                .request(reqwest::Method::OPTIONS, &url)
                .header("origin", origin)
                .header("access-control-request-method", "GET")
                .header("access-control-request-headers", "x-session-token")
                .send()
                .await
                .unwrap();
            for (what, headers) in [("GET", get.headers()), ("OPTIONS", preflight.headers())] {
                assert!(
                    headers
                        .keys()
                        .all(|k| !k.as_str().starts_with("access-control-")),
                    "{what} {path} from {origin}: {headers:?}"
                );
            }
            assert!(
                !preflight.status().is_success(),
                "{path}: {}",
                preflight.status()
            );
        }
    }
    // TRACE echoes nothing back, on either listener.
    for base in [&app.public, &app.admin] {
        for path in ["/", "/sessions/whoami", "/health/alive"] {
            let res = browser
                .http
                .request(
                    reqwest::Method::from_bytes(b"TRACE").unwrap(),
                    format!("{base}{path}"),
                )
                .header("x-echo-probe", "trace-me")
                .send()
                .await
                .unwrap();
            assert!(
                res.status().is_client_error(),
                "TRACE {path}: {}",
                res.status()
            );
            let body = res.text().await.unwrap();
            assert!(!body.contains("trace-me"), "TRACE {path} echoed: {body}");
        }
    }
}

#[tokio::test]
async fn hd_01_hsts_is_sent_outside_dev_mode_on_https_only() {
    // Behind a TLS-terminating proxy: the public URL is https, the listener plain http.
    let https = spawn_on(fresh_database(), |s| {
        s.urls.self_.public = Some("https://id.example.test/".into());
    })
    .await;
    for url in [
        format!("{}/self-service/login/api", https.public),
        format!("{}/sessions/whoami", https.public),
        format!("{}/admin/identities", https.admin),
    ] {
        let res = https.http.get(&url).send().await.unwrap();
        let hsts = header(res.headers(), "strict-transport-security");
        assert!(hsts.starts_with("max-age=31536000"), "{url}: {hsts:?}");
        assert!(hsts.contains("includeSubDomains"), "{url}: {hsts:?}");
    }
    // A dev setup or a plain-http loopback URL must not pin https for the host.
    for app in [browser_app().await, spawn().await] {
        let res = app
            .http
            .get(format!("{}/self-service/login/api", app.public))
            .send()
            .await
            .unwrap();
        assert!(res.headers().get("strict-transport-security").is_none());
    }
}
