//! Device challenges: the challenge table, single use, binding to the browser, and the limits on
//! guessing user codes (per challenge, per browser, overall).

use std::time::Duration;

use serde_json::{Value, json};

use super::{accept_user_code, device_auth, device_client, open_challenge};
use crate::browser::{browser, flow_app, follow};
use crate::helpers::{ERROR_UI, LOGIN_UI};

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
    assert!(follow(&owner, &verifier_url).await.starts_with(LOGIN_UI));
    let replay = follow(&owner, &verifier_url).await;
    assert!(
        replay.starts_with(&format!("{ERROR_UI}?error=access_denied")),
        "{replay}"
    );

    // Expiry: an open challenge older than ttl.login_consent_request is 410.
    let late = open_challenge(&browser(), &auth).await;
    app.clock.advance(Duration::from_secs(31 * 60));
    assert_eq!(accept_user_code(&app, &late, user_code).await.status(), 410);
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
