//! The device authorization grant (RFC 8628) end to end through the admin API, and its device
//! challenges against the challenge table (security.md TK-01 single use, TK-10 grant
//! restrictions, LC challenge rows, AZ-style binding to the browser).

use std::time::Duration;

use serde_json::{Value, json};

use crate::browser::{browser, flow_app, follow, location, query_param};
use crate::helpers::{ERROR_UI, LOGIN_UI, TestApp};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const DEVICE_UI: &str = "https://ui.test/device";
const DONE_UI: &str = "https://ui.test/device/done";

/// A confidential `client_secret_post` client allowed the device grant (and refresh tokens).
async fn device_client(app: &TestApp) -> (String, String) {
    let res = app
        .create_client(json!({"grant_types": [DEVICE_GRANT, "refresh_token"],
            "scope": "openid offline_access email", "token_endpoint_auth_method": "client_secret_post"}))
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    (
        body["client_id"].as_str().unwrap().into(),
        body["client_secret"].as_str().unwrap().into(),
    )
}

async fn post_form(app: &TestApp, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let res = app
        .http
        .post(format!("{}{path}", app.public))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    assert_eq!(res.headers()["cache-control"], "no-store");
    (status, res.json().await.unwrap())
}

async fn device_auth(app: &TestApp, client: &(String, String), scope: &str) -> Value {
    let (status, body) = post_form(
        app,
        "/oauth2/device/auth",
        &[
            ("client_id", &client.0),
            ("client_secret", &client.1),
            ("scope", scope),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn poll(app: &TestApp, client: &(String, String), device_code: &str) -> (u16, Value) {
    post_form(
        app,
        "/oauth2/token",
        &[
            ("grant_type", DEVICE_GRANT),
            ("device_code", device_code),
            ("client_id", &client.0),
            ("client_secret", &client.1),
        ],
    )
    .await
}

/// Opens a device challenge in `browser` from `verification_uri_complete`.
async fn open_challenge(browser: &reqwest::Client, auth: &Value) -> String {
    let to_ui = follow(browser, auth["verification_uri_complete"].as_str().unwrap()).await;
    assert!(
        to_ui.starts_with(&format!("{DEVICE_UI}?device_challenge=oly_dch_")),
        "{to_ui}"
    );
    assert_eq!(
        query_param(&to_ui, "user_code").as_deref(),
        auth["user_code"].as_str()
    );
    query_param(&to_ui, "device_challenge").unwrap()
}

async fn accept_user_code(app: &TestApp, challenge: &str, user_code: &str) -> reqwest::Response {
    app.http
        .put(format!(
            "{}/admin/oauth2/auth/requests/device/accept?device_challenge={challenge}",
            app.admin
        ))
        .json(&json!({"user_code": user_code}))
        .send()
        .await
        .unwrap()
}

/// Plays the user: enters the user code, signs in as `user-1` and grants (or denies) the
/// consent; returns where the browser ends.
async fn decide(app: &TestApp, auth: &Value, grant: bool) -> String {
    let browser = browser();
    let challenge = open_challenge(&browser, auth).await;
    // The user types the code in lower case without the dash: it is normalised.
    let typed = auth["user_code"]
        .as_str()
        .unwrap()
        .replace('-', "")
        .to_lowercase();
    let res = accept_user_code(app, &challenge, &typed).await;
    assert_eq!(res.status(), 200);
    let redirect: Value = res.json().await.unwrap();
    let to_login = follow(&browser, redirect["redirect_to"].as_str().unwrap()).await;
    assert!(
        to_login.starts_with(&format!("{LOGIN_UI}?login_challenge=")),
        "{to_login}"
    );
    let login = query_param(&to_login, "login_challenge").unwrap();
    let accepted: Value = app
        .admin_put("login", "accept", &login, json!({"subject": "user-1"}))
        .await
        .json()
        .await
        .unwrap();
    let to_consent = follow(&browser, accepted["redirect_to"].as_str().unwrap()).await;
    let consent = query_param(&to_consent, "consent_challenge").expect("sent to consent");
    let request: Value = app
        .admin_get("consent", &consent)
        .await
        .json()
        .await
        .unwrap();
    let answer = match grant {
        true => app.admin_put("consent", "accept", &consent,
            json!({"grant_scope": request["requested_scope"], "session": {"id_token": {"email": "ada@example.com"}}})).await,
        false => app.admin_put("consent", "reject", &consent, json!({"error": "access_denied"})).await,
    };
    let answer: Value = answer.json().await.unwrap();
    follow(&browser, answer["redirect_to"].as_str().unwrap()).await
}

/// TK-01 (single use): pending while the user decides, then tokens exactly once.
#[tokio::test]
async fn device_flow_issues_tokens_once_after_login_and_consent() {
    let app = flow_app().await;
    let client = device_client(&app).await;
    let auth = device_auth(&app, &client, "openid offline_access email").await;
    let user_code = auth["user_code"].as_str().unwrap();
    assert!(auth["device_code"].as_str().unwrap().starts_with("oly_dc_"));
    assert_eq!(user_code.len(), 9);
    assert!(
        user_code
            .chars()
            .all(|c| c == '-' || "BCDFGHJKLMNPQRSTVWXZ".contains(c))
    );
    assert_eq!(
        auth["verification_uri"],
        format!("{}/oauth2/device/verify", app.public)
    );
    assert_eq!(auth["expires_in"], 600);
    assert_eq!(auth["interval"], 5);
    let device_code = auth["device_code"].as_str().unwrap();

    let (status, body) = poll(&app, &client, device_code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("authorization_pending"))
    );

    let done = decide(&app, &auth, true).await;
    assert_eq!(done, DONE_UI);
    app.clock.advance(Duration::from_secs(6));
    let (status, tokens) = poll(&app, &client, device_code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "bearer");
    assert_eq!(tokens["scope"], "openid offline_access email");
    assert!(tokens["id_token"].is_string());
    assert!(
        tokens["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("oly_rt_")
    );
    let userinfo: Value = app
        .http
        .get(format!("{}/userinfo", app.public))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        userinfo,
        json!({"sub": "user-1", "email": "ada@example.com"})
    );

    app.clock.advance(Duration::from_secs(6));
    let (status, again) = poll(&app, &client, device_code).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

/// RFC 8628 §3.5: polling faster than the interval is slow_down, and the interval grows by 5s.
#[tokio::test]
async fn device_polling_too_fast_is_slow_down_and_lengthens_the_interval() {
    let app = flow_app().await;
    let client = device_client(&app).await;
    let auth = device_auth(&app, &client, "openid").await;
    let code = auth["device_code"].as_str().unwrap();
    assert_eq!(
        poll(&app, &client, code).await.1["error"],
        "authorization_pending"
    );
    assert_eq!(poll(&app, &client, code).await.1["error"], "slow_down");
    // The interval is 10s now: 6s later is still too soon (and it grows to 15s).
    app.clock.advance(Duration::from_secs(6));
    assert_eq!(poll(&app, &client, code).await.1["error"], "slow_down");
    app.clock.advance(Duration::from_secs(16));
    assert_eq!(
        poll(&app, &client, code).await.1["error"],
        "authorization_pending"
    );
}

#[tokio::test]
async fn device_code_after_its_lifetime_is_expired_token() {
    let app = flow_app().await;
    let client = device_client(&app).await;
    let auth = device_auth(&app, &client, "openid").await;
    app.clock.advance(Duration::from_secs(601));
    let (status, body) = poll(&app, &client, auth["device_code"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("expired_token"))
    );
    // Its user code cannot be entered any more either.
    let challenge = open_challenge(&browser(), &auth).await;
    let res = accept_user_code(&app, &challenge, auth["user_code"].as_str().unwrap()).await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn device_denied_by_the_user_is_access_denied() {
    let app = flow_app().await;
    let client = device_client(&app).await;
    let auth = device_auth(&app, &client, "openid").await;
    let done = decide(&app, &auth, false).await;
    assert!(
        done.starts_with(&format!("{DONE_UI}?error=access_denied")),
        "{done}"
    );
    app.clock.advance(Duration::from_secs(6));
    let (status, body) = poll(&app, &client, auth["device_code"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("access_denied"))
    );
}

/// TK-10: a client without the device grant, an unknown scope, a wrong secret, another
/// client's device code.
#[tokio::test]
async fn device_grant_restrictions() {
    let app = flow_app().await;
    let (web, web_secret) = app.confidential_client().await;
    let res = app
        .http
        .post(format!("{}/oauth2/device/auth", app.public))
        .basic_auth(&web, Some(&web_secret))
        .form(&[("scope", "openid")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );
    let client = device_client(&app).await;
    let (status, body) = post_form(
        &app,
        "/oauth2/device/auth",
        &[
            ("client_id", &client.0),
            ("client_secret", &client.1),
            ("scope", "openid admin"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    let (status, body) = post_form(
        &app,
        "/oauth2/device/auth",
        &[
            ("client_id", &client.0),
            ("client_secret", "wrong-secret-wrong-secret-wrong-secret"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let auth = device_auth(&app, &client, "openid").await;
    let other = device_client(&app).await;
    let (status, body) = poll(&app, &other, auth["device_code"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

/// Brute force: wrong user codes are counted; the fifth spends the challenge (410 after it),
/// and the real code still works from a fresh challenge.
#[tokio::test]
async fn device_wrong_user_codes_are_counted_and_end_the_challenge() {
    let app = flow_app().await;
    let client = device_client(&app).await;
    let auth = device_auth(&app, &client, "openid").await;
    let browser = browser();
    let challenge = open_challenge(&browser, &auth).await;
    for wrong in ["BBBB-BBBB", "not a code", "", "CCCC-CCCC", "DDDD-DDDD"] {
        let res = accept_user_code(&app, &challenge, wrong).await;
        assert_eq!(res.status(), 400, "{wrong}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");
        assert!(!body.to_string().contains(wrong) || wrong.is_empty());
    }
    let user_code = auth["user_code"].as_str().unwrap();
    let res = accept_user_code(&app, &challenge, user_code).await;
    assert_eq!(res.status(), 410);
    let fresh = open_challenge(&browser, &auth).await;
    assert_eq!(
        accept_user_code(&app, &fresh, user_code).await.status(),
        200
    );
}

/// The challenge table for device challenges: unknown 404, missing 400, first accept 200, any
/// later call 410 with a restart URL, expiry 410, a user code works once, the verifier works
/// once and only in the browser that opened the challenge (403).
#[tokio::test]
async fn device_challenges_follow_the_challenge_table() {
    let app = flow_app().await;
    let client = device_client(&app).await;
    let auth = device_auth(&app, &client, "openid").await;
    let user_code = auth["user_code"].as_str().unwrap();
    assert_eq!(
        accept_user_code(&app, "oly_dch_unknown", user_code)
            .await
            .status(),
        404
    );
    let res = app
        .http
        .put(format!(
            "{}/admin/oauth2/auth/requests/device/accept",
            app.admin
        ))
        .json(&json!({"user_code": user_code}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    let owner = browser();
    let challenge = open_challenge(&owner, &auth).await;
    let first = accept_user_code(&app, &challenge, user_code).await;
    assert_eq!(first.status(), 200);
    let verifier_url = first.json::<Value>().await.unwrap()["redirect_to"]
        .as_str()
        .unwrap()
        .to_string();
    let again = accept_user_code(&app, &challenge, user_code).await;
    assert_eq!(again.status(), 410);
    let restart = again.json::<Value>().await.unwrap()["redirect_to"].clone();
    assert_eq!(restart, format!("{}/oauth2/device/verify", app.public));
    // The user code is spent: another challenge cannot take it.
    let other = open_challenge(&browser(), &auth).await;
    assert_eq!(
        accept_user_code(&app, &other, user_code).await.status(),
        400
    );

    // Another browser presenting the verifier: 403, and the verifier stays usable.
    let res = browser().get(&verifier_url).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(
        location_of(&owner, &verifier_url)
            .await
            .starts_with(LOGIN_UI)
    );
    let replay = location_of(&owner, &verifier_url).await;
    assert!(
        replay.starts_with(&format!("{ERROR_UI}?error=access_denied")),
        "{replay}"
    );

    // Expiry: an open challenge older than ttl.login_consent_request is 410.
    let late = open_challenge(&browser(), &auth).await;
    app.clock.advance(Duration::from_secs(31 * 60));
    assert_eq!(accept_user_code(&app, &late, user_code).await.status(), 410);
}

async fn location_of(browser: &reqwest::Client, url: &str) -> String {
    location(&browser.get(url).send().await.unwrap())
}

/// Guessing is bounded across challenges too: once live challenges together saw
/// `max_failed_user_codes` wrong codes, every user code is refused until they expire.
#[tokio::test]
async fn device_wrong_user_codes_across_challenges_hit_a_global_limit() {
    let app = crate::helpers::spawn_on(crate::helpers::fresh_database(), |s| {
        s.dev = true;
        s.oauth2.device_authorization.max_failed_user_codes = 3;
    })
    .await;
    let client = device_client(&app).await;
    let auth = device_auth(&app, &client, "openid").await;
    let user_code = auth["user_code"].as_str().unwrap();
    let (first, second) = (browser(), browser());
    let a = open_challenge(&first, &auth).await;
    let b = open_challenge(&second, &auth).await;
    for (challenge, wrong) in [(&a, "BBBB-BBBB"), (&a, "CCCC-CCCC"), (&b, "DDDD-DDDD")] {
        assert_eq!(accept_user_code(&app, challenge, wrong).await.status(), 400);
    }
    let res = accept_user_code(&app, &b, user_code).await;
    assert_eq!(res.status(), 429, "even the right code waits");
    assert_eq!(res.headers()["retry-after"], "60");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "too_many_requests");

    // The wrong guesses age out with their challenges (ttl.login_consent_request).
    app.clock.advance(Duration::from_secs(31 * 60));
    let auth = device_auth(&app, &client, "openid").await;
    let fresh = open_challenge(&browser(), &auth).await;
    let user_code = auth["user_code"].as_str().unwrap();
    assert_eq!(
        accept_user_code(&app, &fresh, user_code).await.status(),
        200
    );
}

async fn revoke_subject(app: &TestApp) {
    let res = app
        .http
        .delete(format!(
            "{}/admin/oauth2/auth/sessions/consent?subject=user-1&all=true",
            app.admin
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
}

/// RT-09 b: revoking every consent of a subject (what a deleted identity causes) also ends the
/// device flow's refresh tokens, and a device code approved but not yet collected.
#[tokio::test]
async fn rt_09_b_revoking_a_subject_ends_device_flow_tokens_and_uncollected_codes() {
    let app = flow_app().await;
    let client = device_client(&app).await;
    let auth = device_auth(&app, &client, "openid offline_access").await;
    decide(&app, &auth, true).await;
    app.clock.advance(Duration::from_secs(6));
    let (status, tokens) = poll(&app, &client, auth["device_code"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{tokens}");
    let waiting = device_auth(&app, &client, "openid offline_access").await;
    decide(&app, &waiting, true).await;

    revoke_subject(&app).await;
    let (status, body) = post_form(
        &app,
        "/oauth2/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", &client.0),
            ("client_secret", &client.1),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    app.clock.advance(Duration::from_secs(6));
    let (status, body) = poll(&app, &client, waiting["device_code"].as_str().unwrap()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "access_denied");
}

/// RT-09 b: a code issued before the subject's consents were revoked cannot start a new chain.
#[tokio::test]
async fn rt_09_b_revoking_a_subject_spends_codes_not_yet_exchanged() {
    let app = flow_app().await;
    let (id, secret) = app.confidential_client().await;
    let scope = [("scope", Some("openid offline_access"))];
    let code = crate::helpers::obtain_code(&app, &id, &scope).await;
    revoke_subject(&app).await;
    let res = crate::token::redeem(
        &app,
        &crate::token::Auth::Basic(&id, &secret),
        &code,
        crate::browser::REDIRECT,
    )
    .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
}

/// One browser's wrong codes across its challenges are bounded on their own, long before the
/// global breaker: other browsers keep working.
#[tokio::test]
async fn device_wrong_user_codes_of_one_browser_hit_its_own_limit() {
    let app = crate::helpers::spawn_on(crate::helpers::fresh_database(), |s| {
        s.dev = true;
        s.oauth2
            .device_authorization
            .max_failed_user_codes_per_browser = 3;
    })
    .await;
    let client = device_client(&app).await;
    let auth = device_auth(&app, &client, "openid").await;
    let user_code = auth["user_code"].as_str().unwrap();
    let guesser = browser();
    let a = open_challenge(&guesser, &auth).await;
    let b = open_challenge(&guesser, &auth).await;
    for (challenge, wrong) in [(&a, "BBBB-BBBB"), (&a, "CCCC-CCCC"), (&b, "DDDD-DDDD")] {
        assert_eq!(accept_user_code(&app, challenge, wrong).await.status(), 400);
    }
    assert_eq!(accept_user_code(&app, &b, user_code).await.status(), 429);
    let other = open_challenge(&browser(), &auth).await;
    assert_eq!(
        accept_user_code(&app, &other, user_code).await.status(),
        200
    );
}
