//! Login and consent through the three real binaries (security.md LC-01, LC-06, LC-07, LC-10,
//! LC-11, ID-13): forged challenges, whose subject login-ui accepts, the consent form's CSRF
//! protection, denial, client display data, and which claims a consent releases.

mod support;

use openidconnect::{AuthorizationCode, OAuth2TokenResponse};
use serde_json::{Value, json};
use support::{Browser, Form, REDIRECT, Signed, query_param, setup, signed_in, signed_in_with};

fn field(form: &Form, name: &str) -> String {
    let found = form.fields.iter().find(|(n, _)| n == name);
    found.unwrap_or_else(|| panic!("no {name}")).1.clone()
}

/// identity-svc's record of the user with `email`.
async fn identity(s: &Signed, email: &str) -> Value {
    let url = format!(
        "{}/admin/identities?credentials_identifier={email}",
        s.domain.identity.admin_url()
    );
    let found: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    found[0].clone()
}

/// The consent request behind `challenge`, from oauth2-svc's admin API.
async fn consent_request(s: &Signed, challenge: &str) -> reqwest::Response {
    let admin = s.domain.oauth2.admin_url();
    let url = format!("{admin}/admin/oauth2/auth/requests/consent?consent_challenge={challenge}");
    reqwest::get(url).await.unwrap()
}

