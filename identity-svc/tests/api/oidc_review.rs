//! The `oidc` method with second factors and hooks: linking waits for the step-up, a second
//! factor is no way to sign in when unlinking, upstream sign-ins step up too, registration
//! honours the `session` hook and queues verification mails, the link callback re-checks the
//! privileged session, and two callbacks registering one upstream account at once.

use crate::mfa_support::press_totp;
use serde_json::{Value, json};

use crate::browser::{Browser, PASSWORD};
use crate::courier::SETTINGS_UI;
use crate::flows::{api_token, message_ids};
use crate::helpers::{DEFAULT_RETURN, LOGIN_UI, TestApp};
use crate::mfa_support::{
    ADA, MINUTE, STEP, code_now, enrol_totp_api, press, start_browser_step_up, totp_secret,
};
use crate::oidc_support::{
    PROVIDER, Upstream, claims, location, oidc_credential, pair_with, press_provider, query_param,
    sign_in_upstream,
};

const SUBJECT: &str = "upstream-user-2";

/// identity-svc with TOTP on and a settings page, and its upstream.
async fn totp_pair() -> (TestApp, Upstream) {
    pair_with(|s| {
        s.selfservice.methods.totp.enabled = true;
        s.selfservice.flows.settings.ui_url = Some(SETTINGS_UI.into());
        s.selfservice.flows.settings.privileged_session_max_age = 5 * MINUTE;
    })
    .await
}

