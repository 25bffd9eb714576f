//! oauth2-svc's grants and sessions end to end (issue 6, "Proof"): the three real binaries, the
//! cookie-keeping browser and `openidconnect` as the relying party, for refresh rotation and
//! reuse, revocation, the device flow through login-ui's pages, `prompt=none` / `max_age`, and
//! RP-initiated logout with a back-channel receiver. Each test names the security.md cases it
//! covers.

mod support;

use std::time::Duration;

use olympus_tests::harness::{Domain, DomainOptions};
use openidconnect::core::CoreUserInfoClaims;
use openidconnect::{OAuth2TokenResponse, TokenResponse};
use serde_json::{Value, json};
use support::{
    Browser, PASSWORD, REDIRECT, jwt_claims, query_param, receiver, setup_with, signed_in_with,
    unix_now,
};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A client that may refresh (and, for the device test, use the device grant).
fn refreshing() -> Value {
    json!({"grant_types": ["authorization_code", "refresh_token"]})
}

/// RT-01: no refresh token without `offline_access`. RT-02: every refresh rotates, and the new
/// token works. RT-03: replaying a used refresh token fails and revokes the whole chain, so the
/// newest refresh token and its access token stop working too (IR-02: introspection says
/// `active:false`).
#[tokio::test]
async fn refresh_tokens_rotate_and_a_replay_revokes_the_chain() {
    let s = signed_in_with(refreshing()).await;
    let without = s.tokens(&["email"]).await;
    assert!(
        without.refresh_token().is_none(),
        "no refresh token without offline_access"
    );

    let first = s.tokens(&["offline_access"]).await;
    let rt1 = first.refresh_token().expect("a refresh token").clone();
    let second = s.refresh(&rt1).await.expect("the first refresh");
    let rt2 = second
        .refresh_token()
        .expect("a rotated refresh token")
        .clone();
    assert_ne!(rt1.secret(), rt2.secret());
    assert_ne!(
        first.access_token().secret(),
        second.access_token().secret()
    );
    assert!(
        second.id_token().is_some(),
        "a refresh of an openid grant gives an ID token"
    );
    assert!(s.userinfo_accepts(second.access_token()).await);

    let third = s.refresh(&rt2).await.expect("the rotated token works");
    let rt3 = third.refresh_token().unwrap().clone();
    assert!(s.userinfo_accepts(third.access_token()).await);

    // RT1 was used: its replay is reuse, and the chain dies with it.
    assert_eq!(s.refresh(&rt1).await.unwrap_err(), "invalid_grant");
    assert_eq!(s.refresh(&rt3).await.unwrap_err(), "invalid_grant");
    assert!(!s.userinfo_accepts(third.access_token()).await);
    let introspected = s.introspect(third.access_token().secret()).await;
    assert_eq!(introspected, json!({"active": false}));
}

