//! Authenticator assurance levels: who may ask for an aal2 flow, what it offers and accepts,
//! the `required_aal` settings of whoami and the settings flow, and the admin removal of second
//! factors (Kratos' deleteIdentityCredentials).

use crate::mfa_support::{press_totp, totp_step_up};
use serde_json::{Value, json};

use crate::browser::{Browser, PASSWORD};
use crate::flows::{
    api_token, get_public, get_with_token, start_api_with_token, submit_with_token,
};
use crate::helpers::expect_error;
use crate::mfa_support::{
    ADA, api_step_up, code_now, enrol_lookup_api, enrol_totp_api, find_node, mfa_app, mfa_app_with,
    start_api_step_up, start_browser_step_up,
};

#[tokio::test]
async fn aal2_needs_a_session_below_aal2_of_an_identity_with_a_second_factor() {
    let app = mfa_app().await;
    app.create_person_with_password(ADA).await;
    let browser = Browser::new();
    let res = get_public(
        &browser.http,
        &app,
        "/self-service/login/browser?aal=aal2",
        true,
    )
    .await;
    assert_eq!(expect_error(res, 401).await["id"], "session_aal1_required");
    let res = get_public(&app.http, &app, "/self-service/login/api?aal=aal2", false).await;
    assert_eq!(expect_error(res, 401).await["id"], "session_aal1_required");
    let res = get_public(&app.http, &app, "/self-service/login/api?aal=aal3", false).await;
    expect_error(res, 400).await;

    // No second factor: aal1 is the highest level, so there is nothing to step up to.
    let token = api_token(&app, ADA).await;
    let whoami: Value = get_with_token(&app, "/sessions/whoami", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(whoami["authenticator_assurance_level"], "aal1");
    let res = get_with_token(&app, "/self-service/login/api?aal=aal2", &token).await;
    expect_error(res, 400).await;

    let secret = enrol_totp_api(&app, &token).await;
    let res = totp_step_up(&app, &token, &secret).await;
    let body: Value = res.json().await.unwrap();
    let aal2 = body["session_token"].as_str().unwrap();
    let res = get_with_token(&app, "/self-service/login/api?aal=aal2", aal2).await;
    assert_eq!(
        expect_error(res, 401).await["id"],
        "session_aal_already_fulfilled"
    );
}

#[tokio::test]
async fn an_aal2_flow_takes_only_second_factors_of_its_own_identity() {
    let app = mfa_app().await;
    app.create_person_with_password(ADA).await;
    app.create_person_with_password("bob@example.com").await;
    let token = api_token(&app, ADA).await;
    let secret = enrol_totp_api(&app, &token).await;
    let flow = start_api_step_up(&app, &token).await;
    assert!(find_node(&flow, "name", "password").is_none());
    assert!(
        find_node(&flow, "name", "lookup_secret").is_none(),
        "only what Ada has"
    );

    let body = json!({"method": "password", "identifier": ADA, "password": PASSWORD});
    let res = submit_with_token(&app, &token, &flow, body).await;
    assert_eq!(res.status(), 400);
    let bob = api_token(&app, "bob@example.com").await;
    let body = json!({"method": "totp", "totp_code": code_now(&app, &secret)});
    let res = submit_with_token(&app, &bob, &flow, body.clone()).await;
    assert_eq!(
        expect_error(res, 403).await["id"],
        "security_identity_mismatch"
    );
    let res = submit_with_token(&app, &token, &flow, body.clone()).await;
    assert_eq!(res.status(), 200);
    // A flow upgrades once; its replacement is a step-up again.
    let res = submit_with_token(&app, &token, &flow, body).await;
    assert_eq!(res.status(), 410);
    let gone: Value = res.json().await.unwrap();
    let next = gone["use_flow_id"].as_str().unwrap();
    let path = format!("/self-service/login/flows?id={next}");
    let next: Value = get_public(&app.http, &app, &path, false)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(next["requested_aal"], "aal2");
    assert!(find_node(&next, "name", "totp_code").is_some());
}

#[tokio::test]
async fn lax_required_aal_lets_aal1_sessions_through() {
    let app = mfa_app_with(|s| {
        s.session.whoami.required_aal = serde_json::from_value(json!("aal1")).unwrap();
        s.selfservice.flows.settings.required_aal = serde_json::from_value(json!("aal1")).unwrap();
    })
    .await;
    app.create_person_with_password(ADA).await;
    let token = api_token(&app, ADA).await;
    enrol_totp_api(&app, &token).await;
    let aal1 = api_token(&app, ADA).await;
    let whoami: Value = get_with_token(&app, "/sessions/whoami", &aal1)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(whoami["authenticator_assurance_level"], "aal1");
    start_api_with_token(&app, "settings", &aal1).await;
    // Browsers are not sent to the step-up either.
    let browser = Browser::new();
    let login = browser.log_in(&app, ADA).await;
    assert_eq!(
        login["continue_with"][0]["redirect_browser_to"],
        crate::helpers::DEFAULT_RETURN
    );
}

#[tokio::test]
async fn strict_settings_send_aal1_sessions_to_the_step_up() {
    let app = mfa_app().await;
    app.create_person_with_password(ADA).await;
    let token = api_token(&app, ADA).await;
    let secret = enrol_totp_api(&app, &token).await;
    let browser = Browser::new();
    browser.log_in(&app, ADA).await;
    let res = get_public(&browser.http, &app, "/self-service/settings/browser", true).await;
    let error = expect_error(res, 403).await;
    assert_eq!(error["id"], "session_aal2_required");
    assert!(
        error["details"]["redirect_browser_to"]
            .as_str()
            .unwrap()
            .contains("aal=aal2")
    );

    let step_up = start_browser_step_up(&app, &browser).await;
    let res = press_totp(&app, &browser, &step_up, &secret, true).await;
    assert_eq!(res.status(), 200);
    let res = get_public(&browser.http, &app, "/self-service/settings/browser", true).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn admin_removes_second_factors_but_not_passwords() {
    let app = mfa_app().await;
    let ada = app.create_person_with_password(ADA).await;
    let id = ada["id"].as_str().unwrap();
    let token = api_token(&app, ADA).await;
    enrol_totp_api(&app, &token).await;
    let delete = |path: String| {
        let http = app.http.clone();
        async move { http.delete(path).send().await.unwrap() }
    };
    let base = format!("{}/admin/identities/{id}/credentials", app.admin);
    expect_error(delete(format!("{base}/password")).await, 400).await;
    expect_error(delete(format!("{base}/nonsense")).await, 400).await;
    let unknown = uuid::Uuid::new_v4();
    let res = delete(format!(
        "{}/admin/identities/{unknown}/credentials/totp",
        app.admin
    ))
    .await;
    expect_error(res, 404).await;
    assert_eq!(delete(format!("{base}/totp")).await.status(), 204);
    expect_error(delete(format!("{base}/totp")).await, 404).await;
    // The identity is back to one factor: password sessions pass whoami.
    let plain = api_token(&app, ADA).await;
    assert_eq!(
        get_with_token(&app, "/sessions/whoami", &plain)
            .await
            .status(),
        200
    );
    let res = app
        .get(&format!(
            "/admin/identities/{id}?include_credential=password"
        ))
        .await;
    let identity: Value = res.json().await.unwrap();
    assert_eq!(
        identity["credentials"]["password"]["identifiers"],
        json!([ADA])
    );
}

#[tokio::test]
async fn own_session_endpoints_need_aal2_like_whoami() {
    let app = mfa_app().await;
    app.create_person_with_password(ADA).await;
    let token = api_token(&app, ADA).await;
    enrol_totp_api(&app, &token).await;
    let aal1 = api_token(&app, ADA).await;
    let res = get_with_token(&app, "/sessions", &aal1).await;
    assert_eq!(expect_error(res, 403).await["id"], "session_aal2_required");
    let delete = |path: String| {
        let http = app.http.clone();
        let aal1 = aal1.clone();
        async move {
            http.delete(path)
                .header("x-session-token", aal1)
                .send()
                .await
                .unwrap()
        }
    };
    let res = delete(format!("{}/sessions", app.public)).await;
    assert_eq!(expect_error(res, 403).await["id"], "session_aal2_required");
    let other = uuid::Uuid::new_v4();
    let res = delete(format!("{}/sessions/{other}", app.public)).await;
    assert_eq!(expect_error(res, 403).await["id"], "session_aal2_required");
    // Nothing was revoked.
    let admin: Value = app
        .get("/admin/sessions?active=true")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        admin.as_array().unwrap().len(),
        2,
        "both sessions still active"
    );
}

#[tokio::test]
async fn used_up_recovery_codes_no_longer_ask_for_aal2() {
    let app = mfa_app().await;
    app.create_person_with_password(ADA).await;
    let token = api_token(&app, ADA).await;
    let codes = enrol_lookup_api(&app, &token).await;
    assert_eq!(codes.len(), 12);
    let res = get_with_token(&app, "/sessions/whoami", &token).await;
    expect_error(res, 403).await;
    for code in &codes {
        let body = json!({"method": "lookup_secret", "lookup_secret": code});
        let aal1 = api_token(&app, ADA).await;
        assert_eq!(api_step_up(&app, &aal1, body).await.status(), 200);
    }
    let token = api_token(&app, ADA).await;
    // No code left: aal1 is the highest level again, so whoami and settings answer.
    let res = get_with_token(&app, "/sessions/whoami", &token).await;
    assert_eq!(res.status(), 200);
    let res = get_with_token(&app, "/self-service/login/api?aal=aal2", &token).await;
    expect_error(res, 400).await;
    start_api_with_token(&app, "settings", &token).await;

    // Another factor still counts.
    enrol_totp_api(&app, &token).await;
    let res = get_with_token(&app, "/sessions/whoami", &token).await;
    assert_eq!(expect_error(res, 403).await["id"], "session_aal2_required");
}

#[tokio::test]
async fn an_expired_aal2_flow_restarts_as_an_aal2_flow() {
    let app = mfa_app().await;
    app.create_person_with_password(ADA).await;
    let token = api_token(&app, ADA).await;
    enrol_totp_api(&app, &token).await;
    let browser = Browser::new();
    browser.log_in(&app, ADA).await;
    let flow = start_browser_step_up(&app, &browser).await;
    app.clock.advance(std::time::Duration::from_secs(2 * 3600));
    let path = format!(
        "/self-service/login/flows?id={}",
        flow["id"].as_str().unwrap()
    );
    let res = get_public(&browser.http, &app, &path, true).await;
    assert_eq!(res.status(), 410);
    let gone: Value = res.json().await.unwrap();
    let restart = url::Url::parse(
        gone["error"]["details"]["redirect_to"]
            .as_str()
            .unwrap_or_else(|| panic!("{gone}")),
    )
    .unwrap();
    assert_eq!(restart.path(), "/self-service/login/browser");
    let query: Vec<(String, String)> = restart.query_pairs().into_owned().collect();
    assert!(query.contains(&("aal".into(), "aal2".into())), "{gone}");
}
