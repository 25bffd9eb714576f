//! identity-svc's self-service flows through login-ui's pages only: three real binaries and a
//! cookie-keeping browser that fills the forms login-ui renders (one per node group), pressing
//! the button whose `name`/`value` are identity-svc's. Codes come from the courier's admin API.

mod support;

use std::time::Duration;

use olympus_tests::harness::Domain;
use serde_json::Value;
use support::{Browser, Form, dev_domain, form_with, page_forms};
use totp_rs::{Builder, Secret};

const NEW_PASSWORD: &str = "a completely different passphrase 42";

/// Opens a login-ui page (following redirects) and answers its URL and html.
async fn open(browser: &Browser, url: &str) -> (String, String) {
    let (url, form) = browser.follow_to_page(url).await;
    (url, form.map(|f| f.text).unwrap_or_default())
}

/// Presses the button `name=value` on the page, with `typed` fields; answers the next page.
async fn press(
    browser: &Browser,
    page: &(String, String),
    name: &str,
    value: &str,
    typed: &[(&str, &str)],
) -> (String, String) {
    let form: Form = form_with(&page.0, &page.1, name, value)
        .unwrap_or_else(|| panic!("no button {name}={value} on {}: {}", page.0, page.1));
    let (url, next) = browser.submit(&form, typed).await;
    (url, next.map(|f| f.text).unwrap_or_default())
}

