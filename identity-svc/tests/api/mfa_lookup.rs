//! Recovery codes (lookup secrets): generated and shown once in the settings flow, stored only
//! when confirmed, each good for one step-up (also under a race), revealed with used ones marked,
//! disabled, and the privileged-session rule for adding and removing them (IF-18).

use serde_json::{Value, json};

use crate::browser::Browser;
use crate::flows::{api_token, get_with_token, start_api_with_token, submit_with_token};
use service_kit::settings::SecretList;

use crate::helpers::{TestApp, expect_error, random_secret};
use crate::mfa_support::{
    ADA, MINUTE, admin_credentials, api_step_up, enrol_lookup_api, find_node, mfa_app, mfa_app_on,
    mfa_app_with, node_message_ids, press, shown_codes, start_api_step_up, start_browser_step_up,
};

#[tokio::test]
async fn codes_are_stored_only_when_confirmed_and_work_once() {
    let app = mfa_app().await;
    let ada = app.create_person_with_password(ADA).await;
    let id = ada["id"].as_str().unwrap();
    let token = api_token(&app, ADA).await;
    let flow = start_api_with_token(&app, "settings", &token).await;
    assert!(find_node(&flow, "name", "lookup_secret_regenerate").is_some());
    assert!(find_node(&flow, "name", "lookup_secret_reveal").is_none());
    let body = json!({"method": "lookup_secret", "lookup_secret_regenerate": true});
    let res = submit_with_token(&app, &token, &flow, body).await;
    assert_eq!(res.status(), 200);
    let shown: Value = res.json().await.unwrap();
    let codes = shown_codes(&shown);
    assert_eq!(codes.len(), 12);
    for code in &codes {
        assert_eq!(code.len(), 8);
        assert!(
            code.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
            "{code}"
        );
    }
    assert!(find_node(&shown, "name", "lookup_secret_confirm").is_some());
    // Shown, not stored: the identity has no second factor yet.
    assert!(admin_credentials(&app, id, "lookup_secret").await["lookup_secret"].is_null());
    assert_eq!(
        get_with_token(&app, "/sessions/whoami", &token)
            .await
            .status(),
        200
    );

    let body = json!({"method": "lookup_secret", "lookup_secret_confirm": "true"});
    let res = submit_with_token(&app, &token, &flow, body).await;
    assert_eq!(res.status(), 200);
    let credentials = admin_credentials(&app, id, "lookup_secret").await;
    assert_eq!(credentials["lookup_secret"]["identifiers"], json!([id]));
    assert!(
        !credentials.to_string().contains(&codes[0]),
        "{credentials}"
    );

    let aal1 = api_token(&app, ADA).await;
    expect_error(get_with_token(&app, "/sessions/whoami", &aal1).await, 403).await;
    let step_up = start_api_step_up(&app, &aal1).await;
    assert_eq!(
        find_node(&step_up, "name", "lookup_secret").unwrap()["group"],
        "lookup_secret"
    );
    let typed = codes[0].to_uppercase();
    let body = json!({"method": "lookup_secret", "lookup_secret": typed});
    let res = submit_with_token(&app, &aal1, &step_up, body).await;
    assert_eq!(res.status(), 200);
    let upgraded: Value = res.json().await.unwrap();
    assert_eq!(upgraded["session"]["authenticator_assurance_level"], "aal2");
    assert_eq!(
        upgraded["session"]["authentication_methods"][1]["method"],
        "lookup_secret"
    );

    let again = api_token(&app, ADA).await;
    let res = api_step_up(
        &app,
        &again,
        json!({"method": "lookup_secret", "lookup_secret": codes[0]}),
    )
    .await;
    assert_eq!(res.status(), 400);
    let flow: Value = res.json().await.unwrap();
    assert_eq!(node_message_ids(&flow, "lookup_secret"), vec![4000012]);
    let res = api_step_up(
        &app,
        &again,
        json!({"method": "lookup_secret", "lookup_secret": "zzzzzzzz"}),
    )
    .await;
    let flow: Value = res.json().await.unwrap();
    assert_eq!(node_message_ids(&flow, "lookup_secret"), vec![4000016]);
    let res = api_step_up(
        &app,
        &again,
        json!({"method": "lookup_secret", "lookup_secret": codes[1]}),
    )
    .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn two_step_ups_racing_with_one_code_succeed_once() {
    let app = mfa_app().await;
    app.create_person_with_password(ADA).await;
    let token = api_token(&app, ADA).await;
    let codes = enrol_lookup_api(&app, &token).await;
    let (a, b) = (api_token(&app, ADA).await, api_token(&app, ADA).await);
    let (flow_a, flow_b) = (
        start_api_step_up(&app, &a).await,
        start_api_step_up(&app, &b).await,
    );
    let body = json!({"method": "lookup_secret", "lookup_secret": codes[3]});
    let (ra, rb) = tokio::join!(
        submit_with_token(&app, &a, &flow_a, body.clone()),
        submit_with_token(&app, &b, &flow_b, body.clone()),
    );
    let mut statuses = [ra.status().as_u16(), rb.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 400]);
    let loser: Value = if ra.status() == 400 {
        ra.json().await.unwrap()
    } else {
        rb.json().await.unwrap()
    };
    assert_eq!(node_message_ids(&loser, "lookup_secret"), vec![4000012]);
}