async fn flow_at(app: &TestApp, browser: &Browser, to: &str) -> Value {
    let id = query_param(to, "flow").expect("sent to a flow page");
    let res = browser.fetch_flow_of(app, "login", &id).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn an_upstream_account_is_linked_only_after_the_second_factor() {
    let (app, up) = totp_pair().await;
    let person = app.create_person_with_password(ADA).await;
    let id = person["id"].as_str().unwrap();
    let secret = enrol_totp_api(&app, &api_token(&app, ADA).await).await;
    let browser = Browser::new();
    let res = sign_in_upstream(&app, &up, &browser, SUBJECT, ADA).await;
    let flow = flow_at(&app, &browser, &location(&res)).await;
    let res = browser
        .submit(
            &flow,
            &[
                ("method", "password"),
                ("identifier", ADA),
                ("password", PASSWORD),
            ],
            true,
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert!(
        oidc_credential(&app, id).await.is_null(),
        "linked before the second factor"
    );
    let next = body["continue_with"][0]["redirect_browser_to"]
        .as_str()
        .unwrap();
    assert!(next.starts_with(LOGIN_UI), "{next}");
    let step_up = flow_at(&app, &browser, next).await;
    assert_eq!(step_up["requested_aal"], "aal2");
    let res = press(
        &browser,
        &step_up,
        &[("method", "totp"), ("totp_code", &code_now(&app, &secret))],
        true,
    )
    .await;
    assert_eq!(res.status(), 200);
    let upgraded: Value = res.json().await.unwrap();
    assert_eq!(upgraded["session"]["authenticator_assurance_level"], "aal2");
    assert_eq!(
        oidc_credential(&app, id).await["identifiers"][0],
        format!("{PROVIDER}:{SUBJECT}")
    );
}

#[tokio::test]
async fn a_second_factor_does_not_count_when_unlinking_and_upstream_sign_ins_step_up() {
    let (app, up) = totp_pair().await;
    let browser = Browser::new();
    let res = sign_in_upstream(&app, &up, &browser, SUBJECT, ADA).await;
    assert_eq!(location(&res), DEFAULT_RETURN);
    let settings = browser.start_settings(&app).await;
    let secret = totp_secret(&settings);
    let res = press_totp(&app, &browser, &settings, &secret, true).await;
    assert_eq!(res.status(), 200);
    app.clock.advance(STEP);
    let step_up = start_browser_step_up(&app, &browser).await;
    let res = press_totp(&app, &browser, &step_up, &secret, true).await;
    assert_eq!(res.status(), 200);

    // TOTP alone signs no one in: the only provider stays.
    let settings = browser.start_settings(&app).await;
    let res = browser
        .submit(&settings, &[("method", "oidc"), ("unlink", PROVIDER)], true)
        .await;
    assert_eq!(res.status(), 400);
    let flow: Value = res.json().await.unwrap();
    assert!(message_ids(&flow).contains(&4000001), "{flow}");

    // A new upstream sign-in is aal1 and goes on to the step-up, as a password sign-in does.
    let other = Browser::new();
    let res = sign_in_upstream(&app, &up, &other, SUBJECT, ADA).await;
    let to = location(&res);
    assert!(to.contains("/self-service/login/browser?aal=aal2"), "{to}");
    assert_eq!(other.whoami(&app).await.status(), 403);
}

#[tokio::test]
async fn without_the_session_hook_registration_signs_no_one_in_and_mails_the_address() {
    // Mail goes nowhere: the test reads the queue.
    let mail = crate::courier::mail_settings("smtp://127.0.0.1:1");
    let (app, up) = pair_with(|s| {
        mail(s);
        s.selfservice.flows.registration.after.hooks = Vec::new();
    })
    .await;
    let browser = Browser::new();
    let authorize = press_provider(&app, &browser, "login").await;
    let unverified = json!({"email": ADA, "email_verified": false, "given_name": "Ada"});
    let callback = up.sign_in(&browser, &authorize, SUBJECT, unverified).await;
    let res = browser.http.get(&callback).send().await.unwrap();
    assert_eq!(location(&res), DEFAULT_RETURN);
    assert_eq!(browser.whoami(&app).await.status(), 401);
    assert_eq!(app.identity_count().await, 1);
    let res = app.get("/admin/courier/messages").await;
    assert_eq!(res.status(), 200);
    let messages: Value = res.json().await.unwrap();
    assert_eq!(messages.as_array().unwrap().len(), 1, "{messages}");
    assert_eq!(messages[0]["recipient"], ADA);
}

#[tokio::test]
async fn the_link_callback_needs_a_session_still_recent() {
    let (app, up) = totp_pair().await;
    let person = app.create_person_with_password("grace@example.com").await;
    let browser = Browser::new();
    browser.log_in(&app, "grace@example.com").await;
    let settings = browser.start_settings(&app).await;
    let res = browser
        .submit(&settings, &[("method", "oidc"), ("link", PROVIDER)], false)
        .await;
    let authorize = location(&res);
    // The round trip outlasts `privileged_session_max_age` (5 min).
    app.clock.advance(6 * MINUTE);
    let claims = json!({"email": "g.hopper@upstream.test", "email_verified": true});
    let callback = up.sign_in(&browser, &authorize, "linked-2", claims).await;
    let res = browser.http.get(&callback).send().await.unwrap();
    assert!(location(&res).contains("refresh=true"));
    assert!(
        oidc_credential(&app, person["id"].as_str().unwrap())
            .await
            .is_null()
    );
}

#[tokio::test]
async fn two_callbacks_registering_one_upstream_account_end_in_one_identity() {
    let (app, up) = totp_pair().await;
    let (first, second) = (Browser::new(), Browser::new());
    let mut callbacks = Vec::new();
    for browser in [&first, &second] {
        let authorize = press_provider(&app, browser, "login").await;
        callbacks.push(up.sign_in(browser, &authorize, SUBJECT, claims(ADA)).await);
    }
    let (a, b) = tokio::join!(
        first.http.get(&callbacks[0]).send(),
        second.http.get(&callbacks[1]).send()
    );
    for res in [a.unwrap(), b.unwrap()] {
        assert_eq!(location(&res), DEFAULT_RETURN);
    }
    assert_eq!(app.identity_count().await, 1);
    for browser in [&first, &second] {
        assert_eq!(browser.whoami(&app).await.status(), 200);
    }
}
