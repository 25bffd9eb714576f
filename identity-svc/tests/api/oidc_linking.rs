//! The `oidc` method's registration form for missing traits, and linking from settings.

use serde_json::{Value, json};

use crate::browser::{Browser, node};
use crate::oidc_support::{PROVIDER, location, oidc_credential, pair, query_param};

#[tokio::test]
async fn missing_traits_are_asked_for_then_the_upstream_account_registers() {
    let (app, up) = pair().await;
    let browser = Browser::new();
    let authorize = crate::oidc_support::press_provider(&app, &browser, "login").await;
    // The provider gives no address, which the default schema requires.
    let callback = up
        .sign_in(
            &browser,
            &authorize,
            "no-mail",
            json!({"given_name": "Ada"}),
        )
        .await;
    let res = browser.http.get(&callback).send().await.unwrap();
    let to = location(&res);
    let id = query_param(&to, "flow").expect("sent to the registration page");
    assert_eq!(browser.whoami(&app).await.status(), 401);
    assert_eq!(app.identity_count().await, 0);
    let res = browser.fetch_registration(&app, &id).await;
    assert_eq!(res.status(), 200);
    let flow: Value = res.json().await.unwrap();
    let email = node(&flow, "traits.email");
    assert_eq!(email["messages"][0]["id"], 4000002, "{email}");
    assert_eq!(
        node(&flow, "traits.name.first")["attributes"]["value"],
        "Ada"
    );

    // The user types the address and presses the provider's button again.
    let res = browser
        .submit(
            &flow,
            &[
                ("method", "oidc"),
                ("provider", PROVIDER),
                ("traits.email", "ada@example.com"),
            ],
            false,
        )
        .await;
    let authorize = location(&res);
    // The provider says `email_verified` but gives no address: that vouches for nothing typed.
    let callback = up
        .sign_in(
            &browser,
            &authorize,
            "no-mail",
            json!({"given_name": "Ada", "email_verified": true}),
        )
        .await;
    let res = browser.http.get(&callback).send().await.unwrap();
    assert_eq!(location(&res), crate::helpers::DEFAULT_RETURN);
    let session: Value = browser.whoami(&app).await.json().await.unwrap();
    let traits = &session["identity"]["traits"];
    assert_eq!(traits["email"], "ada@example.com");
    assert_eq!(traits["name"]["first"], "Ada");
    // Not vouched for by the provider: the typed address is not verified.
    assert_eq!(
        session["identity"]["verifiable_addresses"][0]["verified"],
        false
    );
}

#[tokio::test]
async fn settings_link_an_upstream_account_to_the_signed_in_identity() {
    let (app, up) = pair().await;
    let person = app.create_person_with_password("grace@example.com").await;
    let id = person["id"].as_str().unwrap();
    let browser = Browser::new();
    browser.log_in(&app, "grace@example.com").await;
    let settings = browser.start_settings(&app).await;
    let link = node(&settings, "link");
    assert_eq!(link["group"], "oidc");
    assert_eq!(link["meta"]["label"]["id"], 1050002);
    let res = browser
        .submit(&settings, &[("method", "oidc"), ("link", PROVIDER)], false)
        .await;
    let authorize = location(&res);
    assert!(authorize.starts_with(&up.public), "{authorize}");
    // The upstream account has another address: linking from settings does not depend on it.
    let claims = json!({"email": "g.hopper@upstream.test", "email_verified": true});
    let callback = up.sign_in(&browser, &authorize, "linked-1", claims).await;
    let res = browser.http.get(&callback).send().await.unwrap();
    let to = location(&res);
    assert_eq!(
        query_param(&to, "flow").unwrap(),
        settings["id"].as_str().unwrap()
    );
    let credential = oidc_credential(&app, id).await;
    assert_eq!(credential["identifiers"][0], format!("{PROVIDER}:linked-1"));
    let res = browser
        .fetch_settings(&app, settings["id"].as_str().unwrap())
        .await;
    let flow: Value = res.json().await.unwrap();
    assert_eq!(flow["state"], "success");
    assert_eq!(node(&flow, "unlink")["attributes"]["value"], PROVIDER);

    // Now the upstream account signs in to Grace's identity.
    let other = Browser::new();
    let authorize = crate::oidc_support::press_provider(&app, &other, "login").await;
    let claims = json!({"email": "g.hopper@upstream.test"});
    let callback = up.sign_in(&other, &authorize, "linked-1", claims).await;
    let res = other.http.get(&callback).send().await.unwrap();
    assert_eq!(location(&res), crate::helpers::DEFAULT_RETURN);
    let session: Value = other.whoami(&app).await.json().await.unwrap();
    assert_eq!(session["identity"]["id"], id);
}

#[tokio::test]
async fn linking_needs_a_recent_sign_in() {
    let (app, _up) = pair().await;
    app.create_person_with_password("grace@example.com").await;
    let browser = Browser::new();
    browser.log_in(&app, "grace@example.com").await;
    // Past `privileged_session_max_age` (1h) the session may not change its sign-in methods.
    app.clock.advance(std::time::Duration::from_secs(3601));
    let settings = browser.start_settings(&app).await;
    let res = browser
        .submit(&settings, &[("method", "oidc"), ("link", PROVIDER)], true)
        .await;
    let error = crate::helpers::expect_error(res, 403).await;
    assert_eq!(error["id"], "session_refresh_required");
    let res = browser
        .submit(&settings, &[("method", "oidc"), ("link", PROVIDER)], false)
        .await;
    assert!(location(&res).contains("refresh=true"));
}