/// LC-01: a random login challenge, and a real login challenge shown to the consent page,
/// get login-ui's error page with no form; the admin API is not on oauth2-svc's public side.
#[tokio::test]
async fn lc_01_forged_challenges_get_an_error_page_without_a_form() {
    let domain = support::dev_domain().await;
    let (client_id, _) = setup(&domain).await;
    let authorize = format!(
        "{}/oauth2/auth?response_type=code&client_id={client_id}&redirect_uri={REDIRECT}&scope=openid&state=s-123456&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        domain.issuer()
    );
    let browser = Browser::new();
    let res = browser.http().get(&authorize).send().await.unwrap();
    let to_login = res.headers()["location"].to_str().unwrap().to_string();
    let login_challenge = query_param(&to_login, "login_challenge").expect("a login challenge");
    let ui = domain.login_ui.public_url();
    for url in [
        format!("{ui}/login?login_challenge=oly_ch_random"),
        format!("{ui}/consent?consent_challenge={login_challenge}"),
    ] {
        let res = browser.http().get(&url).send().await.unwrap();
        assert_eq!(res.status(), 404, "{url}");
        let html = res.text().await.unwrap();
        for absent in ["<form", "password", "csrf_token"] {
            assert!(!html.contains(absent), "{url}: {absent}");
        }
    }
    let public = domain.issuer();
    let http = reqwest::Client::new();
    let accept = format!(
        "{public}/admin/oauth2/auth/requests/login/accept?login_challenge={login_challenge}"
    );
    let res = http
        .put(&accept)
        .json(&json!({"subject": "intruder"}))
        .send();
    assert_eq!(res.await.unwrap().status(), 404);
    let res = http
        .get(format!("{public}/admin/clients"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    // The challenge is untouched and still leads to the sign-in form.
    let (page, form) = browser.follow_to_page(&to_login).await;
    assert!(page.contains("/login?flow="), "{page}");
    assert!(form.unwrap().text.contains("password"));
}

/// LC-06: login-ui accepts only the subject oauth2-svc remembered (`skip`) or the one whoami
/// gives for the browser's own session; a subject or identity_id injected into the
/// authorization or login-ui's URL, or POSTed to /login, is ignored, even a real user's.
#[tokio::test]
async fn lc_06_login_ui_takes_the_subject_only_from_whoami() {
    let s = signed_in().await;
    let ada = identity(&s, "ada@example.com").await;
    let http = reqwest::Client::new();
    let res = http
        .post(format!(
            "{}/admin/identities",
            s.domain.identity.admin_url()
        ))
        .json(
            &json!({"schema_id": "default", "traits": {"email": "bob@example.com",
            "name": {"first": "Bob", "last": "Builder"}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let bob = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let inject = [("subject", bob.as_str()), ("identity_id", bob.as_str())];
    // First with oauth2-svc's remembered login (skip), then with only identity-svc's session.
    let forget = format!(
        "{}/admin/oauth2/auth/sessions/login?subject={}",
        s.domain.oauth2.admin_url(),
        ada["id"].as_str().unwrap()
    );
    for remembered in [true, false] {
        if !remembered {
            assert_eq!(http.delete(&forget).send().await.unwrap().status(), 204);
        }
        let (url, _, _) = s.authorize_url(&[], &inject);
        let res = s.browser.http().get(&url).send().await.unwrap();
        let to_login = res.headers()["location"].to_str().unwrap().to_string();
        let challenge = query_param(&to_login, "login_challenge").unwrap();
        let admin = s.domain.oauth2.admin_url();
        let login: Value = reqwest::get(format!(
            "{admin}/admin/oauth2/auth/requests/login?login_challenge={challenge}"
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(login["skip"], remembered);
        let with_subject = format!("{to_login}&subject={bob}&identity_id={bob}");
        let (page, _) = s.browser.follow_to_page(&with_subject).await;
        let consent = query_param(&page, "consent_challenge").expect("consent reached");
        let request: Value = consent_request(&s, &consent).await.json().await.unwrap();
        assert_eq!(request["subject"], ada["id"], "remembered: {remembered}");
    }
    let res = http
        .post(format!("{}/login", s.domain.login_ui.public_url()))
        .form(&[("login_challenge", "x"), ("subject", bob.as_str())])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error());
}

/// LC-07: the consent form works only with login-ui's token for this browser: no token,
/// a forged one, the attacker's own (for the victim's challenge) in the victim's browser, the
/// victim's in the attacker's browser, cross-site posts, and a GET carrying the approval all
/// fail; nothing reaches the admin API, and the real form still works.
#[tokio::test]
async fn lc_07_consent_needs_login_uis_csrf_token_from_this_browser() {
    let s = signed_in().await;
    let (consent, _) = s.to_consent().await;
    let challenge = field(&consent, "consent_challenge");
    let victims = field(&consent, "csrf_token");
    let consent_url = format!("{}/consent", s.domain.login_ui.public_url());
    let attacker = Browser::new();
    let (_, page) = attacker
        .follow_to_page(&format!("{consent_url}?consent_challenge={challenge}"))
        .await;
    let attackers = field(&page.expect("the consent page"), "csrf_token");
    assert_ne!(attackers, victims);
    let anonymous = reqwest::Client::new();
    let post = |token: Option<&str>| {
        let mut fields = vec![
            ("consent_challenge", challenge.clone()),
            ("decision", "grant".into()),
        ];
        if let Some(token) = token {
            fields.push(("csrf_token", token.to_string()));
        }
        fields
    };
    let attempts = [
        (&anonymous, post(None)),
        (&anonymous, post(Some("forged"))),
        (s.browser.http(), post(None)),
        (s.browser.http(), post(Some(&attackers))),
        (attacker.http(), post(Some(&victims))),
    ];
    for (client, fields) in attempts {
        let res = client
            .post(&consent_url)
            .header("origin", "https://evil.test")
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert!(
            matches!(res.status().as_u16(), 400 | 403),
            "{fields:?}: {}",
            res.status()
        );
        assert!(res.headers().get("location").is_none());
    }
    let res = s
        .browser
        .http()
        .get(format!(
            "{consent_url}?consent_challenge={challenge}&decision=grant&approve=true"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "a GET only shows the page again");
    assert_eq!(
        consent_request(&s, &challenge).await.status(),
        200,
        "still open"
    );
    let (done, _) = s.browser.submit(&consent, &[("decision", "grant")]).await;
    assert!(query_param(&done, "code").is_some(), "{done}");
}

/// LC-10: the user clicks Deny: the client gets `access_denied` with its state and `iss`, a
/// plain-text description, and no code.
#[tokio::test]
async fn lc_10_denying_consent_gives_access_denied() {
    let s = signed_in().await;
    let (url, _, _) = s.authorize_url(&["email"], &[]);
    let (_, consent) = s.browser.follow_to_page(&url).await;
    let (done, _) = s
        .browser
        .submit(&consent.unwrap(), &[("decision", "deny")])
        .await;
    assert!(done.starts_with(REDIRECT), "{done}");
    let param = |name| query_param(&done, name);
    assert_eq!(param("error").as_deref(), Some("access_denied"));
    assert_eq!(param("state"), query_param(&url, "state"));
    assert_eq!(param("iss"), Some(s.domain.issuer()));
    assert_eq!(
        param("error_description").as_deref(),
        Some("The user denied the request.")
    );
    assert!(param("code").is_none());
}

/// LC-11: registration refuses `javascript:` and `data:` display URIs; the consent page
/// escapes a client name with markup, links only https URIs, and names the client_id and the
/// host the browser returns to.
#[tokio::test]
async fn lc_11_client_display_data_is_refused_or_escaped() {
    let hostile = "<img src=x onerror=alert(1)>";
    let s = signed_in_with(json!({"client_name": hostile,
        "policy_uri": "https://rp.test/policy", "tos_uri": "http://rp.test/tos"}))
    .await;
    let http = reqwest::Client::new();
    for (name, value) in [
        ("logo_uri", "javascript:alert(1)"),
        ("tos_uri", "data:text/html,x"),
        ("policy_uri", "javascript:alert(1)"),
        ("client_uri", "data:text/html,<script>alert(1)</script>"),
    ] {
        let mut body = json!({"redirect_uris": [REDIRECT]});
        body[name] = json!(value);
        let res = http
            .post(format!("{}/admin/clients", s.domain.oauth2.admin_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{name}");
        let error: Value = res.json().await.unwrap();
        assert_eq!(error["error"], "invalid_client_metadata", "{name}");
    }
    let (consent, _) = s.to_consent().await;
    let html = &consent.text;
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{html}"
    );
    assert!(!html.contains("<img") && !html.contains(hostile), "{html}");
    assert!(
        html.contains(r#"href="https:&#x2F;&#x2F;rp.test&#x2F;policy""#),
        "{html}"
    );
    assert!(
        !html.contains("http:&#x2F;&#x2F;rp.test&#x2F;tos"),
        "{html}"
    );
    assert!(html.contains(&format!("<code>{}</code>", s.client_id)));
    assert!(
        html.contains("<code>127.0.0.1</code>"),
        "the redirect host: {html}"
    );
}

/// ID-13: userinfo answers `sub` and the consented claims only: `openid` alone gives just
/// `sub`; `email` adds `email` and `email_verified` as identity-svc has them, and nothing of
/// the profile.
#[tokio::test]
async fn id_13_userinfo_releases_only_the_consented_claims() {
    let s = signed_in().await;
    let ada = identity(&s, "ada@example.com").await;
    let verified = ada["verifiable_addresses"][0]["verified"].clone();
    assert!(verified.is_boolean(), "{ada}");
    let cases = [
        (vec![], json!({"sub": ada["id"]})),
        (
            vec!["email"],
            json!({"sub": ada["id"], "email": "ada@example.com", "email_verified": verified}),
        ),
    ];
    for (scopes, expected) in cases {
        let (url, verifier, _) = s.authorize_url(&scopes, &[]);
        let (_, consent) = s.browser.follow_to_page(&url).await;
        let (done, _) = s
            .browser
            .submit(&consent.unwrap(), &[("decision", "grant")])
            .await;
        let code = query_param(&done, "code").unwrap_or_else(|| panic!("{done}"));
        let tokens =
            s.rp.exchange_code(AuthorizationCode::new(code))
                .unwrap()
                .set_pkce_verifier(verifier)
                .request_async(&s.http)
                .await
                .unwrap();
        let userinfo: Value = reqwest::Client::new()
            .get(format!("{}/userinfo", s.domain.issuer()))
            .bearer_auth(tokens.access_token().secret())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(userinfo, expected, "{scopes:?}");
    }
}
