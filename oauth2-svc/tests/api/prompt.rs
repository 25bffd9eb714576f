//! `/oauth2/auth`: prompt, max_age, id_token_hint, response modes and the loopback rule
//! (security.md AZ-05, AZ-14, AZ-15, BI-11).

use serde_json::Value;

use crate::browser::{REDIRECT, browser, flow_app, follow, location, query_param};
use crate::handoff::{client_with, sign_in_remembering, tokens};
use crate::helpers::{ERROR_UI, LOGIN_UI, TestApp};

/// The login request a fresh authorization in `browser` produces.
async fn login_request(app: &TestApp, browser: &reqwest::Client, url: &str) -> Value {
    let to_login = follow(browser, url).await;
    assert!(to_login.starts_with(LOGIN_UI), "{to_login}");
    let challenge = query_param(&to_login, "login_challenge").unwrap();
    app.admin_get("login", &challenge)
        .await
        .json()
        .await
        .unwrap()
}

/// Signs `subject` in through a fresh authorization of `client_id` in `browser`, remembering
/// the login and the consent; answers where the browser ends.
async fn remembered(
    app: &TestApp,
    browser: &reqwest::Client,
    client_id: &str,
    subject: &str,
) -> String {
    let url = app.authorize_url(client_id, &[]);
    sign_in_remembering(app, browser, &url, subject, true).await
}

/// The browser ended at the client with the OAuth2 error `error`.
fn assert_error(done: &str, error: &str) {
    assert_eq!(query_param(done, "error").as_deref(), Some(error), "{done}");
}

/// AZ-14 (a): prompt=none in a fresh browser is login_required at the client, with state.
#[tokio::test]
async fn az_14_prompt_none_without_a_session_is_login_required() {
    let app = flow_app().await;
    let (client_id, _) = app.confidential_client().await;
    let url = app.authorize_url(&client_id, &[("prompt", Some("none"))]);
    let done = follow(&browser(), &url).await;
    assert!(done.starts_with(REDIRECT), "{done}");
    assert_error(&done, "login_required");
    assert_eq!(query_param(&done, "state").as_deref(), Some("state-123"));
    assert!(query_param(&done, "code").is_none());
}

/// AZ-14 (b) and the silent path: prompt=none with a remembered login but no remembered
/// consent is consent_required; once consent is remembered it completes without any UI and the
/// code works.
#[tokio::test]
async fn az_14_prompt_none_completes_silently_only_with_remembered_consent() {
    let app = flow_app().await;
    let (client_id, secret) = app.confidential_client().await;
    let b = browser();
    let done = sign_in_remembering(
        &app,
        &b,
        &app.authorize_url(&client_id, &[]),
        "user-1",
        false,
    )
    .await;
    assert!(query_param(&done, "code").is_some());
    let silent = app.authorize_url(&client_id, &[("prompt", Some("none"))]);
    let done = follow(&b, &silent).await;
    assert_error(&done, "consent_required");

    remembered(&app, &b, &client_id, "user-1").await;
    let done = follow(&b, &silent).await;
    assert!(done.starts_with(REDIRECT), "no UI on the way: {done}");
    assert_eq!(query_param(&done, "state").as_deref(), Some("state-123"));
    let body = tokens(&app, &client_id, &secret, &done).await;
    assert!(body["id_token"].is_string() && body["access_token"].is_string());
    // A scope the remembered consent does not cover still needs consent.
    let wider = app.authorize_url(
        &client_id,
        &[
            ("prompt", Some("none")),
            ("scope", Some("openid email profile")),
        ],
    );
    let done = follow(&b, &wider).await;
    assert_error(&done, "consent_required");
}

