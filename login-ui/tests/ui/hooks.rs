//! `POST /hooks/identity-lifecycle` on the admin listener: identity-svc's signed lifecycle
//! notice becomes oauth2-svc's revocation of the subject, against a fake oauth2-svc admin API.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use serde_json::json;
use service_kit::settings::{Secret, SecretList};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::helpers::{TestApp, closed_url, spawn_with};

const SECRET: &str = "the-hook-secret-shared-with-identity-svc";
const PATH: &str = "/hooks/identity-lifecycle";
const IDENTITY: &str = "01890a5d-ac96-774b-bcce-b302099a8057";

/// `METHOD target` and `X-Request-Id` of one request.
type Seen = (String, Option<String>);

/// oauth2-svc's admin API as far as revocation goes: records `METHOD target` and `X-Request-Id`
/// of each request and answers `status` (204 unless changed) without a body.
struct FakeOAuth2 {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    status: Arc<AtomicU16>,
}

impl FakeOAuth2 {
    async fn start() -> FakeOAuth2 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(204));
        let (record, answer) = (seen.clone(), status.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (record, answer) = (record.clone(), answer.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let mut lines = head.lines();
                    let first = lines.next().unwrap_or_default();
                    let target = first.rsplit_once(' ').map_or(first, |(t, _)| t);
                    let request_id = lines
                        .filter_map(|l| l.split_once(':'))
                        .find(|(name, _)| name.eq_ignore_ascii_case("x-request-id"))
                        .map(|(_, value)| value.trim().to_string());
                    record
                        .lock()
                        .unwrap()
                        .push((target.to_string(), request_id));
                    let status = answer.load(Ordering::SeqCst);
                    let response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                });
            }
        });
        FakeOAuth2 { url, seen, status }
    }

    fn targets(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|(t, _)| t.clone())
            .collect()
    }
}

fn revocations(subject: &str) -> Vec<String> {
    vec![
        format!("DELETE /admin/oauth2/auth/sessions/consent?subject={subject}&all=true"),
        format!("DELETE /admin/oauth2/auth/sessions/login?subject={subject}"),
    ]
}

/// login-ui with the receiver on (`SECRET`), oauth2-svc's admin API at `oauth2`.
async fn login_ui(oauth2: &str) -> TestApp {
    let oauth2 = oauth2.to_string();
    spawn_with(|s| {
        s.urls.oauth2.admin = Some(oauth2);
        s.hooks.identity_lifecycle.secret = SecretList::new([Secret::new(SECRET)]);
    })
    .await
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

fn notice(event: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "event": event, "identity_id": IDENTITY, "occurred_at": "2026-12-01T10:00:00.123Z"
    }))
    .unwrap()
}

