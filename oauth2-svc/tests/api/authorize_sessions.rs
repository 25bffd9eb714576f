//! Remembered logins and the validation of the admin decision bodies.

use serde_json::{Value, json};

use crate::browser::{browser, flow_app, follow, query_param, sign_in};

/// A remembered login: the second authorization tells the UI to skip, with the same session.
#[tokio::test]
async fn authorize_remembers_logins_per_browser() {
    let app = flow_app().await;
    let (client_id, _) = app.confidential_client().await;
    let browser = browser();
    let done = sign_in(
        &app,
        &browser,
        &app.authorize_url(&client_id, &[]),
        "user-1",
    )
    .await;
    assert!(query_param(&done, "code").is_some());

    let to_login = follow(&browser, &app.authorize_url(&client_id, &[])).await;
    let challenge = query_param(&to_login, "login_challenge").unwrap();
    let request: Value = app
        .admin_get("login", &challenge)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(request["skip"], true);
    assert_eq!(request["subject"], "user-1");
    let sid = request["session_id"].as_str().unwrap().to_string();
    // Someone else cannot take over the remembered login: the UI is sent to a fresh login.
    let other: Value = app
        .admin_put("login", "accept", &challenge, json!({"subject": "user-2"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        query_param(other["redirect_to"].as_str().unwrap(), "prompt").as_deref(),
        Some("login")
    );
    let accepted: Value = app
        .admin_put("login", "accept", &challenge, json!({"subject": "user-1"}))
        .await
        .json()
        .await
        .unwrap();
    let to_consent = follow(&browser, accepted["redirect_to"].as_str().unwrap()).await;
    let consent: Value = app
        .admin_get(
            "consent",
            &query_param(&to_consent, "consent_challenge").unwrap(),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(consent["login_session_id"], sid.as_str());

    // prompt=login forces a fresh login; another browser has no remembered login.
    for (b, url) in [
        (
            &browser,
            app.authorize_url(&client_id, &[("prompt", Some("login"))]),
        ),
        (
            &crate::browser::browser(),
            app.authorize_url(&client_id, &[]),
        ),
    ] {
        let to_login = follow(b, &url).await;
        let request: Value = app
            .admin_get("login", &query_param(&to_login, "login_challenge").unwrap())
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(request["skip"], false);
    }
}

#[tokio::test]
async fn authorize_admin_bodies_are_validated() {
    let app = flow_app().await;
    let (client_id, _) = app.confidential_client().await;
    let to_login = follow(&browser(), &app.authorize_url(&client_id, &[])).await;
    let challenge = query_param(&to_login, "login_challenge").unwrap();
    for body in [
        json!({"subject": ""}),
        json!({"subject": "u", "remember_for": -1}),
        json!({"subject": 5}),
        json!([]),
        json!({"subject": "u", "extra": 1}),
    ] {
        let res = app
            .admin_put("login", "accept", &challenge, body.clone())
            .await;
        assert_eq!(res.status(), 400, "{body}");
    }
    // None of them used up the challenge.
    assert_eq!(app.admin_get("login", &challenge).await.status(), 200);
}
