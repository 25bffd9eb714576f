//! Flow restarts without loops (403 and a second restart within a minute show a page that
//! explains cookies), redirects from upstream answers only within the Olympus domain, `/error`
//! ids only when UUID-shaped, and no consent for an identity that is gone or inactive.

use serde_json::json;

use crate::handoff::{Scripted, browser, consent_page, consent_request, login_ui};
use crate::helpers::spawn_with;

const FLOWS: &str = "/self-service/login/flows";

/// A 403 (identity-svc's CSRF cookie did not come back) is an error page with a restart link,
/// never an automatic restart.
#[tokio::test]
async fn a_refused_flow_explains_cookies_instead_of_restarting() {
    let csrf = json!({"error": {"id": "security_csrf_violation", "code": 403}});
    let upstream = Scripted::start(vec![("GET", FLOWS, 403, csrf)]).await;
    let app = login_ui(&upstream).await;
    let res = app
        .get("/login?flow=f-1&return_to=https%3A%2F%2Fapp.test%2F")
        .await;
    assert_eq!(res.status(), 403);
    assert!(res.headers().get("location").is_none());
    let html = res.text().await.unwrap();
    assert!(html.contains("Allow cookies for this site"), "{html}");
    assert!(
        html.contains("self-service&#x2F;login&#x2F;browser?return_to=https%3A%2F%2Fapp.test%2F"),
        "a restart link keeping return_to: {html}"
    );
}

/// An unknown flow (404) restarts once, keeping the page's `return_to` and leaving a short-lived
/// marker; a second restart while the marker lives shows the error page.
#[tokio::test]
async fn an_unknown_flow_restarts_once_then_explains() {
    let upstream =
        Scripted::start(vec![("GET", FLOWS, 404, json!({"error": {"code": 404}}))]).await;
    let app = login_ui(&upstream).await;
    let res = app
        .get("/login?flow=f-1&return_to=https%3A%2F%2Fapp.test%2Fx")
        .await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        location,
        format!(
            "{}/self-service/login/browser?return_to=https%3A%2F%2Fapp.test%2Fx",
            upstream.url
        )
    );
    let marker = res.headers()["set-cookie"].to_str().unwrap().to_string();
    for part in [
        "olympus_flow_restarted=1",
        "HttpOnly",
        "SameSite=Lax",
        "Path=/login",
        "Max-Age=60",
    ] {
        assert!(marker.contains(part), "{part} in {marker}");
    }
    let again = app
        .http
        .get(format!("{}/login?flow=f-2", app.public))
        .header("cookie", "olympus_flow_restarted=1")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
    assert!(again.headers().get("location").is_none());
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("Allow cookies for this site")
    );
}

/// An expired flow (410) follows identity-svc's `redirect_to` (which keeps `return_to`) when it
/// is within the domain (here oauth2-svc's public origin, `urls.oauth2.public`); one elsewhere,
/// or a `redirect_browser_to` elsewhere, is an error page.
#[tokio::test]
async fn upstream_redirects_stay_within_the_domain() {
    let own = "http://as.test/oauth2/auth?client_id=c-1";
    let cases = [
        (
            410,
            json!({"error": {"code": 410, "details": {"redirect_to": own}}}),
            Some(own),
        ),
        (
            410,
            json!({"error": {"code": 410, "details": {"redirect_to": "https://evil.test/x"}}}),
            None,
        ),
        (
            403,
            json!({"error": {"id": "session_aal2_required"}, "redirect_browser_to": "https://evil.test/aal2"}),
            None,
        ),
        (
            403,
            json!({"error": {"id": "session_aal2_required"}, "redirect_browser_to": "javascript:alert(1)"}),
            None,
        ),
    ];
    for (status, body, expected) in cases {
        let upstream = Scripted::start(vec![("GET", FLOWS, status, body.clone())]).await;
        let url = upstream.url.clone();
        let app = spawn_with(|s| {
            s.dev = true;
            s.urls.oauth2.admin = Some(url.clone());
            s.urls.oauth2.public = Some("http://as.test".into());
            s.urls.identity.admin = Some(url.clone());
            s.urls.identity.public = Some(url);
        })
        .await;
        let res = app.get("/login?flow=f-1").await;
        match expected {
            Some(to) => {
                assert_eq!(res.status(), 303, "{body}");
                assert_eq!(res.headers()["location"], to);
            }
            None => {
                assert_eq!(res.status(), 502, "{body}");
                assert!(res.headers().get("location").is_none());
            }
        }
    }
}

/// `/error?id=` that is no UUID is neither looked up nor echoed; a UUID is, and identity-svc's
/// `reason` is shown before its `message`.
#[tokio::test]
async fn error_ids_must_be_uuids_and_reason_comes_first() {
    let error = json!({"id": "0d6c1a8e-3c1b-4b8e-9f2a-1d2e3f4a5b6c", "error": {"code": 400,
        "message": "The request was malformed.", "reason": "The flow was started elsewhere."}});
    let upstream = Scripted::start(vec![("GET", "/self-service/errors", 200, error)]).await;
    let app = login_ui(&upstream).await;
    let res = app.get("/error?id=call%20555-0100%20now").await;
    assert_eq!(res.status(), 404);
    let html = res.text().await.unwrap();
    assert!(!html.contains("555-0100"), "{html}");
    assert!(upstream.requests().is_empty(), "{:?}", upstream.requests());
    let res = app
        .get("/error?id=0d6c1a8e-3c1b-4b8e-9f2a-1d2e3f4a5b6c")
        .await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("The flow was started elsewhere."), "{html}");
    assert!(!html.contains("The request was malformed."), "{html}");
    assert!(html.contains("0d6c1a8e-3c1b-4b8e-9f2a-1d2e3f4a5b6c"));
}

/// Consent for an identity deleted (404) or deactivated since it signed in is rejected with
/// `login_required`; no tokens are granted.
#[tokio::test]
async fn consent_for_a_missing_or_inactive_identity_is_rejected() {
    let client = json!({"client_id": "c-1", "client_name": "Demo app"});
    let inactive = json!({"id": "8e0b8c8a-1a2b-4c3d-9e8f-0a1b2c3d4e5f", "schema_id": "default",
        "schema_url": "http://id.test/schemas/default", "state": "inactive", "traits": {"email": "a@example.com"},
        "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"});
    let redirect = json!({"redirect_to": "http://as.test/oauth2/auth?consent_verifier=v"});
    for identity in [(200, inactive), (404, json!({"error": {"code": 404}}))] {
        let upstream = Scripted::start(vec![
            (
                "GET",
                "/admin/oauth2/auth/requests/consent",
                200,
                consent_request(client.clone()),
            ),
            ("GET", "/admin/identities/", identity.0, identity.1.clone()),
            (
                "PUT",
                "/admin/oauth2/auth/requests/consent/",
                200,
                redirect.clone(),
            ),
        ])
        .await;
        let app = login_ui(&upstream).await;
        let b = browser();
        let (_, token) = consent_page(&app, &b).await;
        let res = b
            .post(format!("{}/consent", app.public))
            .form(&[
                ("consent_challenge", "ch-1"),
                ("decision", "grant"),
                ("csrf_token", &token),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
        let decisions = upstream.decisions();
        assert_eq!(decisions.len(), 1, "{decisions:?}");
        assert!(
            decisions[0].starts_with("PUT /admin/oauth2/auth/requests/consent/reject?"),
            "{decisions:?}"
        );
    }
}
