//! Registration flows refuse forged, foreign, expired and replayed submissions, and foreign
//! `return_to` addresses.

use serde_json::{Value, json};

use crate::browser::{Browser, browser_app, form_fields};
use crate::flows::{REGISTRATION_UI, assert_return_to_refused, csrf_token, sign_up};
use crate::helpers::{expect_error, spawn};

/// IF-11: missing, foreign or cookie-less CSRF tokens are refused, and nothing is created.
#[tokio::test]
async fn if_11_csrf_violations_are_refused() {
    let app = browser_app().await;
    let victim = Browser::new();
    let attacker = Browser::new();
    let flow = victim.start_registration(&app, "").await;
    let attacker_flow = attacker.start_registration(&app, "").await;
    let foreign = csrf_token(&attacker_flow);
    for token in ["", "garbage", foreign.as_str()] {
        let mut typed = sign_up("ada@example.com");
        typed.push(("csrf_token", token));
        let res = victim.submit(&flow, &typed, true).await;
        assert_eq!(
            expect_error(res, 403).await["id"],
            "security_csrf_violation",
            "{token}"
        );
    }
    // The victim's form token with the attacker's cookie.
    let res = attacker
        .submit(&flow, &sign_up("ada@example.com"), false)
        .await;
    assert_eq!(
        expect_error(res, 403).await["id"],
        "security_csrf_violation"
    );
    // No cookie at all.
    let mut fields = form_fields(&flow);
    fields.extend(
        sign_up("ada@example.com")
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let res = reqwest::Client::new()
        .post(flow["ui"]["action"].as_str().unwrap())
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_error(res, 403).await["id"],
        "security_csrf_violation"
    );
    assert_eq!(app.identity_count().await, 0);
}

/// IF-13: a browser flow is shown only to its browser; unknown ids are 404.
#[tokio::test]
async fn if_13_flows_are_bound_to_their_browser() {
    let app = browser_app().await;
    let owner = Browser::new();
    let flow = owner.start_registration(&app, "").await;
    let id = flow["id"].as_str().unwrap();
    let res = Browser::new().fetch_registration(&app, id).await;
    assert_eq!(
        expect_error(res, 403).await["id"],
        "security_csrf_violation"
    );
    for unknown in [uuid::Uuid::now_v7().to_string(), "not-a-uuid".to_string()] {
        let res = owner.fetch_registration(&app, &unknown).await;
        expect_error(res, 404).await;
        let res = owner
            .http
            .post(format!(
                "{}/self-service/registration?flow={unknown}",
                app.public
            ))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        expect_error(res, 404).await;
    }
}

/// IF-14: an expired flow is replaced with a message (browsers) or answered 410 (JSON).
#[tokio::test]
async fn if_14_expired_flows_restart_with_a_message() {
    let app = browser_app().await;
    let browser = Browser::new();
    let flow = browser
        .start_registration(&app, "?return_to=https://app.test/x")
        .await;
    let id = flow["id"].as_str().unwrap().to_string();
    app.clock.advance(std::time::Duration::from_secs(3601));

    let error = expect_error(browser.fetch_registration(&app, &id).await, 410).await;
    assert_eq!(error["id"], "self_service_flow_expired");
    let restart = error["details"]["redirect_to"].as_str().unwrap();
    assert!(
        restart.starts_with(&format!("{}/self-service/registration/browser", app.public))
            && restart.contains("return_to=https%3A%2F%2Fapp.test%2Fx"),
        "{restart}"
    );

    let res = browser
        .submit(&flow, &sign_up("ada@example.com"), true)
        .await;
    assert_eq!(res.status(), 410);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["id"], "self_service_flow_expired");
    assert_ne!(body["use_flow_id"], id);

    let res = browser
        .submit(&flow, &sign_up("ada@example.com"), false)
        .await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(REGISTRATION_UI), "{location}");
    let fresh_id = location.split("flow=").nth(1).unwrap();
    let fresh: Value = browser
        .fetch_registration(&app, fresh_id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fresh["ui"]["messages"][0]["id"], 4040001);
    assert_eq!(fresh["return_to"], "https://app.test/x");
    assert_eq!(app.identity_count().await, 0);
    let res = browser
        .submit(&fresh, &sign_up("ada@example.com"), false)
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "https://app.test/x");
    assert_eq!(app.identity_count().await, 1);
}

/// IF-19: `return_to` outside the allow-list never becomes a redirect.
#[tokio::test]
async fn if_19_return_to_outside_the_allow_list_is_refused() {
    let app = spawn().await;
    for path in ["browser", "api"] {
        for bad in [
            "https://evil.test",
            "//evil.test",
            "/\\evil.test",
            "javascript:alert(1)",
        ] {
            let path = format!("/self-service/registration/{path}");
            assert_return_to_refused(&app, &path, bad).await;
        }
    }
}

/// A completed flow cannot register a second time, whatever is replayed.
#[tokio::test]
async fn replayed_submissions_of_a_completed_flow_register_nothing() {
    let app = browser_app().await;
    let browser = Browser::new();
    let flow = browser.start_registration(&app, "").await;
    let res = browser
        .submit(&flow, &sign_up("ada@example.com"), true)
        .await;
    assert_eq!(res.status(), 200);
    let again = browser
        .submit(&flow, &sign_up("grace@example.com"), true)
        .await;
    assert_eq!(
        expect_error(again, 410).await["id"],
        "self_service_flow_expired"
    );
    assert_eq!(app.identity_count().await, 1);
    assert!(app.identities_with("grace@example.com").await.is_empty());
}
