//! The gallery: every default login-ui page the other scenarios do not reach, in Chromium, each
//! checked by axe-core and saved as `<target>/browser-screenshots/gallery/<NN>-<page>.png`
//! (copied to `docs/images/ui-<page>.png`, see docs/theming.md): home signed out and in, the
//! self-service flows, an OAuth2 error and a stored identity-svc error, consent, the device
//! flow, RP-initiated logout, and the login page in German.

use serde_json::{Value, json};

use super::common::{PASSWORD, World, create_user, tools};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Opens login-ui's `/<flow>` (identity-svc's browser flow starts and comes back with
/// `?flow=`) and records it as `name`.
async fn flow_page(w: &mut World, flow: &str, name: &str) {
    let ui = w.domain.login_ui.public_url();
    w.visitor
        .browser
        .goto(&format!("{ui}/{flow}"))
        .await
        .unwrap();
    w.visitor
        .wait_for(&format!("{ui}/{flow}?flow="))
        .await
        .unwrap();
    w.visitor.page(name).await.unwrap();
}

/// A confidential client allowed the device grant, authenticating in the form body.
async fn device_client(w: &World) -> Value {
    let res = reqwest::Client::new()
        .post(format!("{}/admin/clients", w.domain.oauth2.admin_url()))
        .json(&json!({
            "client_name": "Browser test TV",
            "redirect_uris": [format!("{}/callback", w.rp)],
            "grant_types": ["authorization_code", "refresh_token", DEVICE_GRANT],
            "response_types": ["code"],
            "scope": "openid offline_access email profile",
            "token_endpoint_auth_method": "client_secret_post",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

/// Starts a device authorization (RFC 8628) as the device does.
async fn device_authorization(w: &World, client: &Value) -> Value {
    let res = reqwest::Client::new()
        .post(format!("{}/oauth2/device/auth", w.domain.issuer()))
        .form(&[
            ("client_id", client["client_id"].as_str().unwrap()),
            ("client_secret", client["client_secret"].as_str().unwrap()),
            ("scope", "openid email"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// One Chrome DevTools command through chromedriver's `goog/cdp/execute`.
async fn cdp(w: &World, cmd: &str, params: Value) {
    w.visitor
        .browser
        .command(
            reqwest::Method::POST,
            "goog/cdp/execute",
            json!({"cmd": cmd, "params": params}),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn browser_gallery_of_every_default_page() {
    let Some(tools) = tools("browser_gallery_of_every_default_page") else {
        return;
    };
    let mut w = World::start(&tools, "gallery").await;
    create_user(&w.domain, "ada@example.com").await;
    let ui = w.domain.login_ui.public_url();

    // Signed out.
    w.visitor.browser.goto(&format!("{ui}/")).await.unwrap();
    w.visitor.page("home-signed-out").await.unwrap();
    flow_page(&mut w, "login", "login").await;

    // A form post with a wrong CSRF token: identity-svc stores the error and sends the
    // browser to login-ui's error page with its id.
    w.visitor
        .browser
        .execute(
            "document.querySelectorAll('input[name=\"csrf_token\"]')\
             .forEach(i => { i.value = 'not-the-csrf-token'; });",
            json!([]),
        )
        .await
        .unwrap();
    w.visitor
        .fill("identifier", "ada@example.com")
        .await
        .unwrap();
    w.visitor.fill("password", PASSWORD).await.unwrap();
    w.visitor.press("method", "password").await.unwrap();
    w.visitor
        .wait_for(&format!("{ui}/error?id="))
        .await
        .unwrap();
    w.visitor.page("error-identity").await.unwrap();

    flow_page(&mut w, "registration", "registration").await;
    flow_page(&mut w, "recovery", "recovery").await;
    flow_page(&mut w, "verification", "verification").await;
    let mut error = reqwest::Url::parse(&format!("{ui}/error")).unwrap();
    error
        .query_pairs_mut()
        .append_pair("error", "invalid_request")
        .append_pair(
            "error_description",
            "The request is missing a required parameter: redirect_uri.",
        );
    w.visitor.browser.goto(error.as_str()).await.unwrap();
    w.visitor.page("error").await.unwrap();

    // Signed in.
    w.visitor
        .browser
        .goto(&format!("{ui}/login"))
        .await
        .unwrap();
    w.visitor
        .wait_for(&format!("{ui}/login?flow="))
        .await
        .unwrap();
    w.visitor
        .fill("identifier", "ada@example.com")
        .await
        .unwrap();
    w.visitor.fill("password", PASSWORD).await.unwrap();
    w.visitor.press("method", "password").await.unwrap();
    w.visitor
        .browser
        .wait_for_url(|url| !url.contains("/login"))
        .await
        .unwrap();
    w.visitor.browser.goto(&format!("{ui}/")).await.unwrap();
    let text = w.visitor.body_text().await.unwrap();
    assert!(text.contains("ada@example.com"), "signed in: {text}");
    w.visitor.page("home-signed-in").await.unwrap();
    flow_page(&mut w, "settings", "settings").await;

    // Consent for the test app; its ID token serves the logout below.
    w.authorize("gallery-state-0123").await;
    w.visitor.wait_for(&format!("{ui}/consent")).await.unwrap();
    w.visitor.page("consent").await.unwrap();
    w.visitor.press("decision", "grant").await.unwrap();
    let url = w
        .visitor
        .wait_for(&format!("{}/callback", w.rp))
        .await
        .unwrap();
    let tokens = w.exchange(&url).await;
    let id_token = tokens["id_token"]
        .as_str()
        .expect("an ID token")
        .to_string();

    // The device flow: the code typed on login-ui's form, consent, then the done page.
    let client = device_client(&w).await;
    let auth = device_authorization(&w, &client).await;
    let verify = auth["verification_uri"].as_str().unwrap();
    w.visitor.browser.goto(verify).await.unwrap();
    w.visitor
        .wait_for(&format!("{ui}/device?device_challenge="))
        .await
        .unwrap();
    w.visitor
        .fill("user_code", auth["user_code"].as_str().unwrap())
        .await
        .unwrap();
    w.visitor.page("device").await.unwrap();
    w.visitor
        .browser
        .click("form button[type=\"submit\"]")
        .await
        .unwrap();
    w.visitor.wait_for(&format!("{ui}/consent")).await.unwrap();
    w.visitor.press("decision", "grant").await.unwrap();
    w.visitor
        .wait_for(&format!("{ui}/device/done"))
        .await
        .unwrap();
    w.visitor.page("device_done").await.unwrap();

    // RP-initiated logout.
    let mut logout =
        reqwest::Url::parse(&format!("{}/oauth2/sessions/logout", w.domain.issuer())).unwrap();
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", &id_token)
        .append_pair("post_logout_redirect_uri", &format!("{}/bye", w.rp))
        .append_pair("state", "gallery-bye-0123");
    w.visitor.browser.goto(logout.as_str()).await.unwrap();
    w.visitor.wait_for(&format!("{ui}/logout")).await.unwrap();
    w.visitor.page("logout").await.unwrap();
    w.visitor.press("decision", "accept").await.unwrap();
    w.visitor.wait_for(&format!("{}/bye", w.rp)).await.unwrap();

    // The login page for a browser that asks for German.
    cdp(&w, "Network.enable", json!({})).await;
    cdp(
        &w,
        "Network.setExtraHTTPHeaders",
        json!({"headers": {"Accept-Language": "de-DE,de;q=0.9"}}),
    )
    .await;
    flow_page(&mut w, "login", "login-de").await;
    let lang = w
        .visitor
        .browser
        .execute("return document.documentElement.lang", json!([]))
        .await
        .unwrap();
    assert!(
        lang.as_str().is_some_and(|l| l.starts_with("de")),
        "lang={lang}"
    );
}
