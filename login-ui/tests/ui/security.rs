//! The shell's security properties on every page login-ui renders: the security headers with a
//! fresh CSP nonce per response (errors and 404 included), CSRF on the logout and consent forms,
//! and no redirect target taken from the request.

use serde_json::{Value, json};

use crate::handoff::{Scripted, browser, consent_page, consent_request, login_ui};
use crate::helpers::assert_security_headers;

fn logout_request() -> Value {
    json!({"challenge": "lo-1", "subject": "user-1", "sid": "s-1", "rp_initiated": true,
        "request_url": "http://as.test/oauth2/sessions/logout?id_token_hint=x",
        "client": {"client_id": "c-1", "client_name": "Demo"}})
}

/// A stand-in answering every page's upstream calls.
async fn upstream() -> Scripted {
    let client = json!({"client_id": "c-1", "client_name": "Demo"});
    Scripted::start(vec![
        (
            "GET",
            "/admin/oauth2/auth/requests/consent",
            200,
            consent_request(client),
        ),
        (
            "GET",
            "/admin/oauth2/auth/requests/logout",
            200,
            logout_request(),
        ),
        (
            "GET",
            "/self-service/errors",
            200,
            json!({"id": "e-1", "error": {"code": 400, "message": "The flow has expired."}}),
        ),
    ])
    .await
}

fn nonce(res: &reqwest::Response) -> String {
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next();
    nonce.unwrap().to_owned()
}

#[tokio::test]
async fn every_page_has_the_headers_and_a_fresh_nonce() {
    let upstream = upstream().await;
    let app = login_ui(&upstream).await;
    let pages = [
        ("/", 200),
        ("/consent?consent_challenge=ch-1", 200),
        ("/logout?logout_challenge=lo-1", 200),
        ("/device?device_challenge=d-1", 200),
        ("/device/done", 200),
        ("/device/done?error=access_denied&error_description=no", 200),
        ("/error?error=access_denied&error_description=denied", 400),
        ("/error?id=e-1", 404),
        ("/consent", 400),
        ("/login?login_challenge=unknown", 404),
        ("/no/such/page", 404),
    ];
    for (path, status) in pages {
        let first = app.get(path).await;
        assert_eq!(first.status(), status, "{path}");
        assert_security_headers(first.headers(), false);
        let second = app.get(path).await;
        assert_ne!(nonce(&first), nonce(&second), "{path}: the nonce is reused");
        let html = first.text().await.unwrap();
        assert!(html.starts_with("<!doctype html>"), "{path}");
        assert!(!html.contains("unsafe-inline"), "{path}");
    }
}

#[tokio::test]
async fn the_consent_page_allows_images_only_from_its_logos_origin() {
    let client = json!({"client_id": "c-1", "client_name": "Demo",
        "logo_uri": "https://cdn.rp.test:8443/logo.png"});
    let upstream = Scripted::start(vec![(
        "GET",
        "/admin/oauth2/auth/requests/consent",
        200,
        consent_request(client),
    )])
    .await;
    let app = login_ui(&upstream).await;
    let res = app.get("/consent?consent_challenge=ch-1").await;
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("img-src 'self' data: https://cdn.rp.test:8443;"),
        "{csp}"
    );
    let html = res.text().await.unwrap();
    assert!(
        html.contains(r#"src="https:&#x2F;&#x2F;cdn.rp.test:8443&#x2F;logo.png""#),
        "{html}"
    );
    // Any other page keeps images to itself.
    let home = app.get("/").await;
    let csp = home.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("img-src 'self' data:;"), "{csp}");
}

/// Logout: no token, a wrong one, or one made for another challenge is refused and nothing is
/// decided at oauth2-svc; the right one goes through.
#[tokio::test]
async fn logout_needs_this_browsers_token_for_this_challenge() {
    let upstream = Scripted::start(vec![
        (
            "GET",
            "/admin/oauth2/auth/requests/logout",
            200,
            logout_request(),
        ),
        (
            "PUT",
            "/admin/oauth2/auth/requests/logout/reject",
            204,
            json!(null),
        ),
    ])
    .await;
    let app = login_ui(&upstream).await;
    let b = browser();
    let page = |challenge: &'static str| {
        let b = b.clone();
        let url = format!("{}/logout?logout_challenge={challenge}", app.public);
        async move {
            let html = b.get(url).send().await.unwrap().text().await.unwrap();
            let marker = "name=\"csrf_token\" value=\"";
            let start = html.find(marker).expect("a CSRF field") + marker.len();
            html[start..start + html[start..].find('"').unwrap()].to_string()
        }
    };
    let token = page("lo-1").await;
    let other = page("lo-2").await;
    let post = |form: Vec<(&'static str, String)>| {
        b.post(format!("{}/logout", app.public)).form(&form).send()
    };
    let base = |t: Option<String>| {
        let mut form = vec![
            ("logout_challenge", "lo-1".to_owned()),
            ("decision", "reject".to_owned()),
        ];
        if let Some(t) = t {
            form.push(("csrf_token", t));
        }
        form
    };
    for form in [base(None), base(Some("forged".into())), base(Some(other))] {
        let res = post(form.clone()).await.unwrap();
        assert!(
            [400, 403].contains(&res.status().as_u16()),
            "{form:?}: {}",
            res.status()
        );
        assert_security_headers(res.headers(), false);
    }
    assert!(
        upstream.decisions().is_empty(),
        "{:?}",
        upstream.decisions()
    );
    let res = post(base(Some(token))).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(upstream.decisions().len(), 1);
}

/// Consent: a token this browser got for another challenge does not answer this one.
#[tokio::test]
async fn consent_refuses_a_token_for_another_challenge() {
    let upstream = upstream().await;
    let app = login_ui(&upstream).await;
    let b = browser();
    let (_, token) = consent_page(&app, &b).await;
    let res = b
        .post(format!("{}/consent", app.public))
        .form(&[
            ("consent_challenge", "ch-2"),
            ("decision", "grant"),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(upstream.decisions().is_empty());
}

/// A crafted `return_to` (or similar) on login-ui's own routes never becomes a redirect target
/// or a link: redirects lead only where upstreams said.
#[tokio::test]
async fn crafted_return_to_is_ignored() {
    let upstream = upstream().await;
    let app = login_ui(&upstream).await;
    let evil = "return_to=https%3A%2F%2Fevil.test%2Fphish";
    for path in [
        format!("/?{evil}"),
        format!("/login?{evil}"),
        format!("/error?error=access_denied&{evil}"),
        format!("/error?id=e-1&{evil}&redirect_to=https%3A%2F%2Fevil.test"),
        format!("/logout?logout_challenge=lo-1&{evil}"),
        format!("/consent?consent_challenge=ch-1&{evil}"),
        format!("/device/done?{evil}"),
    ] {
        let res = app.get(&path).await;
        let location = res
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        if let Some(location) = &location {
            assert!(location.starts_with(&upstream.url), "{path} → {location}");
            assert!(
                !location.contains("evil.test")
                    || location.contains("return_to=https%3A%2F%2Fevil"),
                "{path} → {location}"
            );
        }
        let html = res.text().await.unwrap();
        assert!(!html.contains("evil.test"), "{path}: {html}");
    }
}
