//! TOTP as a second factor: enrolment in the settings flow (browser and API), the step-up that
//! upgrades a session to aal2, replayed and guessed codes, unlinking, the privileged-session rule
//! (IF-18) and a new session token on step-up (IF-15).

use crate::mfa_support::{press_totp, totp_step_up};
use serde_json::{Value, json};

use crate::browser::{Browser, PASSWORD};
use crate::flows::{
    api_login, api_token, get_public, get_with_token, message_ids, start_api_with_token,
    submit_with_token,
};
use crate::helpers::{expect_error, spawn};
use crate::mfa_support::{
    ADA, MINUTE, STEP, admin_credentials, api_step_up, code_now, enrol_totp_api, find_node,
    mfa_app, mfa_app_with, node_message_ids, press, set_cookie, start_browser_step_up, totp_secret,
    whoami_with_cookie,
};

#[tokio::test]
async fn a_disabled_method_shows_no_nodes_and_refuses_submissions() {
    let app = spawn().await;
    app.create_person_with_password(ADA).await;
    let token = api_token(&app, ADA).await;
    let flow = start_api_with_token(&app, "settings", &token).await;
    assert!(find_node(&flow, "id", "totp_secret_key").is_none());
    assert!(find_node(&flow, "name", "totp_code").is_none());
    let res = submit_with_token(
        &app,
        &token,
        &flow,
        json!({"method": "totp", "totp_code": "123456"}),
    )
    .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert!(!message_ids(&body).is_empty(), "{body}");
    let res = get_with_token(&app, "/self-service/login/api?aal=aal2", &token).await;
    assert_eq!(expect_error(res, 400).await["code"], 400);
}

