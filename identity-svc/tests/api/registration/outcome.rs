//! What a completed registration leaves: the identity with its normalised identifier, and a
//! session only with the `session` hook.

use serde_json::{Value, json};

use crate::browser::{Browser, browser_app};
use crate::flows::{get_public, session_hook_app, sign_up};
use crate::helpers::{DEFAULT_RETURN, expect_error};

/// Without the session hook (Kratos' default) a registration creates the identity and nothing
/// more; the identifier is stored normalised, so another spelling signs in (IF-21).
#[tokio::test]
async fn if_21_registration_normalises_identifiers_and_issues_no_session_by_default() {
    let app = browser_app().await;
    let browser = Browser::new();
    let flow = browser
        .start_registration(&app, "?return_to=https://app.test/welcome")
        .await;
    let res = browser
        .submit(&flow, &sign_up(" Ada@Example.COM "), false)
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "https://app.test/welcome");
    assert!(
        !res.headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("olympus_session=")),
        "no session without the hook"
    );
    assert_eq!(browser.whoami(&app).await.status(), 401);

    let found = app.identities_with("ada@example.com").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["traits"]["email"], "Ada@Example.COM");
    assert_eq!(found[0]["traits"]["name"], json!({"first": "Ada"}));
    assert_eq!(
        found[0]["verifiable_addresses"][0]["value"],
        "ada@example.com"
    );
    // The lower-case spelling signs in with the password given at registration.
    let session = browser.log_in(&app, "ada@example.com").await;
    assert_eq!(session["session"]["identity"]["id"], found[0]["id"]);

    // Another Unicode form of the same address (full-width letters, NFKC) collides.
    let other = Browser::new();
    let flow = other.start_registration(&app, "").await;
    let res = other
        .submit(&flow, &sign_up("Ａｄａ@example.com"), true)
        .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["ui"]["messages"][0]["id"], 4000007, "{body}");
    assert_eq!(app.identity_count().await, 1);
    // So does the admin API, which derives identifiers the same way.
    let res = app
        .create_identity(json!({"schema_id": "default", "traits": {"email": "ADA@EXAMPLE.COM"}}))
        .await;
    assert_eq!(res.status(), 409);
}

#[tokio::test]
async fn the_session_hook_signs_the_new_identity_in() {
    let app = session_hook_app().await;
    let browser = Browser::new();
    let flow = browser.start_registration(&app, "").await;
    let res = browser
        .submit(&flow, &sign_up("ada@example.com"), false)
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], DEFAULT_RETURN);
    let cookies: Vec<_> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_string())
        .collect();
    let session_cookie = cookies
        .iter()
        .find(|c| c.starts_with("olympus_session="))
        .expect("session cookie");
    assert!(session_cookie.contains("HttpOnly"), "{session_cookie}");
    assert!(
        cookies.iter().any(|c| c.starts_with("olympus_csrf=")),
        "the CSRF token is renewed"
    );
    let whoami: Value = browser.whoami(&app).await.json().await.unwrap();
    assert_eq!(whoami["identity"]["traits"]["email"], "ada@example.com");
    assert_eq!(whoami["authentication_methods"][0]["method"], "password");

    // A signed-in browser is not offered another registration.
    let res = get_public(
        &browser.http,
        &app,
        "/self-service/registration/browser",
        false,
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], DEFAULT_RETURN);
    let res = get_public(
        &browser.http,
        &app,
        "/self-service/registration/browser",
        true,
    )
    .await;
    assert_eq!(
        expect_error(res, 400).await["id"],
        "session_already_available"
    );

    // An SPA gets the identity and the session as JSON, and the cookie, but never the token.
    let spa = Browser::new();
    let flow = spa.start_registration(&app, "").await;
    let res = spa.submit(&flow, &sign_up("grace@example.com"), true).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("olympus_session="))
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["identity"]["traits"]["email"], "grace@example.com");
    assert_eq!(body["session"]["identity"]["id"], body["identity"]["id"]);
    assert!(body.get("session_token").is_none(), "{body}");
    assert!(body["identity"].get("metadata_admin").is_none());
    assert_eq!(body["continue_with"][0]["action"], "redirect_browser_to");
    assert_eq!(spa.whoami(&app).await.status(), 200);
}