/// AZ-14 (c), (d): prompt=login, select_account and max_age force a new login; a recent
/// enough login is reused; prompt=none with an exceeded max_age is login_required.
#[tokio::test]
async fn az_14_prompt_login_and_max_age_force_a_new_login() {
    let app = flow_app().await;
    let (client_id, _) = app.confidential_client().await;
    let b = browser();
    remembered(&app, &b, &client_id, "user-1").await;
    let skip = |r: &Value| r["skip"].as_bool().unwrap();
    assert!(skip(
        &login_request(&app, &b, &app.authorize_url(&client_id, &[])).await
    ));
    for forcing in [
        ("prompt", "login"),
        ("prompt", "select_account"),
        ("max_age", "0"),
    ] {
        let url = app.authorize_url(&client_id, &[(forcing.0, Some(forcing.1))]);
        assert!(!skip(&login_request(&app, &b, &url).await), "{forcing:?}");
    }
    let max_age = app.authorize_url(&client_id, &[("max_age", Some("3600"))]);
    assert!(skip(&login_request(&app, &b, &max_age).await));
    app.clock.advance(std::time::Duration::from_secs(7200));
    assert!(!skip(&login_request(&app, &b, &max_age).await));
    let silent = app.authorize_url(
        &client_id,
        &[("max_age", Some("3600")), ("prompt", Some("none"))],
    );
    let done = follow(&b, &silent).await;
    assert_error(&done, "login_required");
}

/// AZ-14 (c), (d): `max_age=1` two seconds after a login, and `prompt=login`, show the login UI
/// again (no skip), and the new login gives the ID token a new `auth_time`.
#[tokio::test]
async fn az_14_a_forced_login_gives_a_new_auth_time() {
    use base64::Engine;
    let app = flow_app().await;
    let (client_id, secret) = app.confidential_client().await;
    let b = browser();
    let auth_time = |body: &Value| {
        let payload = body["id_token"]
            .as_str()
            .unwrap()
            .split('.')
            .nth(1)
            .unwrap();
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap();
        claims["auth_time"].as_i64().unwrap()
    };
    let url = app.authorize_url(&client_id, &[]);
    let done = sign_in_remembering(&app, &b, &url, "user-1", true).await;
    let mut last = auth_time(&tokens(&app, &client_id, &secret, &done).await);
    for forcing in [("max_age", "1"), ("prompt", "login")] {
        app.clock.advance(std::time::Duration::from_secs(2));
        let url = app.authorize_url(&client_id, &[(forcing.0, Some(forcing.1))]);
        let request = login_request(&app, &b, &url).await;
        assert_eq!(request["skip"], false, "{forcing:?}: the login UI again");
        let done = sign_in_remembering(&app, &b, &url, "user-1", true).await;
        let now = auth_time(&tokens(&app, &client_id, &secret, &done).await);
        assert!(now >= last + 2, "{forcing:?}: auth_time {now} after {last}");
        last = now;
    }
}

/// BI-11: prompt=none combined, unknown prompt values, negative or huge max_age and unknown
/// response modes are invalid_request at the (registered) redirect_uri.
#[tokio::test]
async fn bi11_prompt_max_age_and_response_mode_values_are_validated() {
    let app = flow_app().await;
    let (client_id, _) = app.confidential_client().await;
    for (key, value) in [
        ("prompt", "none login"),
        ("prompt", "foo"),
        ("max_age", "-1"),
        ("max_age", "99999999999999999999"),
        ("response_mode", "form_post.jwt"),
    ] {
        let done = follow(
            &browser(),
            &app.authorize_url(&client_id, &[(key, Some(value))]),
        )
        .await;
        assert!(done.starts_with(REDIRECT), "{key}={value}: {done}");
        assert_eq!(
            query_param(&done, "error").as_deref(),
            Some("invalid_request"),
            "{key}={value}"
        );
    }
}