#[tokio::test]
async fn reveal_shows_the_codes_with_used_ones_marked() {
    let app = mfa_app().await;
    app.create_person_with_password(ADA).await;
    let token = api_token(&app, ADA).await;
    let codes = enrol_lookup_api(&app, &token).await;
    let res = api_step_up(
        &app,
        &token,
        json!({"method": "lookup_secret", "lookup_secret": codes[0]}),
    )
    .await;
    let body: Value = res.json().await.unwrap();
    let aal2 = body["session_token"].as_str().unwrap().to_string();
    let flow = start_api_with_token(&app, "settings", &aal2).await;
    assert!(
        find_node(&flow, "id", "lookup_secret_codes").is_none(),
        "codes are shown on request"
    );
    let body = json!({"method": "lookup_secret", "lookup_secret_reveal": true});
    let res = submit_with_token(&app, &aal2, &flow, body).await;
    assert_eq!(res.status(), 200);
    let revealed: Value = res.json().await.unwrap();
    assert_eq!(shown_codes(&revealed), codes[1..].to_vec());
    let node = find_node(&revealed, "id", "lookup_secret_codes").unwrap();
    let texts = node["attributes"]["text"]["context"]["secrets"]
        .as_array()
        .unwrap();
    assert_eq!(texts[0]["id"], 1050014);
    assert!(
        !node.to_string().contains(&codes[0]),
        "a used code is not shown again"
    );
}

#[tokio::test]
async fn browser_regenerates_confirms_and_steps_up_with_a_code() {
    let app = mfa_app().await;
    app.create_person_with_password(ADA).await;
    let browser = Browser::new();
    browser.log_in(&app, ADA).await;
    let flow = browser.start_settings(&app).await;
    // A form post: the page is shown again with the new codes on it.
    let res = press(
        &browser,
        &flow,
        &[("lookup_secret_regenerate", "true")],
        false,
    )
    .await;
    assert_eq!(res.status(), 303);
    let id = flow["id"].as_str().unwrap();
    let shown: Value = browser.fetch_settings(&app, id).await.json().await.unwrap();
    let codes = shown_codes(&shown);
    let confirm = [
        ("method", "lookup_secret"),
        ("lookup_secret_confirm", "true"),
    ];
    let res = press(&browser, &shown, &confirm, true).await;
    assert_eq!(res.status(), 200);

    let other = Browser::new();
    other.log_in(&app, ADA).await;
    let step_up = start_browser_step_up(&app, &other).await;
    let typed = [
        ("method", "lookup_secret"),
        ("lookup_secret", codes[5].as_str()),
    ];
    let res = press(&other, &step_up, &typed, true).await;
    assert_eq!(res.status(), 200);
    let whoami: Value = other.whoami(&app).await.json().await.unwrap();
    assert_eq!(whoami["authenticator_assurance_level"], "aal2");
}

#[tokio::test]
async fn if_18_adding_recovery_codes_needs_a_recent_sign_in() {
    let app = mfa_app().await;
    let ada = app.create_person_with_password(ADA).await;
    let token = api_token(&app, ADA).await;
    let flow = start_api_with_token(&app, "settings", &token).await;
    let body = json!({"method": "lookup_secret", "lookup_secret_regenerate": true});
    assert_eq!(
        submit_with_token(&app, &token, &flow, body).await.status(),
        200
    );
    app.clock.advance(6 * MINUTE);
    let body = json!({"method": "lookup_secret", "lookup_secret_confirm": true});
    let res = submit_with_token(&app, &token, &flow, body).await;
    assert_eq!(
        expect_error(res, 403).await["id"],
        "session_refresh_required"
    );
    let id = ada["id"].as_str().unwrap();
    assert!(admin_credentials(&app, id, "lookup_secret").await["lookup_secret"].is_null());
}

