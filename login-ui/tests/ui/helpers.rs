use std::sync::{Arc, Mutex};

use login_ui::Settings;
use rand::Rng;
use rand::distr::Alphanumeric;
use reqwest::header::HeaderMap;
use service_kit::server::Listeners;
use service_kit::settings::{Secret, SecretList};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub fn random_secret() -> SecretList {
    let value: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(48)
        .map(char::from)
        .collect();
    SecretList::new([Secret::new(value)])
}

/// A URL on which nothing listens: the port was free a moment ago and is closed again.
pub fn closed_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

/// Valid settings with random secrets, every upstream on `upstream`.
pub fn settings_for(public_url: &str, upstream: &str) -> Settings {
    let mut settings = Settings::default();
    settings.secrets.cookie = random_secret();
    settings.urls.self_.public = Some(public_url.to_string());
    settings.urls.identity.public = Some(upstream.to_string());
    settings.urls.identity.admin = Some(upstream.to_string());
    settings.urls.oauth2.admin = Some(upstream.to_string());
    settings.upstream_timeout = std::time::Duration::from_secs(2);
    settings
}

pub struct TestApp {
    pub public: String,
    pub admin: String,
    pub http: reqwest::Client,
}

/// Starts login-ui with its upstreams on a closed port.
pub async fn spawn() -> TestApp {
    spawn_with(|_| {}).await
}

/// Starts login-ui, letting `tune` adjust the settings first.
pub async fn spawn_with(tune: impl FnOnce(&mut Settings)) -> TestApp {
    let listeners = Listeners::ephemeral().expect("bind");
    let public_port = listeners.public.local_addr().unwrap().port();
    let admin_port = listeners.admin.local_addr().unwrap().port();
    let public = format!("http://127.0.0.1:{public_port}");
    let mut settings = settings_for(&public, &closed_url());
    tune(&mut settings);
    let app = login_ui::build(settings, Some(listeners))
        .await
        .expect("service starts");
    tokio::spawn(app.run_until_stopped());
    TestApp {
        public,
        admin: format!("http://127.0.0.1:{admin_port}"),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.public))
            .send()
            .await
            .unwrap()
    }
}

/// The security headers every page carries, with HSTS present exactly when `https`.
pub fn assert_security_headers(headers: &HeaderMap, https: bool) {
    // Pages carry a fresh script nonce; everything else in the policy is fixed.
    let csp = headers
        .get("content-security-policy")
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default();
    let nonce = csp
        .split("script-src 'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_default();
    assert!(nonce.len() >= 22, "no script nonce: {csp}");
    assert_eq!(
        csp,
        format!(
            "default-src 'self'; script-src 'nonce-{nonce}'; style-src 'self'; img-src 'self' data:; \
             object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
        )
    );
    let expected = [
        ("x-frame-options", "DENY"),
        ("referrer-policy", "strict-origin-when-cross-origin"),
        ("x-content-type-options", "nosniff"),
        (
            "permissions-policy",
            "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
        ),
        ("cross-origin-opener-policy", "same-origin"),
        ("cache-control", "no-store"),
    ];
    for (name, value) in expected {
        assert_eq!(
            headers.get(name).map(|v| v.to_str().unwrap()),
            Some(value),
            "{name}"
        );
    }
    let hsts = headers
        .get("strict-transport-security")
        .map(|v| v.to_str().unwrap());
    if https {
        assert_eq!(hsts, Some("max-age=31536000; includeSubDomains"));
    } else {
        assert_eq!(hsts, None);
    }
}

/// A stand-in for identity-svc or oauth2-svc: answers every request with 200 `{"status":"ok"}`
/// and records the path and `X-Request-Id` of each.
pub struct StubUpstream {
    pub url: String,
    seen: Arc<Mutex<Vec<SeenRequest>>>,
}

/// One request a [`StubUpstream`] received.
#[derive(Clone, Debug)]
pub struct SeenRequest {
    pub path: String,
    pub request_id: Option<String>,
}

impl StubUpstream {
    pub async fn start() -> StubUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let record = record.clone();
                tokio::spawn(async move {
                    let head = read_head(&mut socket).await;
                    record.lock().unwrap().push(parse_head(&head));
                    let body = r#"{"status":"ok"}"#;
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                });
            }
        });
        StubUpstream { url, seen }
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<SeenRequest> {
        self.seen.lock().unwrap().clone()
    }
}

async fn read_head(socket: &mut tokio::net::TcpStream) -> String {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

fn parse_head(head: &str) -> SeenRequest {
    let mut lines = head.lines();
    let path = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or_default()
        .to_string();
    let request_id = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("x-request-id"))
        .map(|(_, value)| value.trim().to_string());
    SeenRequest { path, request_id }
}