/// AZ-14 (e), (f), ID-07: an id_token_hint for the remembered user is shown to the login UI
/// (even once expired); one for another user is login_required; a tampered one is refused.
#[tokio::test]
async fn az_14_id_token_hint_must_match_the_remembered_login() {
    let app = flow_app().await;
    let (client_id, secret) = app.confidential_client().await;
    let (b1, b2) = (browser(), browser());
    let done = remembered(&app, &b1, &client_id, "user-1").await;
    let hint = tokens(&app, &client_id, &secret, &done).await["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    remembered(&app, &b2, &client_id, "user-2").await;
    app.clock.advance(std::time::Duration::from_secs(7200)); // the hint is expired now
    let with_hint = app.authorize_url(&client_id, &[("id_token_hint", Some(&hint))]);
    let request = login_request(&app, &b1, &with_hint).await;
    assert!(request["skip"].as_bool().unwrap());
    assert_eq!(
        request["oidc_context"]["id_token_hint_claims"]["sub"],
        "user-1"
    );
    let done = follow(&b2, &with_hint).await;
    assert_error(&done, "login_required");
    let silent = app.authorize_url(
        &client_id,
        &[("id_token_hint", Some(&hint)), ("prompt", Some("none"))],
    );
    let done = follow(&b2, &silent).await;
    assert_error(&done, "login_required");
    assert!(query_param(&done, "code").is_none());
    let mut parts: Vec<String> = hint.split('.').map(str::to_string).collect();
    parts[2] = parts[2].chars().rev().collect();
    let tampered = app.authorize_url(&client_id, &[("id_token_hint", Some(&parts.join(".")))]);
    let done = follow(&b1, &tampered).await;
    assert_error(&done, "invalid_request");
    let none_alg = format!("eyJhbGciOiJub25lIn0.{}.", parts[1]);
    let done = follow(
        &b1,
        &app.authorize_url(&client_id, &[("id_token_hint", Some(&none_alg))]),
    )
    .await;
    assert_error(&done, "invalid_request");
}

/// AZ-15: fragment puts code, state and iss in the fragment; form_post answers an HTML page
/// that posts them (escaped) to the redirect_uri, its one script allowed by hash.
#[tokio::test]
async fn az_15_fragment_and_form_post_response_modes() {
    let app = flow_app().await;
    let (client_id, _) = app.confidential_client().await;
    let b = browser();
    let url = app.authorize_url(&client_id, &[("response_mode", Some("fragment"))]);
    let done = sign_in_remembering(&app, &b, &url, "user-1", true).await;
    let (base, fragment) = done.split_once('#').expect("a fragment");
    assert_eq!(base, REDIRECT);
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(fragment.as_bytes())
        .into_owned()
        .collect();
    let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["code", "state", "iss"]);

    let url = app.authorize_url(
        &client_id,
        &[
            ("response_mode", Some("form_post")),
            ("prompt", Some("none")),
            ("state", Some("a\"<b>")),
        ],
    );
    let res = b.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'sha256-") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.unwrap();
    assert!(
        html.contains(&format!("<form method=\"post\" action=\"{REDIRECT}\">")),
        "{html}"
    );
    assert!(html.contains("name=\"code\" value=\"oly_ac_"));
    assert!(html.contains("name=\"state\" value=\"a&quot;&lt;b&gt;\""));
    assert!(html.contains(&format!("name=\"iss\" value=\"{}\"", app.public)));
    assert!(html.contains("<button type=\"submit\">"));
}

/// AZ-05: a public client registered at http://127.0.0.1/cb may use any port (RFC 8252 §7.3)
/// with the exact path and no query; localhost gets no such exception and goes to the error
/// page; a web client gets no loopback exception at all.
#[tokio::test]
async fn az_05_loopback_redirects_match_any_port() {
    let app = flow_app().await;
    let client_id = app.public_client().await;
    let ok = app.authorize_url(
        &client_id,
        &[("redirect_uri", Some("http://127.0.0.1:51234/cb"))],
    );
    assert!(follow(&browser(), &ok).await.starts_with(LOGIN_UI));
    let done = crate::browser::sign_in(&app, &browser(), &ok, "user-1").await;
    assert!(
        done.starts_with("http://127.0.0.1:51234/cb?code="),
        "{done}"
    );
    for bad in [
        "http://localhost:51234/cb",
        "http://127.0.0.1:51234/cb?x=1",
        "http://127.0.0.1:51234/other",
        "http://127.0.0.1.evil.test/cb",
    ] {
        let url = app.authorize_url(&client_id, &[("redirect_uri", Some(bad))]);
        let res = browser().get(&url).send().await.unwrap();
        assert!(location(&res).starts_with(ERROR_UI), "{bad}");
    }
    // A web client registered with an exact URI gets no loopback exception.
    let (web, _) = client_with(
        &app,
        serde_json::json!({"redirect_uris": ["https://rp.test/cb"]}),
    )
    .await;
    for loopback in ["http://127.0.0.1/cb", "http://localhost/cb"] {
        let url = app.authorize_url(&web, &[("redirect_uri", Some(loopback))]);
        let to = location(&browser().get(&url).send().await.unwrap());
        assert!(to.starts_with(ERROR_UI), "{loopback} → {to}");
    }
}