/// IR-06: a revoked access token is rejected at userinfo at once. IR-03 / IR-02: admin
/// introspection says `active:true` with the token's fields before, and only `active:false`
/// after.
#[tokio::test]
async fn a_revoked_access_token_stops_working() {
    let s = signed_in_with(refreshing()).await;
    let tokens = s.tokens(&["email"]).await;
    let access = tokens.access_token();
    assert!(s.userinfo_accepts(access).await);
    let live = s.introspect(access.secret()).await;
    assert_eq!(live["active"], true, "{live}");
    assert_eq!(live["client_id"], s.client_id.as_str());
    assert_eq!(live["token_type"], "Bearer");

    let res = reqwest::Client::new()
        .post(format!("{}/oauth2/revoke", s.domain.issuer()))
        .basic_auth(&s.client_id, Some(&s.client_secret))
        .form(&[("token", access.secret().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    assert!(!s.userinfo_accepts(access).await);
    let userinfo: Result<CoreUserInfoClaims, _> =
        s.rp.user_info(access.clone(), None)
            .unwrap()
            .request_async(&s.http)
            .await;
    assert!(userinfo.is_err(), "the RP sees the revocation too");
    assert_eq!(
        s.introspect(access.secret()).await,
        json!({"active": false})
    );
}

/// Polls the token endpoint with `device_code` as the device does.
async fn poll(domain: &Domain, client: &(String, String), device_code: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/oauth2/token", domain.issuer()))
        .form(&[
            ("grant_type", DEVICE_GRANT),
            ("device_code", device_code),
            ("client_id", &client.0),
            ("client_secret", &client.1),
        ])
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

/// The device flow (RFC 8628) through login-ui's device pages: the browser opens
/// `verification_uri_complete`, confirms the user code at login-ui (a wrong code first: an
/// accessible error, and the form again), signs in at identity-svc, consents, and ends on
/// login-ui's "return to your device" page; the device's polls say `authorization_pending`
/// until then and then give tokens, once (TK-01).
#[tokio::test]
async fn a_device_is_connected_through_login_ui() {
    let domain = Domain::start_with(DomainOptions {
        dev: true,
        overrides: [(
            "OAUTH2_OAUTH2__DEVICE_AUTHORIZATION__TOKEN_POLLING_INTERVAL".to_string(),
            "1s".to_string(),
        )]
        .into(),
        ..Default::default()
    })
    .await
    .expect("domain starts");
    let client = setup_with(
        &domain,
        json!({"grant_types": ["authorization_code", "refresh_token", DEVICE_GRANT],
            "token_endpoint_auth_method": "client_secret_post"}),
    )
    .await;
    let res = reqwest::Client::new()
        .post(format!("{}/oauth2/device/auth", domain.issuer()))
        .form(&[
            ("client_id", client.0.as_str()),
            ("client_secret", client.1.as_str()),
            ("scope", "openid offline_access email"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let auth: Value = res.json().await.unwrap();
    let device_code = auth["device_code"].as_str().unwrap();
    let user_code = auth["user_code"].as_str().unwrap();
    let interval =
        Duration::from_secs(auth["interval"].as_u64().unwrap()) + Duration::from_millis(200);
    let (status, body) = poll(&domain, &client, device_code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("authorization_pending"))
    );

    // The device's link: login-ui's form with the code filled in, to confirm.
    let browser = Browser::new();
    let (page, form) = browser
        .follow_to_page(auth["verification_uri_complete"].as_str().unwrap())
        .await;
    assert!(
        page.starts_with(&format!(
            "{}/device?device_challenge=",
            domain.login_ui.public_url()
        )),
        "{page}"
    );
    let form = form.expect("the user code form");
    assert!(form.text.contains("Connect a device"));
    assert!(form.text.contains(&format!("value=\"{user_code}\"")));
    assert!(form.text.contains("<label for=\"field-user_code\">"));

    // A wrong code: the same form, with an error tied to the field.
    let (_, again) = browser.submit(&form, &[("user_code", "BCDF-GHJK")]).await;
    let again = again.expect("the form again");
    assert!(
        again.text.contains("That code is not valid"),
        "{}",
        again.text
    );
    assert!(again.text.contains("aria-invalid=\"true\""));
    assert!(again.text.contains("field-user_code-messages"));
    assert!(again.text.contains("id=\"field-user_code-messages\""));

    // The right code (typed loosely): on to identity-svc's login form, rendered by login-ui.
    let typed = user_code.replace('-', " ").to_lowercase();
    let (login_page, login) = browser.submit(&again, &[("user_code", &typed)]).await;
    assert!(login_page.contains("/login?flow="), "{login_page}");
    tokio::time::sleep(interval).await;
    let (status, body) = poll(&domain, &client, device_code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("authorization_pending"))
    );

    let (consent_page, consent) = browser
        .submit(
            &login.expect("the login form"),
            &[("identifier", "ada@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert!(
        consent_page.contains("/consent?consent_challenge="),
        "{consent_page}"
    );
    let (done, _) = browser
        .submit(&consent.unwrap(), &[("decision", "grant")])
        .await;
    assert!(
        done.starts_with(&format!("{}/device/done", domain.login_ui.public_url())),
        "{done}"
    );
    assert!(query_param(&done, "error").is_none(), "{done}");
    let done_page = reqwest::get(&done).await.unwrap().text().await.unwrap();
    assert!(
        done_page.contains("You can return to your device"),
        "{done_page}"
    );

    tokio::time::sleep(interval).await;
    let (status, tokens) = poll(&domain, &client, device_code).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["access_token"].is_string());
    assert!(tokens["refresh_token"].is_string());
    let claims = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["aud"], json!([client.0]));
    assert_eq!(claims["email"], "ada@example.com");
    tokio::time::sleep(interval).await;
    let (status, again) = poll(&domain, &client, device_code).await;
    assert_eq!(status, 400, "tokens are issued once: {again}");
}

/// AZ-14 (a): `prompt=none` in a fresh browser is `login_required` at the redirect_uri. With a
/// remembered login and consent, `prompt=none` gives a code without showing any page. AZ-14
/// (c)/(d): `max_age=0` shows the login form again although the browser is signed in, and the
/// new ID token's `auth_time` is that new sign-in.
#[tokio::test]
async fn prompt_none_and_max_age_decide_whether_the_user_sees_a_page() {
    let s = signed_in_with(refreshing()).await;
    // Remember the consent for `email`.
    let (url, verifier, _) = s.authorize_url(&["email"], &[]);
    let (_, consent) = s.browser.follow_to_page(&url).await;
    let (done, _) = s
        .browser
        .submit(
            &consent.unwrap(),
            &[("decision", "grant"), ("remember", "true")],
        )
        .await;
    let first = s.exchange(&done, verifier).await;
    let first_auth_time = jwt_claims(&first.id_token().unwrap().to_string())["auth_time"]
        .as_i64()
        .unwrap();

    let (url, verifier, _) = s.authorize_url(&["email"], &[("prompt", "none")]);
    let (done, page) = s.browser.follow_to_page(&url).await;
    assert!(page.is_none(), "no page with prompt=none");
    assert!(done.starts_with(REDIRECT), "{done}");
    let silent = s.exchange(&done, verifier).await;
    assert!(silent.id_token().is_some());

    let (url, _, _) = s.authorize_url(&["email"], &[("prompt", "none")]);
    let (done, _) = Browser::new().follow_to_page(&url).await;
    assert!(done.starts_with(REDIRECT), "{done}");
    assert_eq!(
        query_param(&done, "error").as_deref(),
        Some("login_required")
    );
    assert!(query_param(&done, "code").is_none());
    assert!(query_param(&done, "state").is_some());

    // max_age=0: the password again, then (consent remembered) straight back with a code.
    let (url, verifier, _) = s.authorize_url(&["email"], &[("max_age", "0")]);
    let (page, form) = s.browser.follow_to_page(&url).await;
    assert!(
        page.contains("/login?flow="),
        "the login form again: {page}"
    );
    let form = form.expect("the login form");
    assert!(form.text.contains("password"));
    let before = unix_now();
    let (done, _) = s
        .browser
        .submit(
            &form,
            &[("identifier", "ada@example.com"), ("password", PASSWORD)],
        )
        .await;
    let fresh = s.exchange(&done, verifier).await;
    let auth_time = jwt_claims(&fresh.id_token().unwrap().to_string())["auth_time"]
        .as_i64()
        .unwrap();
    assert!(
        auth_time >= before,
        "a new auth_time: {auth_time} < {before}"
    );
    assert!(auth_time >= first_auth_time);
}

/// Back-channel logout (OpenID Connect Back-Channel Logout 1.0) after RP-initiated logout:
/// the client's receiver gets a `logout_token` signed by a key of the JWKS (ID-05), for this
/// client, with the session's `sid`, the back-channel event and no nonce.
#[tokio::test]
async fn logout_notifies_the_back_channel_receiver() {
    let (receiver_url, bodies) = receiver().await;
    let s = signed_in_with(json!({"backchannel_logout_uri": receiver_url})).await;
    let tokens = s.tokens(&["email"]).await;
    let id_token = tokens.id_token().unwrap().to_string();
    let sid = jwt_claims(&id_token)["sid"]
        .as_str()
        .expect("the ID token carries sid")
        .to_string();

    let logout = reqwest::Url::parse_with_params(
        &format!("{}/oauth2/sessions/logout", s.domain.issuer()),
        &[
            ("id_token_hint", id_token.as_str()),
            ("post_logout_redirect_uri", "http://127.0.0.1:9/bye"),
            ("state", "s-2"),
        ],
    )
    .unwrap();
    let (page, form) = s.browser.follow_to_page(logout.as_str()).await;
    assert!(page.contains("/logout?logout_challenge="), "{page}");
    let (end, _) = s
        .browser
        .submit(&form.unwrap(), &[("decision", "accept")])
        .await;
    assert!(end.starts_with("http://127.0.0.1:9/bye"), "{end}");

    let body = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            if let Some(body) = bodies.lock().await.first().cloned() {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the receiver was called");
    let logout_token = reqwest::Url::parse(&format!("http://receiver/?{body}"))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned())
        .expect("a logout_token");

    let jwks: Value = reqwest::get(format!("{}/.well-known/jwks.json", s.domain.issuer()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = josekit::jwt::decode_header(&logout_token).unwrap();
    let kid = header.claim("kid").and_then(Value::as_str).expect("a kid");
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .expect("the signing key is published");
    let jwk = josekit::jwk::Jwk::from_map(key.as_object().unwrap().clone()).unwrap();
    let verifier = josekit::jws::RS256.verifier_from_jwk(&jwk).unwrap();
    let (payload, _) = josekit::jwt::decode_with_verifier(&logout_token, &verifier)
        .expect("the logout token verifies against the JWKS");
    assert_eq!(payload.issuer(), Some(s.domain.issuer().as_str()));
    assert_eq!(payload.audience(), Some(vec![s.client_id.as_str()]));
    assert_eq!(payload.claim("sid"), Some(&json!(sid)));
    assert!(payload.claim("nonce").is_none());
    let events = payload.claim("events").expect("events");
    assert!(
        events
            .get("http://schemas.openid.net/event/backchannel-logout")
            .is_some(),
        "{events}"
    );
}
