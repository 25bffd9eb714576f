//! `/login` and `/consent` against a scripted oauth2-svc (security.md LC-01, LC-05, LC-07,
//! LC-11): forged challenges get an error page and no form, spent ones restart, the consent
//! form needs this browser's token, and client-supplied display data is escaped.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::helpers::{TestApp, assert_security_headers, spawn_with};

/// An oauth2-svc (and identity-svc) stand-in: the first route whose method and path prefix
/// match answers; anything else is 404. Every request is recorded as `METHOD path?query`.
pub struct Scripted {
    pub url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

pub type Route = (&'static str, &'static str, u16, Value);

impl Scripted {
    pub async fn start(routes: Vec<Route>) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (record, routes) = (seen.clone(), Arc::new(routes));
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (record, routes) = (record.clone(), routes.clone());
                tokio::spawn(async move {
                    let target = read_request(&mut socket).await;
                    record.lock().unwrap().push(target.clone());
                    let (method, path) = target.split_once(' ').unwrap_or_default();
                    let (status, body) = routes
                        .iter()
                        .find(|(m, prefix, _, _)| *m == method && path.starts_with(prefix))
                        .map(|(_, _, status, body)| (*status, body.to_string()))
                        .unwrap_or((404, json!({"error": "Not Found"}).to_string()));
                    let response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                });
            }
        });
        Scripted { url, seen }
    }

    /// Every request that reached the stand-in, as `METHOD target`.
    pub fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    /// The decisions (PUTs) that reached the stand-in.
    pub fn decisions(&self) -> Vec<String> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|r| r.starts_with("PUT "))
            .cloned()
            .collect()
    }
}

/// Reads one request to its end; answers `METHOD target`.
async fn read_request(socket: &mut tokio::net::TcpStream) -> String {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = socket.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data).to_string();
        let Some(end) = text.find("\r\n\r\n") else {
            continue;
        };
        let length = text[..end]
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if data.len() >= end + 4 + length {
            break;
        }
    }
    let text = String::from_utf8_lossy(&data);
    let first = text.lines().next().unwrap_or_default();
    first.rsplit_once(' ').map_or(first, |(t, _)| t).to_string()
}

/// A consent request as oauth2-svc answers it, for `client`.
pub fn consent_request(client: Value) -> Value {
    json!({"challenge": "ch-1", "consent_request_id": "r-1", "requested_scope": ["openid", "email"],
        "requested_access_token_audience": [], "skip": false, "subject": "user-1", "client": client,
        "request_url": "http://as.test/oauth2/auth?client_id=c-1&redirect_uri=https%3A%2F%2Frp.test%2Fcb&response_type=code",
        "login_challenge": "", "login_session_id": "s-1"})
}

pub async fn login_ui(upstream: &Scripted) -> TestApp {
    let url = upstream.url.clone();
    spawn_with(|s| {
        s.dev = true;
        s.urls.oauth2.admin = Some(url.clone());
        s.urls.identity.admin = Some(url.clone());
        s.urls.identity.public = Some(url);
    })
    .await
}

/// A cookie-keeping browser.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The consent page in `b`: its HTML and the form's CSRF token.
pub async fn consent_page(app: &TestApp, b: &reqwest::Client) -> (String, String) {
    let res = b
        .get(format!("{}/consent?consent_challenge=ch-1", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("a CSRF field") + marker.len();
    let token = html[start..start + html[start..].find('"').unwrap()].to_string();
    (html, token)
}

/// LC-01: a random login challenge, and a login challenge shown to the consent page, get an
/// error page: no credential or consent form, and no decision sent to oauth2-svc.
#[tokio::test]
async fn lc_01_forged_challenges_get_an_error_page_without_a_form() {
    let upstream = Scripted::start(vec![]).await;
    let app = login_ui(&upstream).await;
    for path in [
        "/login?login_challenge=oly_ch_random",
        "/consent?consent_challenge=oly_ch_a_login_challenge",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 404, "{path}");
        assert_security_headers(res.headers(), false);
        let html = res.text().await.unwrap();
        assert!(html.contains("is not valid"), "{html}");
        for absent in ["<form", "password", "csrf_token"] {
            assert!(!html.contains(absent), "{path}: {absent} in {html}");
        }
    }
    assert!(
        upstream.decisions().is_empty(),
        "{:?}",
        upstream.decisions()
    );
}

/// LC-05: a challenge oauth2-svc calls gone (used or expired) sends the browser to restart the
/// authorization at the URL it gives.
#[tokio::test]
async fn lc_05_a_gone_challenge_restarts_the_authorization() {
    let restart = "http://as.test/oauth2/auth?client_id=c-1&response_type=code";
    let gone = json!({"redirect_to": restart});
    let upstream = Scripted::start(vec![
        (
            "GET",
            "/admin/oauth2/auth/requests/login",
            410,
            gone.clone(),
        ),
        ("GET", "/admin/oauth2/auth/requests/consent", 410, gone),
    ])
    .await;
    let app = login_ui(&upstream).await;
    for path in [
        "/login?login_challenge=spent",
        "/consent?consent_challenge=spent",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 303, "{path}");
        assert_eq!(res.headers()["location"], restart, "{path}");
    }
    assert!(upstream.decisions().is_empty());
}

