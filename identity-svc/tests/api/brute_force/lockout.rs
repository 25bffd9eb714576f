//! When an identifier or an address is locked, what the lock answers and costs, how it ends, and
//! how admins lift it.

use std::time::Duration;

use serde_json::{Value, json};

use super::{INVALID, LOCKED, MINUTE, admin_delete, app, fail, hashes, refusal, sign_in};
use crate::browser::{Browser, PASSWORD};

#[tokio::test]
async fn if_05_an_identifier_is_locked_after_repeated_failures_even_for_the_right_password() {
    let app = app(100, |_| {}).await;
    app.create_person_with_password("ada@example.com").await;
    app.create_person_with_password("bob@example.com").await;
    fail(&app, "ada@example.com", 3).await;

    let before = hashes(&app).await;
    let locked = sign_in(&app, "ADA@example.com ", PASSWORD).await;
    assert_eq!(refusal(&locked), LOCKED, "the identifier is normalised");
    let message = &locked.1["ui"]["messages"][0];
    assert_eq!(message["type"], "error");
    assert_eq!(
        message["text"],
        "Too many failed sign-in attempts; try again in 5 minutes."
    );
    assert_eq!(message["context"]["retry_after_minutes"], 5);
    assert_eq!(
        hashes(&app).await,
        before,
        "a locked identifier costs no password hash"
    );

    // A browser posting the form is sent back to the flow, which shows the message.
    let browser = Browser::new();
    let flow = browser.start_login(&app, "").await;
    let typed = [("identifier", "ada@example.com"), ("password", PASSWORD)];
    let res = browser.submit(&flow, &typed, false).await;
    assert_eq!(res.status(), 303);
    let shown: Value = browser
        .fetch_flow(&app, flow["id"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["ui"]["messages"][0]["id"], LOCKED);
    assert_eq!(browser.whoami(&app).await.status(), 401);

    // Other people signing in from the same address are not affected.
    assert_eq!(sign_in(&app, "bob@example.com", PASSWORD).await.0, 200);
}

/// An attempt counts from its start, so a burst of concurrent guesses gets no more than the
/// limit through to the password check.
#[tokio::test]
async fn if_05_concurrent_guesses_get_no_more_than_the_limit_checked() {
    let app = std::sync::Arc::new(app(100, |_| {}).await);
    app.create_person_with_password("ada@example.com").await;
    let before = hashes(&app).await;
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..8 {
        let app = app.clone();
        guesses.spawn(async move {
            refusal(&sign_in(&*app, "ada@example.com", &format!("guess {i}")).await)
        });
    }
    let mut answers = guesses.join_all().await;
    answers.sort();
    assert_eq!(
        answers,
        [
            INVALID, INVALID, INVALID, LOCKED, LOCKED, LOCKED, LOCKED, LOCKED
        ]
    );
    assert_eq!(hashes(&app).await, before + 3);
}

/// IF-01/IF-02 with the lockout: unknown, inactive and known identifiers cost one hash each
/// while open, none once locked, and get the same answers.
#[tokio::test]
async fn if_01_if_02_lockout_answers_and_hash_costs_are_the_same_for_unknown_inactive_and_known_identifiers()
 {
    let app = app(100, |_| {}).await;
    app.create_person_with_password("ada@example.com").await;
    let res = app
        .create_identity(
            json!({"schema_id": "default", "traits": {"email": "off@example.com"},
            "state": "inactive", "credentials": {"password": {"config": {"password": PASSWORD}}}}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let identifiers = ["ada@example.com", "nobody@example.com", "off@example.com"];

    let mut open = Vec::new();
    for identifier in identifiers {
        for _ in 0..3 {
            let before = hashes(&app).await;
            let answer = sign_in(&app, identifier, "not the password").await;
            assert_eq!(refusal(&answer), INVALID, "{identifier}");
            assert_eq!(hashes(&app).await, before + 1, "{identifier}: one hash");
            open.push(answer.1["ui"]["messages"].clone());
        }
    }
    assert!(open.windows(2).all(|w| w[0] == w[1]), "{open:?}");

    let mut locked = Vec::new();
    for identifier in identifiers {
        let before = hashes(&app).await;
        let answer = sign_in(&app, identifier, PASSWORD).await;
        assert_eq!(refusal(&answer), LOCKED, "{identifier}");
        assert_eq!(hashes(&app).await, before, "{identifier}: no hash");
        let mut messages = answer.1["ui"]["messages"].clone();
        // When each lock began is the only difference, and it says nothing about the account.
        messages[0]["context"]
            .as_object_mut()
            .unwrap()
            .remove("locked_until");
        locked.push(messages);
    }
    assert!(locked.windows(2).all(|w| w[0] == w[1]), "{locked:?}");
}

/// IF-05: one password tried against many identifiers from one address.
#[tokio::test]
async fn if_05_one_address_is_limited_across_identifiers() {
    let app = app(5, |_| {}).await;
    app.create_person_with_password("ada@example.com").await;
    for i in 0..5 {
        let (status, body) = sign_in(&app, &format!("user{i}@example.com"), "Winter2026!").await;
        assert_eq!(refusal(&(status, body)), INVALID);
    }
    let before = hashes(&app).await;
    assert_eq!(
        refusal(&sign_in(&app, "ada@example.com", PASSWORD).await),
        LOCKED,
        "every identifier, from this address"
    );
    assert_eq!(hashes(&app).await, before);
    assert_eq!(
        admin_delete(&app, "/admin/login-lockout?address=127.0.0.1").await,
        204
    );
    assert_eq!(sign_in(&app, "ada@example.com", PASSWORD).await.0, 200);
}

#[tokio::test]
async fn if_05_a_lock_ends_after_the_lockout_and_a_window_after_its_length() {
    let app = app(100, |_| {}).await;
    app.create_person_with_password("ada@example.com").await;
    fail(&app, "ada@example.com", 3).await;
    assert_eq!(
        refusal(&sign_in(&app, "ada@example.com", PASSWORD).await),
        LOCKED
    );
    app.clock.advance(4 * MINUTE);
    let locked = sign_in(&app, "ada@example.com", PASSWORD).await;
    assert_eq!(refusal(&locked), LOCKED);
    assert_eq!(
        locked.1["ui"]["messages"][0]["text"],
        "Too many failed sign-in attempts; try again in 1 minute."
    );
    app.clock.advance(MINUTE + Duration::from_secs(1));
    assert_eq!(sign_in(&app, "ada@example.com", PASSWORD).await.0, 200);

    // Failures older than the window (15 minutes) no longer count: three more are answered
    // as failures, not as a lock.
    fail(&app, "ada@example.com", 3).await;
    app.clock.advance(15 * MINUTE + Duration::from_secs(1));
    fail(&app, "ada@example.com", 2).await;
    assert_eq!(sign_in(&app, "ada@example.com", PASSWORD).await.0, 200);
}

#[tokio::test]
async fn a_successful_sign_in_resets_the_identifiers_count() {
    let app = app(100, |_| {}).await;
    app.create_person_with_password("ada@example.com").await;
    for _ in 0..3 {
        fail(&app, "ada@example.com", 2).await;
        assert_eq!(sign_in(&app, "ada@example.com", PASSWORD).await.0, 200);
    }
    // Six failures in all, never three in a row: never locked.
    fail(&app, "ada@example.com", 3).await;
    assert_eq!(
        refusal(&sign_in(&app, "ada@example.com", PASSWORD).await),
        LOCKED
    );
}

#[tokio::test]
async fn admins_can_lift_a_lockout_by_identity_or_by_identifier() {
    let app = app(100, |_| {}).await;
    let ada = app.create_person_with_password("ada@example.com").await;
    let id = ada["id"].as_str().unwrap();
    fail(&app, "ada@example.com", 3).await;
    assert_eq!(
        refusal(&sign_in(&app, "ada@example.com", PASSWORD).await),
        LOCKED
    );
    let path = format!("/admin/identities/{id}/login-lockout");
    assert_eq!(admin_delete(&app, &path).await, 204);
    assert_eq!(sign_in(&app, "ada@example.com", PASSWORD).await.0, 200);
    assert_eq!(
        admin_delete(&app, &path).await,
        204,
        "nothing to lift is fine"
    );

    fail(&app, "ghost@example.com", 3).await;
    assert_eq!(
        refusal(&sign_in(&app, "ghost@example.com", "x").await),
        LOCKED
    );
    assert_eq!(
        admin_delete(&app, "/admin/login-lockout?identifier=%20Ghost@Example.com").await,
        204
    );
    assert_eq!(
        refusal(&sign_in(&app, "ghost@example.com", "x").await),
        INVALID
    );

    let unknown = format!("/admin/identities/{}/login-lockout", uuid::Uuid::now_v7());
    assert_eq!(admin_delete(&app, &unknown).await, 404);
    assert_eq!(
        admin_delete(&app, "/admin/identities/nope/login-lockout").await,
        404
    );
    for bad in ["", "?address=not-an-ip", "?identifier=", "?user=ada"] {
        let path = format!("/admin/login-lockout{bad}");
        assert_eq!(admin_delete(&app, &path).await, 400, "{bad}");
    }
    // Only the admin listener has these routes.
    let res = app
        .http
        .delete(format!("{}{path}", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}
