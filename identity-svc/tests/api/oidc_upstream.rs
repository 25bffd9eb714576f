//! The `oidc` method against a second oauth2-svc as the upstream provider: registration and
//! sign-in, the browser binding and single use of the callback, account linking only after
//! proof, unlinking, and upstream errors.

use serde_json::Value;

use crate::browser::{Browser, browser_app, node};
use crate::flows::message_ids;
use crate::helpers::{DEFAULT_RETURN, LOGIN_UI};
use crate::oidc_support::{
    PROVIDER, claims, location, oidc_credential, pair, press_provider, query_param,
    sign_in_upstream,
};

const SUBJECT: &str = "upstream-user-1";

async fn whoami(app: &crate::helpers::TestApp, browser: &Browser) -> Value {
    let res = browser.whoami(app).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The flow a browser was sent back to (`<ui>?flow=<id>`), fetched as its page would.
async fn flow_at(app: &crate::helpers::TestApp, browser: &Browser, kind: &str, to: &str) -> Value {
    let id = query_param(to, "flow").expect("sent to a flow page");
    let res = browser.fetch_flow_of(app, kind, &id).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn registers_through_the_upstream_and_signs_in_again() {
    let (app, up) = pair().await;
    let browser = Browser::new();
    let flow = browser.start_login(&app, "").await;
    let button = node(&flow, "provider");
    assert_eq!(button["group"], "oidc");
    assert_eq!(button["attributes"]["value"], PROVIDER);
    assert_eq!(button["meta"]["label"]["id"], 1010002);

    let authorize = press_provider(&app, &browser, "login").await;
    assert!(
        authorize.starts_with(&format!("{}/oauth2/auth?", up.public)),
        "{authorize}"
    );
    for param in ["state", "nonce", "code_challenge"] {
        assert!(query_param(&authorize, param).is_some(), "{param} missing");
    }
    assert_eq!(
        query_param(&authorize, "code_challenge_method").unwrap(),
        "S256"
    );
    let callback = up
        .sign_in(&browser, &authorize, SUBJECT, claims("grace@example.com"))
        .await;
    assert!(callback.starts_with(&format!(
        "{}/self-service/methods/oidc/callback/{PROVIDER}?",
        app.public
    )));
    let res = browser.http.get(&callback).send().await.unwrap();
    assert_eq!(location(&res), DEFAULT_RETURN);

    let session = whoami(&app, &browser).await;
    let identity = &session["identity"];
    assert_eq!(identity["traits"]["email"], "grace@example.com");
    assert_eq!(identity["traits"]["name"]["first"], "Grace");
    assert_eq!(identity["verifiable_addresses"][0]["verified"], true);
    let method = &session["authentication_methods"][0];
    assert_eq!(
        (method["method"].as_str(), method["provider"].as_str()),
        (Some("oidc"), Some(PROVIDER))
    );
    let id = identity["id"].as_str().unwrap().to_string();
    let credential = oidc_credential(&app, &id).await;
    assert_eq!(
        credential["identifiers"][0],
        format!("{PROVIDER}:{SUBJECT}")
    );
    // The upstream's tokens are sealed at rest and never shown (opaque tokens start `oly_`,
    // JWTs `eyJ`).
    let shown = credential.to_string();
    assert!(!shown.contains("oly_") && !shown.contains("eyJ"), "{shown}");

    // Again, in another browser: the same identity, no second one.
    let other = Browser::new();
    let res = sign_in_upstream(&app, &up, &other, SUBJECT, "grace@example.com").await;
    assert_eq!(location(&res), DEFAULT_RETURN);
    assert_eq!(whoami(&app, &other).await["identity"]["id"], id.as_str());
    assert_eq!(app.identity_count().await, 1);
}

#[tokio::test]
async fn an_spa_gets_a_location_change_and_registration_shows_sign_up_buttons() {
    let (app, up) = pair().await;
    let browser = Browser::new();
    let flow = browser.start_registration(&app, "").await;
    assert_eq!(node(&flow, "provider")["meta"]["label"]["id"], 1040002);
    let res = browser
        .submit(&flow, &[("method", "oidc"), ("provider", PROVIDER)], true)
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["id"], "browser_location_change_required");
    let authorize = body["redirect_browser_to"].as_str().unwrap();
    assert!(authorize.starts_with(&up.public));
    let callback = up
        .sign_in(&browser, authorize, SUBJECT, claims("ada@example.com"))
        .await;
    let res = browser.http.get(&callback).send().await.unwrap();
    assert_eq!(location(&res), DEFAULT_RETURN);
    assert_eq!(
        whoami(&app, &browser).await["identity"]["traits"]["email"],
        "ada@example.com"
    );
}

#[tokio::test]
async fn another_browser_a_wrong_state_and_a_replay_are_refused() {
    let (app, up) = pair().await;
    let browser = Browser::new();
    let authorize = press_provider(&app, &browser, "login").await;
    let callback = up
        .sign_in(&browser, &authorize, SUBJECT, claims("grace@example.com"))
        .await;

    // The callback in a browser that did not start the flow.
    let thief = Browser::new();
    let res = thief.http.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(thief.whoami(&app).await.status(), 401);

    // A state that is not the one the flow sent.
    let state = query_param(&callback, "state").unwrap();
    let forged = callback.replace(&state, &format!("{state}x"));
    let res = browser.http.get(&forged).send().await.unwrap();
    assert_eq!(res.status(), 400);

    // A `form_post` callback becomes the GET (so that the SameSite=Lax cookies come along).
    let code = query_param(&callback, "code").unwrap();
    let posted = browser
        .http
        .post(callback.split('?').next().unwrap())
        .form(&[("code", code.as_str()), ("state", state.as_str())])
        .send()
        .await
        .unwrap();
    let to = location(&posted);
    assert!(
        to.starts_with(&format!("/self-service/methods/oidc/callback/{PROVIDER}?")),
        "{to}"
    );
    assert_eq!(
        query_param(&format!("{}{to}", app.public), "state"),
        Some(state.clone())
    );

    let res = browser.http.get(&callback).send().await.unwrap();
    assert_eq!(location(&res), DEFAULT_RETURN);
    // The same callback again: refused (the sign-in renewed the anti-CSRF cookie, and the state
    // was used).
    let res = browser.http.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(app.identity_count().await, 1);
}

#[tokio::test]
async fn an_existing_address_is_linked_only_after_the_password() {
    let (app, up) = pair().await;
    let person = app.create_person_with_password("grace@example.com").await;
    let id = person["id"].as_str().unwrap();
    let browser = Browser::new();
    let res = sign_in_upstream(&app, &up, &browser, SUBJECT, "grace@example.com").await;
    let to = location(&res);
    assert!(to.starts_with(LOGIN_UI), "{to}");
    assert_eq!(browser.whoami(&app).await.status(), 401);
    assert!(
        oidc_credential(&app, id).await.is_null(),
        "linked without proof"
    );
    assert_eq!(app.identity_count().await, 1);

    let flow = flow_at(&app, &browser, "login", &to).await;
    let ids = message_ids(&flow);
    assert!(ids.contains(&1010016) && ids.contains(&4000027), "{ids:?}");
    assert_eq!(
        node(&flow, "identifier")["attributes"]["value"],
        "grace@example.com"
    );
    let res = browser
        .submit(
            &flow,
            &[
                ("method", "password"),
                ("identifier", "grace@example.com"),
                ("password", crate::browser::PASSWORD),
            ],
            true,
        )
        .await;
    assert_eq!(res.status(), 200);
    let credential = oidc_credential(&app, id).await;
    assert_eq!(
        credential["identifiers"][0],
        format!("{PROVIDER}:{SUBJECT}")
    );

    // From now on the upstream account signs in to that identity.
    let other = Browser::new();
    let res = sign_in_upstream(&app, &up, &other, SUBJECT, "grace@example.com").await;
    assert_eq!(location(&res), DEFAULT_RETURN);
    assert_eq!(whoami(&app, &other).await["identity"]["id"], id);

    // Settings: the provider can be unlinked (the password remains) …
    let settings = other.start_settings(&app).await;
    assert_eq!(node(&settings, "unlink")["attributes"]["value"], PROVIDER);
    let res = other
        .submit(
            &settings,
            &[("method", "oidc"), ("unlink", PROVIDER)],
            false,
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(oidc_credential(&app, id).await.is_null());
    let settings = other.start_settings(&app).await;
    assert_eq!(node(&settings, "link")["attributes"]["value"], PROVIDER);
}

#[tokio::test]
async fn the_only_credential_cannot_be_unlinked() {
    let (app, up) = pair().await;
    let browser = Browser::new();
    let res = sign_in_upstream(&app, &up, &browser, SUBJECT, "grace@example.com").await;
    assert_eq!(location(&res), DEFAULT_RETURN);
    let id = whoami(&app, &browser).await["identity"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let settings = browser.start_settings(&app).await;
    let res = browser
        .submit(&settings, &[("method", "oidc"), ("unlink", PROVIDER)], true)
        .await;
    assert_eq!(res.status(), 400);
    let flow: Value = res.json().await.unwrap();
    assert!(message_ids(&flow).contains(&4000001), "{flow}");
    assert_eq!(
        oidc_credential(&app, &id).await["identifiers"][0],
        format!("{PROVIDER}:{SUBJECT}")
    );
}

#[tokio::test]
async fn an_upstream_refusal_is_a_message_on_the_flow() {
    let (app, up) = pair().await;
    let browser = Browser::new();
    let authorize = press_provider(&app, &browser, "login").await;
    let callback = up.deny(&browser, &authorize).await;
    assert_eq!(
        query_param(&callback, "error").as_deref(),
        Some("access_denied")
    );
    let res = browser.http.get(&callback).send().await.unwrap();
    let to = location(&res);
    assert!(to.starts_with(LOGIN_UI), "{to}");
    let flow = flow_at(&app, &browser, "login", &to).await;
    let message = &flow["ui"]["messages"][0];
    assert_eq!(message["id"], 4000001);
    assert!(message["text"].as_str().unwrap().contains("access_denied"));
    assert!(
        !flow.to_string().contains("The user said no"),
        "upstream text echoed"
    );
    assert_eq!(browser.whoami(&app).await.status(), 401);
}

#[tokio::test]
async fn a_disabled_method_shows_no_buttons_and_refuses_submissions() {
    let app = browser_app().await;
    let browser = Browser::new();
    let flow = browser.start_login(&app, "").await;
    assert!(
        !flow["ui"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["group"] == "oidc")
    );
    let res = browser
        .submit(&flow, &[("method", "oidc"), ("provider", PROVIDER)], true)
        .await;
    assert_eq!(res.status(), 400);
    let flow: Value = res.json().await.unwrap();
    assert_eq!(message_ids(&flow), vec![4010002]);
    let res = browser
        .http
        .get(format!(
            "{}/self-service/methods/oidc/callback/{PROVIDER}?state=x&code=y",
            app.public
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}