#[tokio::test]
async fn if_18_disabling_recovery_codes_needs_a_recent_aal2_sign_in() {
    let app = mfa_app().await;
    let ada = app.create_person_with_password(ADA).await;
    let id = ada["id"].as_str().unwrap();
    let token = api_token(&app, ADA).await;
    let codes = enrol_lookup_api(&app, &token).await;
    let res = api_step_up(
        &app,
        &token,
        json!({"method": "lookup_secret", "lookup_secret": codes[0]}),
    )
    .await;
    let body: Value = res.json().await.unwrap();
    let aal2 = body["session_token"].as_str().unwrap().to_string();
    let flow = start_api_with_token(&app, "settings", &aal2).await;
    app.clock.advance(6 * MINUTE);
    let disable = json!({"method": "lookup_secret", "lookup_secret_disable": true});
    let res = submit_with_token(&app, &aal2, &flow, disable.clone()).await;
    assert_eq!(
        expect_error(res, 403).await["id"],
        "session_refresh_required"
    );
    assert!(!admin_credentials(&app, id, "lookup_secret").await["lookup_secret"].is_null());

    let fresh = api_token(&app, ADA).await;
    let res = api_step_up(
        &app,
        &fresh,
        json!({"method": "lookup_secret", "lookup_secret": codes[1]}),
    )
    .await;
    let body: Value = res.json().await.unwrap();
    let fresh = body["session_token"].as_str().unwrap().to_string();
    let flow = start_api_with_token(&app, "settings", &fresh).await;
    assert_eq!(
        submit_with_token(&app, &fresh, &flow, disable)
            .await
            .status(),
        200
    );
    assert!(admin_credentials(&app, id, "lookup_secret").await["lookup_secret"].is_null());
    let plain = api_token(&app, ADA).await;
    assert_eq!(
        get_with_token(&app, "/sessions/whoami", &plain)
            .await
            .status(),
        200
    );
}

/// Restarts on `app`'s database with `cipher` as `secrets.cipher` (and `cookie` kept).
async fn restart(app: TestApp, cookie: &SecretList, cipher: SecretList, lax: bool) -> TestApp {
    let cookie = cookie.clone();
    mfa_app_on(app.db, move |s| {
        s.secrets.cookie = cookie;
        s.secrets.cipher = cipher;
        if lax {
            s.selfservice.flows.settings.required_aal =
                serde_json::from_value(json!("aal1")).unwrap();
        }
    })
    .await
}

async fn reveal(app: &TestApp, token: &str) -> reqwest::Response {
    let flow = start_api_with_token(app, "settings", token).await;
    let body = json!({"method": "lookup_secret", "lookup_secret_reveal": true});
    submit_with_token(app, token, &flow, body).await
}

#[tokio::test]
async fn codes_follow_a_secret_rotation_and_a_lost_secret_is_said_plainly() {
    let (old, new, cookie) = (random_secret(), random_secret(), random_secret());
    let (o, c) = (old.clone(), cookie.clone());
    let app = mfa_app_with(move |s| {
        s.secrets.cipher = o;
        s.secrets.cookie = c;
    })
    .await;
    app.create_person_with_password(ADA).await;
    let token = api_token(&app, ADA).await;
    let codes = enrol_lookup_api(&app, &token).await;

    // A new first secret, the old one kept: a use re-seals the codes under the new one.
    let both = SecretList::new(new.all().iter().chain(old.all()).cloned());
    let app = restart(app, &cookie, both, false).await;
    let token = api_token(&app, ADA).await;
    let body = json!({"method": "lookup_secret", "lookup_secret": codes[0]});
    assert_eq!(api_step_up(&app, &token, body).await.status(), 200);

    // The old secret removed: the codes still work and still show.
    let app = restart(app, &cookie, new, false).await;
    let token = api_token(&app, ADA).await;
    let body = json!({"method": "lookup_secret", "lookup_secret": codes[1]});
    let res = api_step_up(&app, &token, body).await;
    assert_eq!(res.status(), 200);
    let stepped: Value = res.json().await.unwrap();
    let aal2 = stepped["session_token"].as_str().unwrap().to_string();
    let res = reveal(&app, &aal2).await;
    assert_eq!(res.status(), 200);
    assert_eq!(shown_codes(&res.json().await.unwrap()), codes[2..].to_vec());

    // No configured secret opens them: a form message, not a 500.
    let app = restart(app, &cookie, random_secret(), true).await;
    let token = api_token(&app, ADA).await;
    let res = reveal(&app, &token).await;
    assert_eq!(res.status(), 400);
    let refused: Value = res.json().await.unwrap();
    assert!(
        refused.to_string().contains("Generate new recovery codes"),
        "{refused}"
    );
}
