//! Native sign-in by ID token (`{method: "oidc", provider, id_token, id_token_nonce}` on api
//! flows), with ID tokens the upstream oauth2-svc issues in a real authorization code flow.

use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::oidc_native_support::{
    api_flow, mint, register_client, rejected, relying_party, says, submit, token_body,
};
use crate::oidc_support::{PROVIDER, claims, oidc_credential, pair, pair_with};

const SUBJECT: &str = "native-user-1";
const NONCE: &str = "a-nonce-the-app-chose-0123456789";

async fn whoami(app: &TestApp, token: &str) -> Value {
    let res = app
        .http
        .get(format!("{}/sessions/whoami", app.public))
        .header("x-session-token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn registers_with_an_id_token_then_signs_in_with_another() {
    let (app, up) = pair().await;
    let rp = relying_party(&app);
    let id_token = mint(&up, &rp, SUBJECT, claims("ada@example.com"), NONCE).await;
    let flow = api_flow(&app, "registration", "").await;
    let res = submit(
        &app,
        "registration",
        &flow,
        token_body(&id_token, Some(NONCE)),
    )
    .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let token = body["session_token"].as_str().expect("a session token");
    assert_eq!(body["continue_with"][0]["action"], "set_ory_session_token");
    assert_eq!(body["continue_with"][0]["ory_session_token"], token);
    assert_eq!(body["identity"]["traits"]["email"], "ada@example.com");
    assert_eq!(
        body["identity"]["verifiable_addresses"][0]["verified"],
        true
    );
    let session = whoami(&app, token).await;
    let id = session["identity"]["id"].as_str().unwrap().to_string();
    assert_eq!(session["authentication_methods"][0]["method"], "oidc");
    assert_eq!(session["authentication_methods"][0]["provider"], PROVIDER);
    let credential = oidc_credential(&app, &id).await;
    assert_eq!(
        credential["identifiers"][0],
        format!("{PROVIDER}:{SUBJECT}")
    );

    // A later sign-in with a new token from the same account lands in the same identity.
    let again = mint(
        &up,
        &rp,
        SUBJECT,
        claims("ada@example.com"),
        "second-nonce-42",
    )
    .await;
    let flow = api_flow(&app, "login", "").await;
    let res = submit(
        &app,
        "login",
        &flow,
        token_body(&again, Some("second-nonce-42")),
    )
    .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["session"]["identity"]["id"], id.as_str());
    let second = body["session_token"].as_str().unwrap();
    assert_ne!(second, token);
    assert_eq!(whoami(&app, second).await["identity"]["id"], id.as_str());
}

#[tokio::test]
async fn an_address_of_an_existing_identity_must_sign_in_to_link() {
    let (app, up) = pair().await;
    let person = app.create_person("grace@example.com").await;
    let id_token = mint(
        &up,
        &relying_party(&app),
        SUBJECT,
        claims("grace@example.com"),
        NONCE,
    )
    .await;
    let flow = api_flow(&app, "login", "").await;
    let res = submit(&app, "login", &flow, token_body(&id_token, Some(NONCE))).await;
    let messages = rejected(res).await;
    assert!(says(&messages, "1010016"), "{messages:?}");
    // Nothing was linked and no identity was added.
    let id = person["id"].as_str().unwrap();
    assert!(oidc_credential(&app, id).await.is_null());
    let all: Vec<Value> = app.get("/admin/identities").await.json().await.unwrap();
    assert_eq!(all.len(), 1);
}

