//! Sign-in, consent, denial, RP-initiated logout and a keyboard-only sign-in, in Chromium through
//! login-ui's real pages.

use olympus_tests::browser::{ENTER, TAB};
use serde_json::json;

use super::common::{PASSWORD, World, create_user, jwt_claims, query, tools};

/// Sign in to the demo relying party with a password, allow and remember the consent, see the ID
/// token's claims there; then sign in again, this time without a password or a consent screen.
#[tokio::test]
async fn browser_sign_in_consent_and_sign_in_again_at_the_demo_rp() {
    let Some(tools) = tools("browser_sign_in_consent_and_sign_in_again_at_the_demo_rp") else {
        return;
    };
    let mut w = World::start(&tools, "sign-in-demo-rp").await;
    let user = create_user(&w.domain, "ada@example.com").await;
    let demo = w.demo_rp().await;
    let demo_url = demo.public_url();
    w.visitor
        .browser
        .goto(&format!("{demo_url}/"))
        .await
        .unwrap();
    w.visitor.page("demo-rp-home").await.unwrap();
    w.visitor
        .browser
        .goto(&format!("{demo_url}/login"))
        .await
        .unwrap();
    w.sign_in("ada@example.com", PASSWORD).await;
    w.consent("grant", true).await;
    w.visitor
        .wait_for(&format!("{demo_url}/callback"))
        .await
        .unwrap();
    w.visitor.page("demo-rp-signed-in").await.unwrap();
    let text = w.visitor.body_text().await.unwrap();
    assert!(text.contains("Signed in"), "{text}");
    assert!(text.contains(user["id"].as_str().unwrap()), "sub: {text}");
    assert!(text.contains("ada@example.com"), "email: {text}");

    // Again: identity-svc's session and the remembered consent carry it straight through.
    w.visitor
        .browser
        .goto(&format!("{demo_url}/login"))
        .await
        .unwrap();
    let url = w
        .visitor
        .wait_for(&format!("{demo_url}/callback"))
        .await
        .unwrap();
    assert!(query(&url, "code").is_some(), "{url}");
    w.visitor.page("demo-rp-signed-in-again").await.unwrap();
    let text = w.visitor.body_text().await.unwrap();
    assert!(
        text.contains("Signed in") && text.contains("ada@example.com"),
        "{text}"
    );
}

/// Deny on the consent page: the relying party receives `error=access_denied` and no code.
#[tokio::test]
async fn browser_denied_consent_returns_access_denied() {
    let Some(tools) = tools("browser_denied_consent_returns_access_denied") else {
        return;
    };
    let mut w = World::start(&tools, "deny-consent").await;
    create_user(&w.domain, "ada@example.com").await;
    w.authorize("deny-state-0123").await;
    w.sign_in("ada@example.com", PASSWORD).await;
    w.consent("deny", false).await;
    let url = w
        .visitor
        .wait_for(&format!("{}/callback", w.rp))
        .await
        .unwrap();
    assert_eq!(
        query(&url, "error").as_deref(),
        Some("access_denied"),
        "{url}"
    );
    assert_eq!(query(&url, "state").as_deref(), Some("deny-state-0123"));
    assert_eq!(query(&url, "code"), None);
    w.visitor.page("app-denied").await.unwrap();
}

/// RP-initiated logout with `id_token_hint`: login-ui asks, the user confirms, the browser
/// returns to the post-logout URI, and the next authorization asks for the password again.
#[tokio::test]
async fn browser_rp_initiated_logout_confirms_and_ends_the_session() {
    let Some(tools) = tools("browser_rp_initiated_logout_confirms_and_ends_the_session") else {
        return;
    };
    let mut w = World::start(&tools, "logout").await;
    create_user(&w.domain, "ada@example.com").await;
    w.authorize("login-state-0123").await;
    w.sign_in("ada@example.com", PASSWORD).await;
    w.consent("grant", false).await;
    let url = w
        .visitor
        .wait_for(&format!("{}/callback", w.rp))
        .await
        .unwrap();
    let tokens = w.exchange(&url).await;
    let id_token = tokens["id_token"].as_str().expect("an ID token");
    assert_eq!(jwt_claims(id_token)["email"], "ada@example.com");

    let mut logout =
        reqwest::Url::parse(&format!("{}/oauth2/sessions/logout", w.domain.issuer())).unwrap();
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair("post_logout_redirect_uri", &format!("{}/bye", w.rp))
        .append_pair("state", "bye-state-0123");
    w.visitor.browser.goto(logout.as_str()).await.unwrap();
    let ui = w.domain.login_ui.public_url();
    w.visitor.wait_for(&format!("{ui}/logout")).await.unwrap();
    w.visitor.page_with_phone("logout").await.unwrap();
    w.visitor.press("decision", "accept").await.unwrap();
    let url = w.visitor.wait_for(&format!("{}/bye", w.rp)).await.unwrap();
    assert_eq!(query(&url, "state").as_deref(), Some("bye-state-0123"));
    w.visitor.page("app-signed-out").await.unwrap();

    // Signed out everywhere: the next authorization shows the password form again.
    let page = w.authorize("again-state-0123").await;
    assert!(page.starts_with(&format!("{ui}/login")), "{page}");
    assert!(
        w.visitor
            .browser
            .find("[name=\"password\"]")
            .await
            .unwrap()
            .is_some(),
        "a password field on {page}"
    );
    w.visitor.page("login-after-logout").await.unwrap();
}

/// The login form with the keyboard only: Tab to each field, type, Enter submits.
#[tokio::test]
async fn browser_login_form_works_with_the_keyboard_only() {
    let Some(tools) = tools("browser_login_form_works_with_the_keyboard_only") else {
        return;
    };
    let mut w = World::start(&tools, "keyboard").await;
    create_user(&w.domain, "ada@example.com").await;
    w.authorize("keys-state-0123").await;
    let ui = w.domain.login_ui.public_url();
    w.visitor.wait_for(&format!("{ui}/login")).await.unwrap();
    w.visitor.page("login").await.unwrap();
    let b = &w.visitor.browser;
    let focused = async || {
        let name = b
            .execute(
                "return document.activeElement && document.activeElement.name || ''",
                json!([]),
            )
            .await
            .unwrap();
        name.as_str().unwrap_or_default().to_string()
    };
    let mut steps = 0;
    while focused().await != "identifier" {
        steps += 1;
        assert!(steps < 30, "Tab never reaches the identifier field");
        b.keys(&TAB.to_string()).await.unwrap();
    }
    b.keys("ada@example.com").await.unwrap();
    b.keys(&TAB.to_string()).await.unwrap();
    assert_eq!(
        focused().await,
        "password",
        "Tab goes from the identifier to the password"
    );
    b.keys(&format!("{PASSWORD}{ENTER}")).await.unwrap();
    w.visitor.wait_for(&format!("{ui}/consent")).await.unwrap();
    w.visitor.page("consent").await.unwrap();
}