/// LC-07: a consent POST without a token (400/403), with a forged one, with another browser's
/// token, or cross-site (403), or a GET carrying the approval (the page again): no decision
/// reaches oauth2-svc. The page's own form does.
#[tokio::test]
async fn lc_07_consent_needs_this_browsers_token() {
    let redirect = json!({"redirect_to": "http://as.test/oauth2/auth?consent_verifier=v"});
    let client = json!({"client_id": "c-1", "client_name": "Demo app"});
    let upstream = Scripted::start(vec![
        (
            "GET",
            "/admin/oauth2/auth/requests/consent",
            200,
            consent_request(client),
        ),
        ("PUT", "/admin/oauth2/auth/requests/consent/", 200, redirect),
    ])
    .await;
    let app = login_ui(&upstream).await;
    let (victim, attacker) = (browser(), browser());
    let (_, token) = consent_page(&app, &victim).await;
    let (_, attackers_token) = consent_page(&app, &attacker).await;
    assert_ne!(token, attackers_token);
    let url = format!("{}/consent", app.public);
    let grant = [("consent_challenge", "ch-1"), ("decision", "grant")];
    let with = |token: &'static str| [grant[0], grant[1], ("csrf_token", token)].to_vec();
    let theirs = [grant[0], grant[1], ("csrf_token", attackers_token.as_str())].to_vec();
    let stranger = browser();
    let attempts = [
        (&victim, grant.to_vec(), None),
        (&victim, with("forged"), None),
        (&victim, theirs.clone(), None),
        (&victim, grant.to_vec(), Some("https://evil.test")),
        (&stranger, theirs, Some("https://evil.test")),
    ];
    for (b, fields, origin) in attempts {
        let mut request = b.post(&url).form(&fields);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let res = request.send().await.unwrap();
        // Without the field at all the form does not even parse: 400.
        let refused = if fields.len() == 2 {
            vec![400, 403]
        } else {
            vec![403]
        };
        assert!(
            refused.contains(&res.status().as_u16()),
            "{fields:?} {origin:?}: {}",
            res.status()
        );
        assert!(res.headers().get("location").is_none());
    }
    let res = victim
        .get(format!(
            "{url}?consent_challenge=ch-1&decision=grant&approve=true"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "a GET only shows the page");
    assert!(
        upstream.decisions().is_empty(),
        "{:?}",
        upstream.decisions()
    );

    let res = victim
        .post(&url)
        .form(&[
            ("consent_challenge", "ch-1"),
            ("decision", "deny"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let decisions = upstream.decisions();
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert!(
        decisions[0]
            .starts_with("PUT /admin/oauth2/auth/requests/consent/reject?consent_challenge=ch-1")
    );
}

/// LC-11: a client's name with markup is escaped; `javascript:` and `data:` URIs (refused at
/// registration, but never trusted here either) and plain-http ones are never links or
/// images; https ones are links. The page names the client_id and the host it returns to.
#[tokio::test]
async fn lc_11_client_display_data_is_escaped_and_only_https_is_linked() {
    let client = json!({"client_id": "c-1", "client_name": "<img src=x onerror=alert(1)>",
        "logo_uri": "javascript:alert(1)", "client_uri": "javascript:alert(2)",
        "policy_uri": "https://evil.test/policy", "tos_uri": "data:text/html,x"});
    let upstream = Scripted::start(vec![(
        "GET",
        "/admin/oauth2/auth/requests/consent",
        200,
        consent_request(client),
    )])
    .await;
    let app = login_ui(&upstream).await;
    let (html, _) = consent_page(&app, &browser()).await;
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{html}"
    );
    for absent in ["<img", "javascript:", "data:text", "onerror=alert(1)>"] {
        assert!(!html.contains(absent), "{absent} in {html}");
    }
    assert!(
        html.contains(r#"<a href="https:&#x2F;&#x2F;evil.test&#x2F;policy""#),
        "{html}"
    );
    let plain = json!({"client_id": "c-2", "client_name": "Plain", "client_uri": "http://rp.test",
        "policy_uri": "http://rp.test/policy", "tos_uri": "http://rp.test/tos"});
    let upstream = Scripted::start(vec![(
        "GET",
        "/admin/oauth2/auth/requests/consent",
        200,
        consent_request(plain),
    )])
    .await;
    let app2 = login_ui(&upstream).await;
    let (plain, _) = consent_page(&app2, &browser()).await;
    assert!(
        !plain.contains("http:&#x2F;&#x2F;rp.test"),
        "no plain-http link: {plain}"
    );
    for page in [&html, &plain] {
        assert!(
            page.contains("<code>rp.test</code>"),
            "the redirect host: {page}"
        );
    }
    assert!(html.contains("<code>c-1</code>"));
}
