//! Kratos' session token exchange: an api flow with `return_session_token_exchange_code=true`,
//! its browser leg through the upstream oauth2-svc, and `GET /sessions/token-exchange`.

use serde_json::{Value, json};

use crate::browser::Browser;
use crate::helpers::TestApp;
use crate::oidc_native_support::{api_flow, submit};
use crate::oidc_support::{PROVIDER, Upstream, claims, location, pair, pair_with, query_param};

/// The app's return URLs: an https app link, and the app's own scheme (allowed below); both
/// must pass `selfservice.allowed_return_urls` like any return_to.
const APP_RETURN: &str = "https://app.test/native-callback";
const APP_SCHEME_RETURN: &str = "olympus-app://callback";

/// Runs an api login flow with an exchange code through the browser for `subject`; answers the
/// init code and the URL the browser was sent back to.
async fn browser_leg(
    app: &TestApp,
    up: &Upstream,
    subject: &str,
    return_to: &str,
) -> (String, String) {
    browser_leg_in(app, up, &Browser::new(), subject, return_to).await
}

/// [`browser_leg`] in `browser` (which may hold its own identity-svc session).
async fn browser_leg_in(
    app: &TestApp,
    up: &Upstream,
    browser: &Browser,
    subject: &str,
    return_to: &str,
) -> (String, String) {
    let query = format!("?return_session_token_exchange_code=true&return_to={return_to}");
    let flow = api_flow(app, "login", &query).await;
    let init = flow["session_token_exchange_code"]
        .as_str()
        .expect("an init code")
        .to_string();
    let res = submit(
        app,
        "login",
        &flow,
        json!({"method": "oidc", "provider": PROVIDER}),
    )
    .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["id"], "browser_location_change_required");
    let authorize = body["redirect_browser_to"].as_str().unwrap().to_string();
    let email = format!("{subject}@example.com");
    let callback = up
        .sign_in(browser, &authorize, subject, claims(&email))
        .await;
    let res = browser.http.get(&callback).send().await.unwrap();
    (init, location(&res))
}