/// POSTs `body` to the receiver on `base` with `signature` (if any) and `X-Request-Id`.
async fn post(app: &TestApp, base: &str, body: Vec<u8>, signature: Option<String>) -> u16 {
    let mut request = app
        .http
        .post(format!("{base}{PATH}"))
        .header("content-type", "application/json")
        .header("x-request-id", "msg-42")
        .body(body);
    if let Some(signature) = signature {
        request = request.header("x-olympus-signature", signature);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn a_signed_deletion_revokes_the_subject_at_oauth2_svc() {
    let oauth2 = FakeOAuth2::start().await;
    let app = login_ui(&oauth2.url).await;
    let body = notice("identity.deleted");
    let signature = sign(SECRET, &body);
    assert_eq!(post(&app, &app.admin, body, Some(signature)).await, 204);
    let seen = oauth2.seen.lock().unwrap().clone();
    assert_eq!(
        oauth2.targets(),
        revocations(IDENTITY),
        "consents, then logins"
    );
    assert!(
        seen.iter().all(|(_, id)| id.as_deref() == Some("msg-42")),
        "the sender's request id is forwarded: {seen:?}"
    );
}

#[tokio::test]
async fn a_deactivation_revokes_too_and_unknown_events_are_ignored() {
    let oauth2 = FakeOAuth2::start().await;
    let app = login_ui(&oauth2.url).await;
    let body = notice("identity.deactivated");
    assert_eq!(
        post(&app, &app.admin, body.clone(), Some(sign(SECRET, &body))).await,
        204
    );
    assert_eq!(oauth2.targets(), revocations(IDENTITY));

    let body = notice("identity.renamed");
    assert_eq!(
        post(&app, &app.admin, body.clone(), Some(sign(SECRET, &body))).await,
        204,
        "acknowledged, so that the sender does not retry it"
    );
    assert_eq!(oauth2.targets().len(), 2, "nothing sent for it");
}

#[tokio::test]
async fn a_missing_or_wrong_signature_is_401_and_nothing_is_revoked() {
    let oauth2 = FakeOAuth2::start().await;
    let app = login_ui(&oauth2.url).await;
    let body = notice("identity.deleted");
    let good = sign(SECRET, &body);
    let other_body = sign(SECRET, &notice("identity.deactivated"));
    let cases = [
        None,
        Some(String::new()),
        Some(sign("another-secret-of-at-least-32-chars", &body)),
        Some(other_body),
        Some(good.replace("sha256=", "")),
        Some(good.replace("sha256=", "sha512=")),
        Some(format!("{}0", &good[..good.len() - 1])),
    ];
    for signature in cases {
        let shown = format!("{signature:?}");
        assert_eq!(
            post(&app, &app.admin, body.clone(), signature).await,
            401,
            "{shown}"
        );
    }
    // The signature is checked before the body is parsed: an unsigned malformed body is 401.
    assert_eq!(post(&app, &app.admin, b"{".to_vec(), None).await, 401);
    assert!(oauth2.targets().is_empty(), "{:?}", oauth2.targets());
}

#[tokio::test]
async fn a_signed_but_malformed_body_is_400() {
    let oauth2 = FakeOAuth2::start().await;
    let app = login_ui(&oauth2.url).await;
    let bodies = [
        b"not json".to_vec(),
        b"[]".to_vec(),
        serde_json::to_vec(&json!({"event": "identity.deleted"})).unwrap(),
        serde_json::to_vec(&json!({"event": "identity.deleted", "identity_id": "x",
            "occurred_at": "2026-12-01T10:00:00Z"}))
        .unwrap(),
        serde_json::to_vec(
            &json!({"event": "identity.deleted", "identity_id": IDENTITY,
            "occurred_at": "yesterday"}),
        )
        .unwrap(),
    ];
    for body in bodies {
        let shown = String::from_utf8_lossy(&body).into_owned();
        let signature = sign(SECRET, &body);
        assert_eq!(
            post(&app, &app.admin, body, Some(signature)).await,
            400,
            "{shown}"
        );
    }
    assert!(oauth2.targets().is_empty(), "{:?}", oauth2.targets());
}

#[tokio::test]
async fn an_oversized_body_is_413() {
    let oauth2 = FakeOAuth2::start().await;
    let url = oauth2.url.clone();
    let app = spawn_with(|s| {
        s.urls.oauth2.admin = Some(url);
        s.hooks.identity_lifecycle.secret = SecretList::new([Secret::new(SECRET)]);
        s.serve.request_limits.json_body_bytes = 1024;
    })
    .await;
    let body = vec![b' '; 4096];
    let signature = sign(SECRET, &body);
    assert_eq!(post(&app, &app.admin, body, Some(signature)).await, 413);
    assert!(oauth2.targets().is_empty());
}

#[tokio::test]
async fn oauth2_svc_down_or_failing_is_502_so_that_identity_svc_retries() {
    let app = login_ui(&closed_url()).await;
    let body = notice("identity.deleted");
    assert_eq!(
        post(&app, &app.admin, body.clone(), Some(sign(SECRET, &body))).await,
        502
    );

    let oauth2 = FakeOAuth2::start().await;
    oauth2.status.store(500, Ordering::SeqCst);
    let app = login_ui(&oauth2.url).await;
    assert_eq!(
        post(&app, &app.admin, body.clone(), Some(sign(SECRET, &body))).await,
        502
    );
    assert_eq!(
        oauth2.targets(),
        revocations(IDENTITY)[..1],
        "the login sessions wait until the consents are revoked"
    );
}

#[tokio::test]
async fn a_404_from_oauth2_svc_is_a_failure_to_retry() {
    // oauth2-svc answers 204 even with nothing to revoke; a 404 means a wrong URL or proxy.
    let oauth2 = FakeOAuth2::start().await;
    oauth2.status.store(404, Ordering::SeqCst);
    let app = login_ui(&oauth2.url).await;
    let body = notice("identity.deleted");
    assert_eq!(
        post(&app, &app.admin, body.clone(), Some(sign(SECRET, &body))).await,
        502
    );
}

#[tokio::test]
async fn the_receiver_is_admin_only_and_off_without_a_secret() {
    let oauth2 = FakeOAuth2::start().await;
    let app = login_ui(&oauth2.url).await;
    let body = notice("identity.deleted");
    let signature = sign(SECRET, &body);
    assert_eq!(
        post(&app, &app.public, body.clone(), Some(signature.clone())).await,
        404,
        "not on the public listener"
    );

    let url = oauth2.url.clone();
    let off = spawn_with(|s| s.urls.oauth2.admin = Some(url)).await;
    assert_eq!(post(&off, &off.admin, body, Some(signature)).await, 404);
    assert!(oauth2.targets().is_empty());
}

#[tokio::test]
async fn an_older_secret_still_verifies_while_rotating() {
    let oauth2 = FakeOAuth2::start().await;
    let url = oauth2.url.clone();
    let app = spawn_with(|s| {
        s.urls.oauth2.admin = Some(url);
        s.hooks.identity_lifecycle.secret = SecretList::new([
            Secret::new("the-new-hook-secret-of-at-least-32-chars"),
            Secret::new(SECRET),
        ]);
    })
    .await;
    let body = notice("identity.deleted");
    assert_eq!(
        post(&app, &app.admin, body.clone(), Some(sign(SECRET, &body))).await,
        204
    );
    assert_eq!(oauth2.targets(), revocations(IDENTITY));
}

#[test]
fn a_short_secret_is_refused_by_key() {
    let mut settings = crate::helpers::settings_for("http://127.0.0.1:1", "http://127.0.0.1:2");
    settings.hooks.identity_lifecycle.secret = SecretList::new([Secret::new("short")]);
    let err = settings.validate().unwrap_err().to_string();
    assert!(err.contains("hooks.identity_lifecycle.secret[0]"), "{err}");
}