#[tokio::test]
async fn audiences_are_the_client_or_the_additional_ones() {
    let (app, up) = pair_with(|s| {
        let provider = &mut s.selfservice.methods.oidc.config.providers[0];
        provider.additional_id_token_audiences = vec!["trusted-app".into()];
    })
    .await;
    let trusted = register_client(
        &up,
        "trusted-app",
        "a-trusted-app-secret-of-forty-characters",
    )
    .await;
    let other = register_client(&up, "other-app", "another-app-secret-of-forty-characters!!").await;

    let foreign = mint(&up, &other, SUBJECT, claims("x@example.com"), NONCE).await;
    let flow = api_flow(&app, "login", "").await;
    let res = submit(&app, "login", &flow, token_body(&foreign, Some(NONCE))).await;
    let messages = rejected(res).await;
    assert!(says(&messages, "could not be verified"), "{messages:?}");

    let native = mint(&up, &trusted, SUBJECT, claims("x@example.com"), NONCE).await;
    let flow = api_flow(&app, "login", "").await;
    let res = submit(&app, "login", &flow, token_body(&native, Some(NONCE))).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn expired_and_tampered_tokens_are_refused() {
    let (app, up) = pair().await;
    let rp = relying_party(&app);
    let id_token = mint(&up, &rp, SUBJECT, claims("e@example.com"), NONCE).await;

    // A changed signature.
    let mut parts: Vec<String> = id_token.split('.').map(str::to_string).collect();
    let signature = parts[2].clone().into_bytes();
    let mut changed = signature.clone();
    changed[8] = if signature[8] == b'A' { b'B' } else { b'A' };
    parts[2] = String::from_utf8(changed).unwrap();
    let tampered = parts.join(".");
    let flow = api_flow(&app, "login", "").await;
    let res = submit(&app, "login", &flow, token_body(&tampered, Some(NONCE))).await;
    assert!(says(&rejected(res).await, "could not be verified"));

    // Garbage is refused the same way, without an error page.
    let res = submit(&app, "login", &flow, token_body("not-a-jwt", Some(NONCE))).await;
    assert!(says(&rejected(res).await, "could not be verified"));

    // The same token a day later (the flow is started after the clock moved).
    app.clock.advance(std::time::Duration::from_secs(24 * 3600));
    let flow = api_flow(&app, "login", "").await;
    let res = submit(&app, "login", &flow, token_body(&id_token, Some(NONCE))).await;
    assert!(says(&rejected(res).await, "could not be verified"));
    let all: Vec<Value> = app.get("/admin/identities").await.json().await.unwrap();
    assert!(all.is_empty());
}

#[tokio::test]
async fn the_nonce_must_match_and_a_token_is_used_once() {
    let (app, up) = pair().await;
    let id_token = mint(
        &up,
        &relying_party(&app),
        SUBJECT,
        claims("n@example.com"),
        NONCE,
    )
    .await;
    let flow = api_flow(&app, "login", "").await;
    for nonce in [Some("another-nonce"), None] {
        let res = submit(&app, "login", &flow, token_body(&id_token, nonce)).await;
        assert!(says(&rejected(res).await, "nonce"), "{nonce:?}");
    }
    let res = submit(&app, "login", &flow, token_body(&id_token, Some(NONCE))).await;
    assert_eq!(res.status(), 200);

    // The same token again, on a new flow: refused, and no session.
    let flow = api_flow(&app, "login", "").await;
    let res = submit(&app, "login", &flow, token_body(&id_token, Some(NONCE))).await;
    let messages = rejected(res).await;
    assert!(says(&messages, "already used"), "{messages:?}");
}

#[tokio::test]
async fn an_unknown_provider_and_a_disabled_method_are_refused() {
    let (app, _up) = pair().await;
    let flow = api_flow(&app, "login", "").await;
    let body = json!({"method": "oidc", "provider": "nope", "id_token": "x.y.z"});
    let res = submit(&app, "login", &flow, body).await;
    let messages = rejected(res).await;
    assert!(
        says(&messages, "\"nope\" is not configured"),
        "{messages:?}"
    );

    let off = crate::helpers::spawn().await;
    let flow = api_flow(&off, "login", "").await;
    let res = submit(&off, "login", &flow, token_body("x.y.z", Some(NONCE))).await;
    let messages = rejected(res).await;
    assert!(!messages.is_empty());
    let res = submit(
        &off,
        "registration",
        &api_flow(&off, "registration", "").await,
        token_body("x.y.z", None),
    )
    .await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn pkce_auto_follows_the_discovery_document() {
    let (app, _up) = pair_with(|s| {
        s.selfservice.methods.oidc.config.providers[0].pkce =
            serde_json::from_value(json!("auto")).unwrap();
    })
    .await;
    // The upstream lists S256, so `auto` sends a challenge.
    let browser = crate::browser::Browser::new();
    let authorize = crate::oidc_support::press_provider(&app, &browser, "login").await;
    let method = crate::oidc_support::query_param(&authorize, "code_challenge_method");
    assert_eq!(method.as_deref(), Some("S256"));
}

#[tokio::test]
async fn a_browser_flow_takes_an_id_token_after_its_csrf_check() {
    let (app, up) = pair().await;
    let rp = relying_party(&app);
    let id_token = mint(&up, &rp, SUBJECT, claims("b@example.com"), NONCE).await;
    let browser = crate::browser::Browser::new();
    let flow = browser.start_flow(&app, "login", "").await;
    let fields = [
        ("method", "oidc"),
        ("provider", PROVIDER),
        ("id_token", id_token.as_str()),
        ("id_token_nonce", NONCE),
    ];
    let mut forged = fields.to_vec();
    forged.push(("csrf_token", "not-the-token"));
    let res = browser.submit(&flow, &forged, false).await;
    assert_eq!(res.status(), 403);

    let res = browser.submit(&flow, &fields, false).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        crate::oidc_support::location(&res),
        crate::helpers::DEFAULT_RETURN
    );
    let res = browser.whoami(&app).await;
    assert_eq!(res.status(), 200);
    let session: Value = res.json().await.unwrap();
    assert_eq!(session["identity"]["traits"]["email"], "b@example.com");
}

/// A token that left required traits missing can be submitted again, with the traits, to the
/// same flow (it is bound to that flow until the flow completes); another flow may not take it.
#[tokio::test]
async fn the_same_flow_may_resubmit_its_token_with_the_missing_traits() {
    let (app, up) = pair().await;
    let given = json!({"given_name": "Ada"});
    let id_token = mint(&up, &relying_party(&app), "no-mail-native", given, NONCE).await;
    let flow = api_flow(&app, "registration", "").await;
    let res = submit(
        &app,
        "registration",
        &flow,
        token_body(&id_token, Some(NONCE)),
    )
    .await;
    let messages = rejected(res).await;
    assert!(says(&messages, "4000002"), "{messages:?}");

    // Another flow may not take the token the first one holds.
    let other = api_flow(&app, "registration", "").await;
    let res = submit(
        &app,
        "registration",
        &other,
        token_body(&id_token, Some(NONCE)),
    )
    .await;
    assert!(says(&rejected(res).await, "already used"));

    let mut body = token_body(&id_token, Some(NONCE));
    body["traits"] = json!({"email": "ada-native@example.com"});
    let res = submit(&app, "registration", &flow, body.clone()).await;
    assert_eq!(res.status(), 200);
    let done: Value = res.json().await.unwrap();
    assert_eq!(
        done["identity"]["traits"]["email"],
        "ada-native@example.com"
    );
    assert_eq!(done["identity"]["traits"]["name"]["first"], "Ada");

    // Once completed, the flow takes nothing more, and the token stays used elsewhere.
    let res = submit(&app, "registration", &flow, body.clone()).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    let res = submit(&app, "registration", &other, body).await;
    assert!(says(&rejected(res).await, "already used"));
    assert_eq!(app.identity_count().await, 1);
}
