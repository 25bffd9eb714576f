//! The janitor: expired rows go, live ones (and the codes and flows that live tokens still
//! chain to) stay; batches are bounded but the run continues until nothing is left.

use std::time::Duration;

use serde_json::{Value, json};

use crate::browser::{REDIRECT, follow, query_param};
use crate::helpers::{TestApp, fresh_database, settings_for, spawn_on};
use crate::token::{Auth, redeem, token};

const HOUR: Duration = Duration::from_secs(3600);

async fn janitor_app() -> TestApp {
    spawn_on(fresh_database(), |s| {
        s.dev = true;
        s.janitor.batch_size = 2;
        s.janitor.interval = Duration::ZERO;
    })
    .await
}

/// One janitor run on the app's database at the app's clock.
async fn run_janitor(app: &TestApp) -> service_kit::janitor::Report {
    let mut settings = settings_for(&app.public);
    settings.dsn = app.db.dsn.clone();
    settings.clock = app.clock.clone();
    settings.janitor.batch_size = 2;
    oauth2_svc::janitor::run_once(settings)
        .await
        .expect("janitor runs")
}

async fn client_credentials_token(app: &TestApp, id: &str, secret: &str) {
    let res = token(
        app,
        &Auth::Basic(id, secret),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn the_janitor_deletes_expired_rows_in_batches_and_keeps_live_chains() {
    let app = janitor_app().await;
    let res = app
        .create_client(json!({"grant_types": ["client_credentials"], "scope": "read"}))
        .await;
    let machine: Value = res.json().await.unwrap();
    let (m_id, m_secret) = (
        machine["client_id"].as_str().unwrap(),
        machine["client_secret"].as_str().unwrap(),
    );
    for _ in 0..4 {
        client_credentials_token(&app, m_id, m_secret).await;
    }
    // A finished flow whose chain has a refresh token, and a flow nobody finished.
    let (id, secret) = app.confidential_client().await;
    let offline = [("scope", Some("openid offline_access email"))];
    let code = crate::helpers::obtain_code(&app, &id, &offline).await;
    let res = redeem(&app, &Auth::Basic(&id, &secret), &code, REDIRECT).await;
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_string();
    let abandoned = follow(
        &crate::browser::browser(),
        &app.authorize_url(&id, &offline),
    )
    .await;
    assert!(query_param(&abandoned, "login_challenge").is_some());

    let nothing = run_janitor(&app).await;
    assert_eq!(nothing.total(), 0, "nothing has expired yet: {nothing}");

    // Past the access token lifetime and the janitor's keep_expired (1h each by default).
    app.clock.advance(2 * HOUR + Duration::from_secs(60));
    let first = run_janitor(&app).await;
    assert_eq!(first.get("oauth2_access_tokens"), 5, "{first}");
    assert_eq!(first.get("oauth2_refresh_tokens"), 0, "{first}");
    assert_eq!(
        first.get("oauth2_codes"),
        0,
        "the refresh token keeps the chain: {first}"
    );
    assert_eq!(
        first.get("oauth2_flows"),
        1,
        "only the abandoned flow: {first}"
    );

    // The chain still works.
    let res = crate::token::token(
        &app,
        &Auth::Basic(&id, &secret),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
        ],
    )
    .await;
    assert_eq!(res.status(), 200, "the live refresh token still works");

    // Past the refresh token lifetime (720h) and the remembered login (720h): everything goes.
    app.clock.advance(722 * HOUR);
    let last = run_janitor(&app).await;
    assert_eq!(last.get("oauth2_access_tokens"), 1, "{last}");
    assert_eq!(
        last.get("oauth2_refresh_tokens"),
        2,
        "used and rotated: {last}"
    );
    assert_eq!(last.get("oauth2_codes"), 1, "{last}");
    assert_eq!(last.get("oauth2_flows"), 1, "{last}");
    assert_eq!(last.get("oauth2_login_sessions"), 1, "{last}");
    assert_eq!(run_janitor(&app).await.total(), 0);
}

#[tokio::test]
async fn expired_device_codes_go_and_live_ones_stay() {
    let app = janitor_app().await;
    let res = app
        .create_client(
            json!({"grant_types": ["urn:ietf:params:oauth:grant-type:device_code"],
            "scope": "openid", "token_endpoint_auth_method": "client_secret_post"}),
        )
        .await;
    let client: Value = res.json().await.unwrap();
    let device_auth = || async {
        let res = app
            .http
            .post(format!("{}/oauth2/device/auth", app.public))
            .form(&[
                ("client_id", client["client_id"].as_str().unwrap()),
                ("client_secret", client["client_secret"].as_str().unwrap()),
                ("scope", "openid"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    };
    device_auth().await;
    // Past the device code lifetime (10m) and keep_expired (1h); then a live one.
    app.clock.advance(HOUR + Duration::from_secs(11 * 60));
    device_auth().await;
    let report = run_janitor(&app).await;
    assert_eq!(report.get("oauth2_device_codes"), 1, "{report}");
    assert_eq!(run_janitor(&app).await.get("oauth2_device_codes"), 0);
}

#[tokio::test]
async fn janitor_settings_are_validated_by_key() {
    let mut settings = settings_for("http://127.0.0.1:1");
    settings.janitor.batch_size = 0;
    let err = settings.validate().unwrap_err().to_string();
    assert!(err.contains("janitor.batch_size"), "{err}");
}