async fn exchange(app: &TestApp, init: &str, returned: &str) -> reqwest::Response {
    app.http
        .get(format!("{}/sessions/token-exchange", app.public))
        .query(&[("init_code", init), ("return_to_code", returned)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_codes_give_a_working_session_token_once() {
    let (app, up) = pair_with(|s| {
        s.selfservice
            .allowed_return_urls
            .push(APP_SCHEME_RETURN.into());
    })
    .await;
    let (init, back) = browser_leg(&app, &up, "exchanger", APP_SCHEME_RETURN).await;
    assert!(
        back.starts_with(&format!("{APP_SCHEME_RETURN}?code=")),
        "{back}"
    );
    let code = query_param(&back, "code").unwrap();
    assert_ne!(code, init);

    let res = exchange(&app, &init, &code).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let token = body["session_token"].as_str().expect("a session token");
    assert_eq!(
        body["session"]["identity"]["traits"]["email"],
        "exchanger@example.com"
    );
    let res = app
        .http
        .get(format!("{}/sessions/whoami", app.public))
        .header("x-session-token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let session: Value = res.json().await.unwrap();
    assert_eq!(session["id"], body["session"]["id"]);

    // Used once.
    assert_eq!(exchange(&app, &init, &code).await.status(), 404);
}

#[tokio::test]
async fn codes_of_two_flows_do_not_pair_and_codes_expire() {
    let (app, up) = pair().await;
    let (init_a, back_a) = browser_leg(&app, &up, "first", APP_RETURN).await;
    let (init_b, back_b) = browser_leg(&app, &up, "second", APP_RETURN).await;
    let (code_a, code_b) = (
        query_param(&back_a, "code").unwrap(),
        query_param(&back_b, "code").unwrap(),
    );
    assert_eq!(exchange(&app, &init_a, &code_b).await.status(), 404);
    assert_eq!(exchange(&app, &init_b, &code_a).await.status(), 404);
    assert_eq!(exchange(&app, "", &code_a).await.status(), 400);
    // A wrong pairing spends nothing.
    let res = exchange(&app, &init_a, &code_a).await;
    assert_eq!(res.status(), 200);

    // Past the lifespan (10 minutes by default) the right pair is refused as expired.
    app.clock.advance(std::time::Duration::from_secs(11 * 60));
    assert_eq!(exchange(&app, &init_b, &code_b).await.status(), 410);
}

#[tokio::test]
async fn an_api_flow_without_the_exchange_is_not_sent_to_a_browser() {
    let (app, _up) = pair().await;
    let flow = api_flow(&app, "login", "").await;
    assert!(flow.get("session_token_exchange_code").is_none());
    let res = submit(
        &app,
        "login",
        &flow,
        json!({"method": "oidc", "provider": PROVIDER}),
    )
    .await;
    assert_eq!(res.status(), 400);
    // A custom scheme nobody allowed is refused at the flow's start.
    let res = app
        .http
        .get(format!(
            "{}/self-service/login/api?return_session_token_exchange_code=true&return_to=evil-app://x",
            app.public
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

async fn init_status(app: &TestApp, query: &str) -> u16 {
    let url = format!("{}/self-service/login/api{query}", app.public);
    app.http.get(url).send().await.unwrap().status().as_u16()
}

/// The return_to code goes only to an explicit, listed return_to: never to the default page.
#[tokio::test]
async fn exchange_flows_need_an_explicit_listed_return_to() {
    let (app, _up) = pair().await;
    let ask = "?return_session_token_exchange_code=true";
    assert_eq!(init_status(&app, ask).await, 400);
    assert_eq!(init_status(&app, &format!("{ask}&return_to=")).await, 400);
    let off_list = format!("{ask}&return_to=https://ui.test/login");
    assert_eq!(init_status(&app, &off_list).await, 400);
    let listed = format!("{ask}&return_to={APP_RETURN}");
    assert_eq!(init_status(&app, &listed).await, 200);
    // Flows without the exchange keep the default.
    assert_eq!(init_status(&app, "").await, 200);
}

/// Finishing an api flow in the system browser leaves that browser's own session alone.
#[tokio::test]
async fn the_browser_leg_keeps_the_browsers_own_session() {
    let (app, up) = pair().await;
    app.create_person_with_password("ada@example.com").await;
    let browser = Browser::new();
    browser.log_in(&app, "ada@example.com").await;
    let (init, back) = browser_leg_in(&app, &up, &browser, "native", APP_RETURN).await;
    let code = query_param(&back, "code").unwrap();
    let res = browser.whoami(&app).await;
    assert_eq!(res.status(), 200, "the browser's session is still active");
    let mine: Value = res.json().await.unwrap();
    assert_eq!(mine["identity"]["traits"]["email"], "ada@example.com");
    let res = exchange(&app, &init, &code).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_ne!(body["session"]["id"], mine["id"]);
}

/// A session revoked (or of an identity disabled) before the redemption is not handed out.
#[tokio::test]
async fn revoked_sessions_and_disabled_identities_are_not_redeemed() {
    let (app, up) = pair().await;
    let (init, back) = browser_leg(&app, &up, "revoked", APP_RETURN).await;
    let code = query_param(&back, "code").unwrap();
    let (init2, back2) = browser_leg(&app, &up, "disabled", APP_RETURN).await;
    let code2 = query_param(&back2, "code").unwrap();

    let id = identity_id(&app, "revoked@example.com").await;
    let url = format!("{}/admin/identities/{id}/sessions", app.admin);
    let res = app.http.delete(url).send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(exchange(&app, &init, &code).await.status(), 404);

    let id = identity_id(&app, "disabled@example.com").await;
    let url = format!("{}/admin/identities/{id}", app.admin);
    let patch = json!([{"op": "replace", "path": "/state", "value": "inactive"}]);
    let res = app.http.patch(url).json(&patch).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(exchange(&app, &init2, &code2).await.status(), 404);
}

async fn identity_id(app: &TestApp, email: &str) -> String {
    let all: Vec<Value> = app.get("/admin/identities").await.json().await.unwrap();
    let found = all.iter().find(|i| i["traits"]["email"] == email);
    found.expect("the identity")["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The janitor deletes exchanges once expired (redeemed or not).
#[tokio::test]
async fn the_janitor_deletes_expired_exchanges() {
    let (app, up) = pair().await;
    let (init, back) = browser_leg(&app, &up, "swept", APP_RETURN).await;
    let code = query_param(&back, "code").unwrap();
    assert_eq!(exchange(&app, &init, &code).await.status(), 200);
    let _ = browser_leg(&app, &up, "unredeemed", APP_RETURN).await;
    let report = crate::janitor::run_janitor(&app).await;
    assert_eq!(report.get("session_token_exchanges"), 0, "{report}");
    // Past the lifespan (10 minutes) and keep_expired (1 hour).
    app.clock.advance(std::time::Duration::from_secs(2 * 3600));
    let report = crate::janitor::run_janitor(&app).await;
    assert_eq!(report.get("session_token_exchanges"), 2, "{report}");
}