/// The newest courier message of `template` to `recipient`, waiting for it to be queued.
async fn courier_code(domain: &Domain, recipient: &str, template: &str) -> String {
    let url = format!("{}/admin/courier/messages", domain.identity.admin_url());
    for _ in 0..200 {
        let messages: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
        let mut found: Vec<&Value> = messages
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["recipient"] == recipient && m["template_type"] == template)
            .collect();
        found.sort_by_key(|m| m["created_at"].as_str().unwrap_or_default().to_string());
        if let Some(message) = found.last() {
            let body = message["body"].as_str().unwrap_or_default();
            return body
                .split(|c: char| !c.is_ascii_digit())
                .find(|word| word.len() == 6)
                .expect("a six-digit code in the message")
                .to_string();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {template} message to {recipient}");
}

/// The TOTP secret the settings page shows under the QR code.
fn totp_secret(html: &str) -> String {
    let at = html.find("totp_secret_key").expect("the secret is shown");
    let rest = &html[at..];
    let start = rest.find("<code>").unwrap() + "<code>".len();
    let end = rest.find("</code>").unwrap();
    rest[start..end].to_string()
}

/// The code of the step `offset` steps from now (-1, 0 or 1: identity-svc allows one step of
/// skew). identity-svc takes each step once and only later ones, so a test that needs three
/// codes in a row uses the previous, the current and the next step.
fn totp_code(secret: &str, offset: i64) -> String {
    let totp = Builder::new()
        .with_secret(Secret::try_from_base32(secret).expect("a base32 secret"))
        .with_account_name("t")
        .build_noncompliant();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    totp.generate(now.saturating_add_signed(offset * 30))
        .to_string()
}

async fn identity_by_email(domain: &Domain, email: &str) -> Value {
    let url = format!(
        "{}/admin/identities?credentials_identifier={email}",
        domain.identity.admin_url()
    );
    let list: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    list[0].clone()
}

async fn whoami(domain: &Domain, browser: &Browser) -> reqwest::Response {
    let url = format!("{}/sessions/whoami", domain.identity.public_url());
    browser.http().get(url).send().await.unwrap()
}

/// Signs out through identity-svc's browser logout URL.
async fn sign_out(domain: &Domain, browser: &Browser) {
    let url = format!(
        "{}/self-service/logout/browser",
        domain.identity.public_url()
    );
    let logout: Value = browser
        .http()
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    browser
        .follow_to_page(logout["logout_url"].as_str().unwrap())
        .await;
    assert_eq!(whoami(domain, browser).await.status(), 401);
}

/// Registers `email` with the password form of `/registration`; the browser is then signed in.
async fn register(domain: &Domain, browser: &Browser, email: &str) {
    let ui = domain.login_ui.public_url();
    let page = open(browser, &format!("{ui}/registration")).await;
    assert!(
        page.0.starts_with(&format!("{ui}/registration?flow=")),
        "{}",
        page.0
    );
    assert!(page.1.contains("Create an account"));
    let typed = [
        ("traits.email", email),
        ("traits.name.first", "Ada"),
        ("password", support::PASSWORD),
    ];
    let after = press(browser, &page, "method", "password", &typed).await;
    assert_eq!(
        whoami(domain, browser).await.status(),
        200,
        "{} {}",
        after.0,
        after.1
    );
}

#[tokio::test]
async fn a_person_registers_verifies_secures_signs_in_with_totp_and_recovers() {
    let domain = dev_domain().await;
    let ui = domain.login_ui.public_url();
    let browser = Browser::new();
    let email = "grace@example.com";
    register(&domain, &browser, email).await;

    // Verification: the email, then the code from the mail.
    let page = open(&browser, &format!("{ui}/verification")).await;
    assert!(
        page.0.starts_with(&format!("{ui}/verification?flow=")),
        "{}",
        page.0
    );
    let page = press(&browser, &page, "method", "code", &[("email", email)]).await;
    let code = courier_code(&domain, email, "verification_code_valid").await;
    press(&browser, &page, "method", "code", &[("code", &code)]).await;
    let identity = identity_by_email(&domain, email).await;
    assert_eq!(
        identity["verifiable_addresses"][0]["verified"], true,
        "{identity}"
    );

    // Settings: profile, password, then a TOTP app from the QR code's secret.
    let page = open(&browser, &format!("{ui}/settings")).await;
    assert!(
        page.0.starts_with(&format!("{ui}/settings?flow=")),
        "{}",
        page.0
    );
    let page = press(
        &browser,
        &page,
        "method",
        "profile",
        &[("traits.name.first", "Grace")],
    )
    .await;
    let page = press(
        &browser,
        &page,
        "method",
        "password",
        &[("password", NEW_PASSWORD)],
    )
    .await;
    assert!(
        page.1
            .contains(r#"<img src="data:image&#x2F;svg+xml;base64,"#),
        "{}",
        page.1
    );
    let secret = totp_secret(&page.1);
    let page = press(
        &browser,
        &page,
        "method",
        "totp",
        &[("totp_code", &totp_code(&secret, -1))],
    )
    .await;
    // The identity has a second factor now: settings need it, so login-ui shows the step-up.
    assert!(
        page.0.starts_with(&format!("{ui}/login?flow=")),
        "{}",
        page.0
    );
    assert!(
        page.1.contains("Confirm it is you with your second factor"),
        "{}",
        page.1
    );
    let page = press(
        &browser,
        &page,
        "method",
        "totp",
        &[("totp_code", &totp_code(&secret, 0))],
    )
    .await;
    let page = if page.0.starts_with(&format!("{ui}/settings?flow=")) {
        page
    } else {
        open(&browser, &format!("{ui}/settings")).await
    };
    assert!(
        page.1.contains(r#"name="totp_unlink""#),
        "TOTP is enrolled: {}",
        page.1
    );
    let identity = identity_by_email(&domain, email).await;
    assert_eq!(identity["traits"]["name"]["first"], "Grace");

    // Recovery codes: generated, shown as a list, confirmed.
    let page = press(&browser, &page, "lookup_secret_regenerate", "true", &[]).await;
    assert!(page.1.contains(r#"<ul class="codes""#), "{}", page.1);
    let start = page.1.find("<li><code>").expect("a recovery code") + "<li><code>".len();
    let recovery_code = page.1[start..start + page.1[start..].find('<').unwrap()].to_string();
    let page = press(&browser, &page, "lookup_secret_confirm", "true", &[]).await;
    assert!(
        page.1.contains(r#"name="lookup_secret_reveal""#),
        "{}",
        page.1
    );

    // Sign out, sign in with the new password: identity-svc asks for the second factor.
    sign_out(&domain, &browser).await;
    let page = open(&browser, &format!("{ui}/login")).await;
    let typed = [("identifier", email), ("password", NEW_PASSWORD)];
    let page = press(&browser, &page, "method", "password", &typed).await;
    assert!(
        page.0.starts_with(&format!("{ui}/login?flow=")),
        "{}",
        page.0
    );
    assert!(
        page.1.contains("Confirm it is you with your second factor"),
        "{}",
        page.1
    );
    let code = totp_code(&secret, 1);
    press(&browser, &page, "method", "totp", &[("totp_code", &code)]).await;
    let session: Value = whoami(&domain, &browser).await.json().await.unwrap();
    assert_eq!(
        session["authenticator_assurance_level"], "aal2",
        "{session}"
    );

    // Recovery by code, in a new browser.
    let stranger = Browser::new();
    let page = open(&stranger, &format!("{ui}/recovery")).await;
    assert!(
        page.0.starts_with(&format!("{ui}/recovery?flow=")),
        "{}",
        page.0
    );
    let page = press(&stranger, &page, "method", "code", &[("email", email)]).await;
    let code = courier_code(&domain, email, "recovery_code_valid").await;
    let page = press(&stranger, &page, "method", "code", &[("code", &code)]).await;
    // The recovered session is one factor; the identity has two, so login-ui shows the step-up,
    // answered here with a recovery code.
    assert!(
        page.0.starts_with(&format!("{ui}/login?flow=")),
        "{}",
        page.0
    );
    let error: Value = whoami(&domain, &stranger).await.json().await.unwrap();
    assert_eq!(error["error"]["id"], "session_aal2_required", "{error}");
    let typed = [("lookup_secret", recovery_code.as_str())];
    let page = press(&stranger, &page, "method", "lookup_secret", &typed).await;
    assert!(
        page.0.starts_with(&format!("{ui}/settings?flow=")),
        "{}",
        page.0
    );
    let session: Value = whoami(&domain, &stranger).await.json().await.unwrap();
    assert_eq!(
        session["authenticator_assurance_level"], "aal2",
        "{session}"
    );
}

#[tokio::test]
async fn an_unknown_or_foreign_flow_starts_again() {
    let domain = dev_domain().await;
    let ui = domain.login_ui.public_url();
    let browser = Browser::new();
    for kind in ["login", "registration", "recovery", "verification"] {
        let unknown = "00000000-0000-4000-8000-000000000000";
        let (url, form) = browser
            .follow_to_page(&format!("{ui}/{kind}?flow={unknown}"))
            .await;
        assert!(url.starts_with(&format!("{ui}/{kind}?flow=")), "{url}");
        assert!(!url.contains(unknown), "a new flow: {url}");
        assert!(form.is_some(), "{kind} shows a form");
    }
    // A flow of another browser (its CSRF cookie is not ours, as when cookies are blocked) does
    // not restart by itself, which would loop: a page explains cookies and links a restart.
    let (url, _) = browser.follow_to_page(&format!("{ui}/login")).await;
    let other = Browser::new();
    let res = other.http().get(&url).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.headers().get("location").is_none());
    let html = res.text().await.unwrap();
    assert!(html.contains("Allow cookies for this site"), "{html}");
    // Starting again by hand gives this browser a flow of its own.
    let (again, form) = other.follow_to_page(&format!("{ui}/login")).await;
    assert!(again.starts_with(&format!("{ui}/login?flow=")), "{again}");
    assert!(form.is_some());
    // Flow pages are never cached and allow only scripts with their own nonce.
    let res = other.http().get(&again).send().await.unwrap();
    assert_eq!(res.headers()["cache-control"], "no-store");
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'nonce-") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    // login-ui's own WebAuthn script is served as a script.
    let res = other
        .http()
        .get(format!("{ui}/static/webauthn.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("navigator.credentials.create")
    );
    // Settings without a session lead to the sign-in.
    let (url, _) = other.follow_to_page(&format!("{ui}/settings")).await;
    assert!(url.starts_with(&format!("{ui}/login?flow=")), "{url}");
}

#[tokio::test]
async fn other_sessions_are_listed_and_revoked_from_settings() {
    let domain = dev_domain().await;
    let ui = domain.login_ui.public_url();
    let first = Browser::new();
    let email = "hopper@example.com";
    register(&domain, &first, email).await;
    let second = Browser::new();
    let page = open(&second, &format!("{ui}/login")).await;
    let typed = [("identifier", email), ("password", support::PASSWORD)];
    press(&second, &page, "method", "password", &typed).await;
    assert_eq!(whoami(&domain, &second).await.status(), 200);

    let (url, html) = open(&first, &format!("{ui}/settings")).await;
    let revoke = page_forms(&url, &html)
        .into_iter()
        .find(|f| f.action.ends_with("/settings/sessions/revoke"))
        .expect("a revoke form for the other session");
    // A forged token is refused and revokes nothing.
    let forged: Vec<(String, String)> = revoke
        .fields
        .iter()
        .map(|(n, v)| {
            (
                n.clone(),
                if n == "csrf_token" {
                    "x".into()
                } else {
                    v.clone()
                },
            )
        })
        .collect();
    let res = first
        .http()
        .post(&revoke.action)
        .form(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(whoami(&domain, &second).await.status(), 200);
    first.submit(&revoke, &[]).await;
    assert_eq!(whoami(&domain, &second).await.status(), 401);
    assert_eq!(whoami(&domain, &first).await.status(), 200);
}
