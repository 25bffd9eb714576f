//! Session cases of the security catalogue, password and profile parts: IF-15 (session
//! fixation: signing in always issues a session value the server made, never a planted one) and
//! IF-18 (a password or email change needs a sign-in within the privileged window).

use std::time::Duration;

use serde_json::{Value, json};

use crate::browser::{Browser, PASSWORD};
use crate::courier::SETTINGS_UI;
use crate::flows::{api_login, api_token, get_with_token, start_api_with_token, submit_with_token};
use crate::helpers::{TestApp, expect_error, fresh_database, spawn_on};

const SESSION_COOKIE: &str = "olympus_session";

async fn dev_app(privileged: Duration) -> TestApp {
    spawn_on(fresh_database(), |s| {
        s.dev = true;
        s.selfservice.flows.settings.ui_url = Some(SETTINGS_UI.into());
        s.selfservice.flows.settings.privileged_session_max_age = privileged;
    })
    .await
}

/// The session cookie value a response sets, if any.
fn session_set_by(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{SESSION_COOKIE}=")))
        .map(|c| c.split(';').next().unwrap().to_string())
}

/// A browser whose cookie jar was planted with `value` as the session cookie.
fn planted_browser(app: &TestApp, value: &str) -> Browser {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let url: reqwest::Url = app.public.parse().unwrap();
    jar.add_cookie_str(&format!("{SESSION_COOKIE}={value}; Path=/"), &url);
    Browser {
        http: reqwest::Client::builder()
            .cookie_provider(jar)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

async fn whoami_with_cookie(app: &TestApp, value: &str) -> reqwest::Response {
    app.http
        .get(format!("{}/sessions/whoami", app.public))
        .header("cookie", format!("{SESSION_COOKIE}={value}"))
        .send()
        .await
        .unwrap()
}

async fn browser_login(
    browser: &Browser,
    app: &TestApp,
    query: &str,
    email: &str,
) -> reqwest::Response {
    let flow = browser.start_login(app, query).await;
    browser
        .submit(
            &flow,
            &[("identifier", email), ("password", PASSWORD)],
            true,
        )
        .await
}

#[tokio::test]
async fn if_15_a_planted_session_cookie_is_replaced_at_sign_in() {
    let app = dev_app(Duration::from_secs(3600)).await;
    let ada = app.create_person_with_password("ada@example.com").await;
    let planted = "attacker-chosen-session-value-0123456789";
    let browser = planted_browser(&app, planted);
    let res = browser_login(&browser, &app, "", "ada@example.com").await;
    assert_eq!(res.status(), 200);
    let issued = session_set_by(&res).expect("a session cookie is set at sign-in");
    assert_ne!(issued, planted);
    let whoami: Value = browser.whoami(&app).await.json().await.unwrap();
    assert_eq!(whoami["identity"]["id"], ada["id"]);
    expect_error(whoami_with_cookie(&app, planted).await, 401).await;
}

#[tokio::test]
async fn if_15_an_attackers_session_planted_in_a_browser_never_becomes_the_victims() {
    let app = dev_app(Duration::from_secs(3600)).await;
    let ada = app.create_person_with_password("ada@example.com").await;
    let mallory = app.create_person_with_password("mallory@example.com").await;
    // Mallory signs in in her own browser and plants her session cookie in Ada's.
    let attacker = Browser::new();
    let res = browser_login(&attacker, &app, "", "mallory@example.com").await;
    let mallorys = session_set_by(&res).unwrap();
    let victim = planted_browser(&app, &mallorys);
    // Ada signs in again over it (a refresh: the browser already holds a session).
    let res = browser_login(&victim, &app, "?refresh=true", "ada@example.com").await;
    if res.status() == 200 {
        let issued = session_set_by(&res).expect("a new session cookie");
        assert_ne!(issued, mallorys);
        let whoami: Value = whoami_with_cookie(&app, &issued)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(whoami["identity"]["id"], ada["id"]);
    } else {
        assert!(res.status().is_client_error(), "{}", res.status());
    }
    // Whatever the answer, Mallory's cookie never identifies Ada.
    let res = whoami_with_cookie(&app, &mallorys).await;
    if res.status() == 200 {
        let whoami: Value = res.json().await.unwrap();
        assert_eq!(whoami["identity"]["id"], mallory["id"]);
    } else {
        assert_eq!(res.status(), 401);
    }
    // API sign-ins make a fresh token every time.
    let first = api_token(&app, "ada@example.com").await;
    let second = api_token(&app, "ada@example.com").await;
    assert_ne!(first, second);
}

#[tokio::test]
async fn if_18_password_and_email_changes_need_a_sign_in_within_the_privileged_window() {
    let minute = Duration::from_secs(60);
    let app = dev_app(minute).await;
    app.create_person_with_password("ada@example.com").await;
    let token = api_token(&app, "ada@example.com").await;
    let flow = start_api_with_token(&app, "settings", &token).await;
    app.clock.advance(2 * minute);
    let new_password = "a brand new horse staple";
    let changes = [
        json!({"method": "password", "password": new_password}),
        json!({"method": "profile", "traits": {"email": "new@example.com"}}),
    ];
    for change in &changes {
        let res = submit_with_token(&app, &token, &flow, change.clone()).await;
        assert_eq!(
            expect_error(res, 403).await["id"],
            "session_refresh_required",
            "{change}"
        );
    }
    // Nothing changed: the old password still signs in, the new one does not, and the
    // address is the old one.
    assert_eq!(
        api_login(&app, "ada@example.com", PASSWORD).await.status(),
        200
    );
    assert_eq!(
        api_login(&app, "ada@example.com", new_password)
            .await
            .status(),
        400
    );
    assert_eq!(app.identities_with("new@example.com").await.len(), 0);
    let whoami: Value = get_with_token(&app, "/sessions/whoami", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(whoami["identity"]["traits"]["email"], "ada@example.com");

    // A fresh sign-in may change both.
    let fresh = api_token(&app, "ada@example.com").await;
    for change in &changes {
        let flow = start_api_with_token(&app, "settings", &fresh).await;
        let res = submit_with_token(&app, &fresh, &flow, change.clone()).await;
        assert_eq!(res.status(), 200, "{change}");
    }
    assert_eq!(
        api_login(&app, "new@example.com", new_password)
            .await
            .status(),
        200
    );
}
