//! Deactivating an identity through the admin API (IF-17).

use serde_json::{Value, json};

use super::{id_of, try_login};
use crate::browser::{Browser, PASSWORD, node};
use crate::helpers::{expect_error, fresh_database, spawn_on};
use crate::receiver::Receiver;

/// IF-17 (admin-disable): deactivation revokes the sessions and refuses sign-in, with Kratos'
/// `identity_disabled` for the right password only (IF-01 keeps wrong passwords alike), and
/// queues `identity.deactivated` for the lifecycle hook in the same transaction.
#[tokio::test]
async fn if_17_deactivating_an_identity_ends_its_sessions_and_its_sign_ins() {
    let receiver = Receiver::start().await;
    let app = spawn_on(fresh_database(), |s| {
        s.dev = true;
        s.hooks.identity_lifecycle.url = Some(receiver.url.clone());
        s.hooks.identity_lifecycle.secret =
            service_kit::settings::SecretList::new([service_kit::settings::Secret::new(
                "the-hook-secret-shared-with-the-receiver",
            )]);
        s.outbox.interval = std::time::Duration::from_millis(100);
    })
    .await;
    let id = id_of(&app.create_person_with_password("ada@example.com").await);
    let browser = Browser::new();
    browser.log_in(&app, "ada@example.com").await;
    assert_eq!(browser.whoami(&app).await.status(), 200);

    let res = app
        .patch_identity(
            &id,
            json!([{"op": "replace", "path": "/state", "value": "inactive"}]),
        )
        .await;
    assert_eq!(res.status(), 200);
    let inactive: Value = res.json().await.unwrap();
    assert_eq!(inactive["state"], "inactive");
    assert_ne!(inactive["state_changed_at"], Value::Null);

    let res = browser.whoami(&app).await;
    assert_eq!(expect_error(res, 401).await["id"], "session_inactive");
    let res = try_login(&app, "ada@example.com", PASSWORD).await;
    let error = expect_error(res, 401).await;
    assert_eq!(error["id"], "identity_disabled");
    assert_eq!(error["reason"], "This account was disabled.");
    let res = try_login(&app, "ada@example.com", "wrong password").await;
    assert_eq!(res.status(), 400);
    let flow: Value = res.json().await.unwrap();
    assert_eq!(flow["ui"]["messages"][0]["id"], 4000006);
    assert_eq!(
        node(&flow, "identifier")["attributes"]["value"],
        "ada@example.com"
    );

    // The notice reaches the hook.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let body: Value = loop {
        if let Some(request) = receiver.requests().first() {
            break serde_json::from_slice(&request.body).unwrap();
        }
        assert!(std::time::Instant::now() < deadline, "no notice");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    };
    assert_eq!(body["event"], "identity.deactivated");
    assert_eq!(body["identity_id"], id.as_str());

    // A PUT that keeps the state changes neither it nor the sessions; reactivating lets the
    // identity sign in again (its old sessions stay ended) and sends nothing.
    let res = app
        .put_identity(&id, json!({"schema_id": "default", "traits": {"email": "ada@example.com"}, "state": "active"}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(browser.whoami(&app).await.status(), 401);
    assert_eq!(
        try_login(&app, "ada@example.com", PASSWORD).await.status(),
        200
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        receiver.requests().len(),
        1,
        "only the deactivation is notified"
    );
}
