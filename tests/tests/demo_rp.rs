//! The demo relying party (`deploy/demo-rp`) as a process against a running domain: its home
//! page, the authorization request it builds, and its friendly error pages. (The browser
//! sign-in through login-ui is covered by the end-to-end suite.)

use std::collections::HashMap;

use olympus_tests::harness::{Domain, Service, ServiceProcess, demo_rp_config, reserve_port};
use serde_json::{Value, json};

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A domain, a confidential client registered for the RP's callback, and the RP itself.
async fn start() -> (Domain, ServiceProcess, String) {
    let domain = Domain::start().await.expect("domain starts");
    let port = reserve_port().unwrap();
    let client: Value = http()
        .post(format!("{}/admin/clients", domain.oauth2.admin_url()))
        .json(&json!({
            "client_name": "Demo RP under test",
            "redirect_uris": [format!("http://127.0.0.1:{port}/callback")],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "scope": "openid offline_access email profile",
            "token_endpoint_auth_method": "client_secret_basic",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = client["client_id"].as_str().expect("client_id").to_string();
    let secret = client["client_secret"].as_str().expect("client_secret");
    let mut config = demo_rp_config(&domain.issuer(), &client_id, Some(secret));
    config.public_port = Some(port);
    let rp = ServiceProcess::start(Service::DemoRp, &config, &domain.configs.log_dir)
        .await
        .expect("demo RP starts");
    (domain, rp, client_id)
}

#[tokio::test]
async fn the_home_page_offers_sign_in_without_scripts() {
    let (_domain, rp, _) = start().await;
    let res = http()
        .get(format!("{}/", rp.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = res.text().await.unwrap();
    assert!(
        html.contains(r#"<a class="button" href="/login">Sign in with Olympus</a>"#),
        "{html}"
    );
    assert!(!html.contains("<script"), "{html}");
}

#[tokio::test]
async fn login_redirects_to_the_authorization_endpoint_with_pkce_state_and_nonce() {
    let (domain, rp, client_id) = start().await;
    let res = http()
        .get(format!("{}/login", rp.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{}", rp.log_text());
    let location = res.headers()["location"].to_str().unwrap();
    let url = reqwest::Url::parse(location).unwrap();
    assert_eq!(
        url.as_str().split('?').next().unwrap(),
        format!("{}/oauth2/auth", domain.issuer())
    );
    let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], client_id);
    assert_eq!(
        query["redirect_uri"],
        format!("{}/callback", rp.public_url())
    );
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["code_challenge"].len(), 43, "base64url SHA-256");
    assert!(query["state"].len() >= 16 && query["nonce"].len() >= 16);
    let scopes: Vec<&str> = query["scope"].split(' ').collect();
    for scope in ["openid", "offline_access", "email", "profile"] {
        assert!(scopes.contains(&scope), "{scopes:?}");
    }
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("olympus_demo_rp_flow="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "an http RP cannot keep a Secure cookie: {cookie}"
    );

    // A second sign-in gets fresh values.
    let again = http()
        .get(format!("{}/login", rp.public_url()))
        .send()
        .await
        .unwrap();
    let again = reqwest::Url::parse(again.headers()["location"].to_str().unwrap()).unwrap();
    let again: HashMap<String, String> = again.query_pairs().into_owned().collect();
    assert_ne!(again["state"], query["state"]);
    assert_ne!(again["code_challenge"], query["code_challenge"]);
}

#[tokio::test]
async fn callback_errors_render_a_friendly_page_and_never_sign_in() {
    let (_domain, rp, _) = start().await;
    let denied = http()
        .get(format!(
            "{}/callback?error=access_denied&error_description=%3Cb%3Enope%3C%2Fb%3E&state=x",
            rp.public_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 400);
    let html = denied.text().await.unwrap();
    assert!(
        html.contains("access_denied") && html.contains("&lt;b&gt;nope"),
        "{html}"
    );
    assert!(html.contains(r#"href="/">Try again</a>"#), "{html}");

    // A state that does not match this browser's sign-in is refused before any code exchange.
    let login = http()
        .get(format!("{}/login", rp.public_url()))
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let forged = http()
        .get(format!(
            "{}/callback?code=abc&state=forged",
            rp.public_url()
        ))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    let removal = forged.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        removal.contains("Max-Age=0"),
        "the flow cookie is single-use: {removal}"
    );
    let html = forged.text().await.unwrap();
    assert!(
        html.contains("Bad state") && html.contains("Try again"),
        "{html}"
    );

    // Without the flow cookie there is no sign-in to complete.
    let stray = http()
        .get(format!("{}/callback?code=abc&state=x", rp.public_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(stray.status(), 400);
    assert!(
        stray
            .text()
            .await
            .unwrap()
            .contains("No sign-in in progress")
    );
}
