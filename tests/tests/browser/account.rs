//! identity-svc's self-service flows on login-ui's pages in Chromium: registration and email
//! verification, TOTP enrolment and a second-factor sign-in, and recovery by code.

use serde_json::Value;

use super::common::{PASSWORD, World, courier_code, courier_messages, create_user, query, tools};

const NEW_PASSWORD: &str = "a brand new staple for the battery";

/// identity-svc's record of the user with `email`.
async fn identity(w: &World, email: &str) -> Value {
    let url = format!(
        "{}/admin/identities?credentials_identifier={email}",
        w.domain.identity.admin_url()
    );
    let found: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    found[0].clone()
}

/// Opens login-ui's `/<flow>` page (which starts identity-svc's browser flow) and checks it.
async fn open_flow(w: &mut World, flow: &str) {
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
    w.visitor.page(flow).await.unwrap();
}

/// Types `fields` and presses the button `method`/`method`.
async fn submit(w: &World, fields: &[(&str, &str)], method: &str) {
    for (name, value) in fields {
        w.visitor.fill(name, value).await.unwrap();
    }
    w.visitor.press("method", method).await.unwrap();
}

/// Waits until the page has the field `name`.
async fn wait_for_field(w: &World, name: &str) {
    for _ in 0..400 {
        let css = format!("[name=\"{name}\"]");
        if w.visitor.browser.find(&css).await.unwrap().is_some() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let url = w.visitor.browser.current_url().await.unwrap();
    panic!("no field {name} on {url}");
}

/// Register on the registration page, verify the email with the courier's code on the
/// verification page, then sign in to the demo relying party (no password: the registration
/// signed the browser in) and see the verified email among the ID token's claims.
#[tokio::test]
async fn browser_register_verify_and_sign_in_to_the_demo_rp() {
    let Some(tools) = tools("browser_register_verify_and_sign_in_to_the_demo_rp") else {
        return;
    };
    let mut w = World::start(&tools, "register-verify").await;
    let email = "grace@example.com";
    open_flow(&mut w, "registration").await;
    if w.visitor
        .browser
        .find("[name=\"traits.name.first\"]")
        .await
        .unwrap()
        .is_some()
    {
        w.visitor.fill("traits.name.first", "Grace").await.unwrap();
        w.visitor.fill("traits.name.last", "Hopper").await.unwrap();
    }
    submit(
        &w,
        &[("traits.email", email), ("password", PASSWORD)],
        "password",
    )
    .await;
    let ui = w.domain.login_ui.public_url();
    w.visitor
        .browser
        .wait_for_url(|url| !url.contains("/registration"))
        .await
        .unwrap();
    w.visitor.page("after-registration").await.unwrap();
    let registered = identity(&w, email).await;
    assert_eq!(registered["traits"]["email"], email);
    assert_eq!(registered["verifiable_addresses"][0]["verified"], false);

    let seen = courier_messages(&w.domain, email, "verification_code_valid")
        .await
        .len();
    open_flow(&mut w, "verification").await;
    submit(&w, &[("email", email)], "code").await;
    wait_for_field(&w, "code").await;
    w.visitor.page("verification-code").await.unwrap();
    let code = courier_code(&w.domain, email, "verification_code_valid", seen).await;
    submit(&w, &[("code", &code)], "code").await;
    w.visitor
        .browser
        .wait_for_url(|url| url.starts_with(&ui))
        .await
        .unwrap();
    w.visitor.page("verified").await.unwrap();
    let verified = identity(&w, email).await;
    assert_eq!(
        verified["verifiable_addresses"][0]["verified"], true,
        "{verified}"
    );

    let demo = w.demo_rp().await;
    let demo_url = demo.public_url();
    w.visitor
        .browser
        .goto(&format!("{demo_url}/login"))
        .await
        .unwrap();
    w.consent("grant", false).await;
    w.visitor
        .wait_for(&format!("{demo_url}/callback"))
        .await
        .unwrap();
    w.visitor.page("demo-rp-signed-in").await.unwrap();
    let text = w.visitor.body_text().await.unwrap();
    assert!(
        text.contains(verified["id"].as_str().unwrap()),
        "sub: {text}"
    );
    assert!(text.contains(email), "email: {text}");
}

/// Enrol TOTP on the settings page (secret read from the page, codes computed here), confirm
/// it with the second factor when identity-svc steps the session up, then sign in to the
/// relying party again: password, then the TOTP step, and the session is AAL2.
#[tokio::test]
async fn browser_enrol_totp_and_sign_in_with_it() {
    let Some(tools) = tools("browser_enrol_totp_and_sign_in_with_it") else {
        return;
    };
    let mut w = World::start(&tools, "totp").await;
    let user = create_user(&w.domain, "ada@example.com").await;
    let ui = w.domain.login_ui.public_url();
    w.visitor
        .browser
        .goto(&format!("{ui}/login"))
        .await
        .unwrap();
    w.sign_in("ada@example.com", PASSWORD).await;
    w.visitor
        .browser
        .wait_for_url(|url| !url.contains("/login"))
        .await
        .unwrap();
    open_flow(&mut w, "settings").await;
    let secret = w
        .visitor
        .browser
        .text("[id$=\"totp_secret_key\"] code")
        .await
        .unwrap();
    let mut app = TotpApp::new(secret.trim());
    submit(&w, &[("totp_code", &app.next_code())], "totp").await;
    let login = format!("{ui}/login");
    let mut stepped_up = false;
    for _ in 0..400 {
        stepped_up = w
            .visitor
            .browser
            .current_url()
            .await
            .unwrap()
            .starts_with(&login);
        let unlink = w
            .visitor
            .browser
            .find("[name=\"totp_unlink\"]")
            .await
            .unwrap();
        if stepped_up || unlink.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    if stepped_up {
        // The new factor raises the bar: identity-svc asks for it before settings go on.
        wait_for_field(&w, "totp_code").await;
        w.visitor.page("login-step-up").await.unwrap();
        submit(&w, &[("totp_code", &app.next_code())], "totp").await;
    }
    wait_for_field(&w, "totp_unlink").await;
    w.visitor.page("settings-totp-enrolled").await.unwrap();

    // Signed out, then in again through the relying party: password, then the TOTP step.
    w.visitor.browser.clear_cookies().await.unwrap();
    w.authorize("totp-state-0123").await;
    w.sign_in("ada@example.com", PASSWORD).await;
    wait_for_field(&w, "totp_code").await;
    w.visitor.page("login-second-factor").await.unwrap();
    submit(&w, &[("totp_code", &app.next_code())], "totp").await;
    w.consent("grant", false).await;
    let url = w
        .visitor
        .wait_for(&format!("{}/callback", w.rp))
        .await
        .unwrap();
    assert!(query(&url, "code").is_some(), "{url}");
    let url = format!(
        "{}/admin/identities/{}/sessions",
        w.domain.identity.admin_url(),
        user["id"].as_str().unwrap()
    );
    let sessions: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    let levels: Vec<&Value> = sessions
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["authenticator_assurance_level"])
        .collect();
    assert!(levels.iter().any(|l| *l == "aal2"), "{sessions}");
}

/// An authenticator app (RFC 6238: SHA-1, 6 digits, 30 s steps). identity-svc accepts the
/// current step or one either side and each step once, so each code is for the step after the
/// last one used, but never before the previous one.
struct TotpApp {
    totp: totp_rs::Totp,
    last: Option<u64>,
}

impl TotpApp {
    fn new(secret: &str) -> TotpApp {
        let url = format!("otpauth://totp/Olympus:ada?secret={secret}&issuer=Olympus");
        let totp = totp_rs::Totp::from_url(&url).expect("a base32 TOTP secret");
        TotpApp { totp, last: None }
    }

    fn next_code(&mut self) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 30;
        let step = self.last.map_or(now - 1, |last| (last + 1).max(now - 1));
        assert!(
            step <= now + 1,
            "more codes than steps in the accepted window"
        );
        self.last = Some(step);
        self.totp.generate(step * 30).to_string()
    }
}