#[tokio::test]
async fn browser_enrols_totp_and_steps_up_to_aal2() {
    let app = mfa_app().await;
    let ada = app.create_person_with_password(ADA).await;
    let browser = Browser::new();
    browser.log_in(&app, ADA).await;
    let flow = browser.start_settings(&app).await;
    let qr = find_node(&flow, "id", "totp_qr").expect("the QR node");
    assert!(
        qr["attributes"]["text"]["text"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    assert_eq!(
        find_node(&flow, "name", "totp_code").unwrap()["group"],
        "totp"
    );
    let secret = totp_secret(&flow);

    let res = press(
        &browser,
        &flow,
        &[("method", "totp"), ("totp_code", "000000")],
        true,
    )
    .await;
    assert_eq!(res.status(), 400);
    let rejected: Value = res.json().await.unwrap();
    assert_eq!(node_message_ids(&rejected, "totp_code"), vec![4000008]);
    assert!(admin_credentials(&app, ada["id"].as_str().unwrap(), "totp").await["totp"].is_null());

    let res = press_totp(&app, &browser, &flow, &secret, true).await;
    assert_eq!(res.status(), 200);
    let saved: Value = res.json().await.unwrap();
    assert_eq!(
        (saved["state"].as_str(), saved["active"].as_str()),
        (Some("success"), Some("totp"))
    );
    let id = ada["id"].as_str().unwrap();
    let credentials = admin_credentials(&app, id, "totp").await;
    assert_eq!(credentials["totp"]["identifiers"], json!([id]));
    assert!(credentials["totp"].get("config").is_none(), "{credentials}");

    // A new sign-in with the password alone is aal1 and is sent on to the step-up.
    app.clock.advance(STEP);
    let second = Browser::new();
    let login = second.log_in(&app, ADA).await;
    assert_eq!(login["session"]["authenticator_assurance_level"], "aal1");
    let next = login["continue_with"][0]["redirect_browser_to"]
        .as_str()
        .unwrap();
    assert!(
        next.contains("/self-service/login/browser?aal=aal2"),
        "{next}"
    );
    let refused = expect_error(second.whoami(&app).await, 403).await;
    assert_eq!(refused["id"], "session_aal2_required");

    let step_up = start_browser_step_up(&app, &second).await;
    assert_eq!(step_up["requested_aal"], "aal2");
    assert!(find_node(&step_up, "name", "password").is_none());
    assert_eq!(
        find_node(&step_up, "name", "identifier").unwrap()["attributes"]["value"],
        ADA
    );
    let res = press_totp(&app, &second, &step_up, &secret, true).await;
    assert_eq!(res.status(), 200);
    let upgraded: Value = res.json().await.unwrap();
    assert_eq!(upgraded["session"]["authenticator_assurance_level"], "aal2");
    let methods: Vec<&str> = upgraded["session"]["authentication_methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["password", "totp"]);
    let whoami: Value = second.whoami(&app).await.json().await.unwrap();
    assert_eq!(whoami["authenticator_assurance_level"], "aal2");
}

#[tokio::test]
async fn form_posting_browsers_are_sent_through_the_step_up_and_back() {
    let app = mfa_app().await;
    app.create_person_with_password(ADA).await;
    let token = api_token(&app, ADA).await;
    let secret = enrol_totp_api(&app, &token).await;
    let browser = Browser::new();
    let flow = browser.start_login(&app, "").await;
    let res = press(
        &browser,
        &flow,
        &[
            ("method", "password"),
            ("identifier", ADA),
            ("password", PASSWORD),
        ],
        false,
    )
    .await;
    assert_eq!(res.status(), 303);
    let step_up = res.headers()["location"].to_str().unwrap().to_string();
    assert!(step_up.contains("aal=aal2"), "{step_up}");
    let res = browser.http.get(&step_up).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let page = res.headers()["location"].to_str().unwrap().to_string();
    let id = page.split("flow=").nth(1).unwrap();
    let flow: Value = browser.fetch_flow(&app, id).await.json().await.unwrap();
    let res = press_totp(&app, &browser, &flow, &secret, false).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], crate::helpers::DEFAULT_RETURN);
    let whoami: Value = browser.whoami(&app).await.json().await.unwrap();
    assert_eq!(whoami["authenticator_assurance_level"], "aal2");
}

#[tokio::test]
async fn if_15_step_up_issues_a_new_session_token_and_ends_the_old_one() {
    let app = mfa_app().await;
    app.create_person_with_password(ADA).await;
    let token = api_token(&app, ADA).await;
    let secret = enrol_totp_api(&app, &token).await;

    // API: the upgraded session comes with a new token; the old one is no longer a session.
    let aal1 = api_token(&app, ADA).await;
    let refused = expect_error(get_with_token(&app, "/sessions/whoami", &aal1).await, 403).await;
    assert!(
        refused["details"]["redirect_browser_to"]
            .as_str()
            .unwrap()
            .contains("aal=aal2")
    );
    let res = totp_step_up(&app, &aal1, &secret).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let aal2 = body["session_token"].as_str().unwrap();
    assert_ne!(aal2, aal1);
    assert_eq!(body["continue_with"][0]["ory_session_token"], aal2);
    expect_error(get_with_token(&app, "/sessions/whoami", &aal1).await, 401).await;
    let whoami = get_with_token(&app, "/sessions/whoami", aal2).await;
    assert_eq!(whoami.status(), 200);

    // Browser: a new cookie, and the old cookie's session is over.
    app.clock.advance(STEP);
    let browser = Browser::new();
    let flow = browser.start_login(&app, "").await;
    let typed = [
        ("method", "password"),
        ("identifier", ADA),
        ("password", PASSWORD),
    ];
    let res = press(&browser, &flow, &typed, true).await;
    let before = set_cookie(&res, "olympus_session").unwrap();
    let step_up = start_browser_step_up(&app, &browser).await;
    let res = press_totp(&app, &browser, &step_up, &secret, true).await;
    assert_eq!(res.status(), 200);
    let after = set_cookie(&res, "olympus_session").unwrap();
    assert_ne!(before, after);
    assert!(
        set_cookie(&res, "olympus_csrf").is_some(),
        "a new CSRF token too"
    );
    expect_error(whoami_with_cookie(&app, &before).await, 401).await;
    assert_eq!(whoami_with_cookie(&app, &after).await.status(), 200);
}

#[tokio::test]
async fn a_replayed_code_is_refused() {
    let app = mfa_app().await;
    app.create_person_with_password(ADA).await;
    let token = api_token(&app, ADA).await;
    let secret = enrol_totp_api(&app, &token).await;
    let code = code_now(&app, &secret);
    let first = api_token(&app, ADA).await;
    let res = api_step_up(&app, &first, json!({"method": "totp", "totp_code": code})).await;
    assert_eq!(res.status(), 200);
    let second = api_token(&app, ADA).await;
    let res = api_step_up(&app, &second, json!({"method": "totp", "totp_code": code})).await;
    assert_eq!(res.status(), 400);
    let flow: Value = res.json().await.unwrap();
    assert_eq!(node_message_ids(&flow, "totp_code"), vec![4000008]);
    expect_error(get_with_token(&app, "/sessions/whoami", &second).await, 403).await;
}

#[tokio::test]
async fn wrong_codes_count_toward_the_lockout() {
    let app = mfa_app_with(|s| {
        s.selfservice
            .flows
            .login
            .brute_force
            .max_failures_per_identifier = 3;
    })
    .await;
    let ada = app.create_person_with_password(ADA).await;
    let token = api_token(&app, ADA).await;
    let secret = enrol_totp_api(&app, &token).await;
    let aal1 = api_token(&app, ADA).await;
    let flow = crate::mfa_support::start_api_step_up(&app, &aal1).await;
    for guess in ["000000", "111111", "222222"] {
        let body = json!({"method": "totp", "totp_code": guess});
        let res = submit_with_token(&app, &aal1, &flow, body).await;
        assert_eq!(res.status(), 400);
    }
    // Past the limit even the right code is refused, before it is checked.
    let body = json!({"method": "totp", "totp_code": code_now(&app, &secret)});
    let res = submit_with_token(&app, &aal1, &flow, body).await;
    assert_eq!(res.status(), 400);
    let locked: Value = res.json().await.unwrap();
    assert_eq!(message_ids(&locked), vec![4000900]);
    expect_error(get_with_token(&app, "/sessions/whoami", &aal1).await, 403).await;
    // The lock is the second factor's: the password still signs in.
    assert_eq!(api_login(&app, ADA, PASSWORD).await.status(), 200);
    // The admin unlock of the identity clears the step-up's lock too.
    let unlock = format!(
        "{}/admin/identities/{}/login-lockout",
        app.admin,
        ada["id"].as_str().unwrap()
    );
    let res = app.http.delete(unlock).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let body = json!({"method": "totp", "totp_code": code_now(&app, &secret)});
    let res = submit_with_token(&app, &aal1, &flow, body).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn if_18_adding_totp_needs_a_recent_sign_in() {
    let app = mfa_app().await;
    let ada = app.create_person_with_password(ADA).await;
    let token = api_token(&app, ADA).await;
    let flow = start_api_with_token(&app, "settings", &token).await;
    let secret = totp_secret(&flow);
    app.clock.advance(6 * MINUTE);
    let body = json!({"method": "totp", "totp_code": code_now(&app, &secret)});
    let res = submit_with_token(&app, &token, &flow, body).await;
    let error = expect_error(res, 403).await;
    assert_eq!(error["id"], "session_refresh_required");
    assert!(admin_credentials(&app, ada["id"].as_str().unwrap(), "totp").await["totp"].is_null());
}

#[tokio::test]
async fn if_18_unlinking_totp_needs_a_recent_aal2_sign_in() {
    let app = mfa_app().await;
    let ada = app.create_person_with_password(ADA).await;
    let id = ada["id"].as_str().unwrap();
    let token = api_token(&app, ADA).await;
    let secret = enrol_totp_api(&app, &token).await;

    // aal1 (password only): settings are closed until the step-up.
    let aal1 = api_token(&app, ADA).await;
    let res = get_with_token(&app, "/self-service/settings/api", &aal1).await;
    assert_eq!(expect_error(res, 403).await["id"], "session_aal2_required");
    let browser = Browser::new();
    browser.log_in(&app, ADA).await;
    let res = get_public(&browser.http, &app, "/self-service/settings/browser", false).await;
    assert_eq!(res.status(), 303);
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .contains("aal=aal2")
    );

    // aal2 but past the privileged window: refresh first, and nothing changes.
    let res = totp_step_up(&app, &aal1, &secret).await;
    let aal2: Value = res.json().await.unwrap();
    let aal2 = aal2["session_token"].as_str().unwrap().to_string();
    let flow = start_api_with_token(&app, "settings", &aal2).await;
    assert!(find_node(&flow, "name", "totp_unlink").is_some());
    app.clock.advance(6 * MINUTE);
    let unlink = json!({"method": "totp", "totp_unlink": true});
    let res = submit_with_token(&app, &aal2, &flow, unlink.clone()).await;
    assert_eq!(
        expect_error(res, 403).await["id"],
        "session_refresh_required"
    );
    assert!(!admin_credentials(&app, id, "totp").await["totp"].is_null());

    // Signed in again with both factors: the app is unlinked and a new secret is offered.
    let fresh = api_token(&app, ADA).await;
    let res = totp_step_up(&app, &fresh, &secret).await;
    let body: Value = res.json().await.unwrap();
    let fresh = body["session_token"].as_str().unwrap().to_string();
    let flow = start_api_with_token(&app, "settings", &fresh).await;
    let res = submit_with_token(&app, &fresh, &flow, unlink).await;
    assert_eq!(res.status(), 200);
    let done: Value = res.json().await.unwrap();
    assert_ne!(totp_secret(&done), secret);
    assert!(admin_credentials(&app, id, "totp").await["totp"].is_null());
    // Without a second factor, password sessions are enough again.
    let plain = api_token(&app, ADA).await;
    assert_eq!(
        get_with_token(&app, "/sessions/whoami", &plain)
            .await
            .status(),
        200
    );
}