/// Forgot the password: recovery by the courier's code leads to the settings page, a new
/// password is set there, and signing in to the relying party works with it.
#[tokio::test]
async fn browser_recover_a_forgotten_password_by_code() {
    let Some(tools) = tools("browser_recover_a_forgotten_password_by_code") else {
        return;
    };
    let mut w = World::start(&tools, "recovery").await;
    create_user(&w.domain, "ada@example.com").await;
    open_flow(&mut w, "recovery").await;
    submit(&w, &[("email", "ada@example.com")], "code").await;
    wait_for_field(&w, "code").await;
    w.visitor.page("recovery-code").await.unwrap();
    let code = courier_code(&w.domain, "ada@example.com", "recovery_code_valid", 0).await;
    submit(&w, &[("code", &code)], "code").await;
    let ui = w.domain.login_ui.public_url();
    w.visitor
        .wait_for(&format!("{ui}/settings?flow="))
        .await
        .unwrap();
    w.visitor.page("settings-after-recovery").await.unwrap();
    submit(&w, &[("password", NEW_PASSWORD)], "password").await;
    w.visitor.page("settings-password-changed").await.unwrap();

    w.visitor.browser.clear_cookies().await.unwrap();
    w.authorize("recovered-0123").await;
    w.sign_in("ada@example.com", NEW_PASSWORD).await;
    w.consent("grant", false).await;
    let url = w
        .visitor
        .wait_for(&format!("{}/callback", w.rp))
        .await
        .unwrap();
    assert!(query(&url, "code").is_some(), "{url}");
}
