//! The login and consent challenges (design.md "Challenges"; security.md LC-01, LC-02, LC-03,
//! LC-05): where the admin API answers, single use with 410 and the way back, verifiers that
//! work once and only in the browser that started, and expiry.

use serde_json::{Value, json};

use crate::browser::{REDIRECT, browser, flow_app, follow, query_param};
use crate::helpers::{CONSENT_UI, TestApp};

/// Asserts the table's 410: `redirect_to` is the original authorization URL, never a verifier.
async fn assert_gone(app: &TestApp, res: reqwest::Response) -> String {
    assert_eq!(res.status(), 410);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    let redirect = body["redirect_to"].as_str().unwrap().to_string();
    assert!(
        redirect.starts_with(&format!("{}/oauth2/auth?", app.public)),
        "{body}"
    );
    for verifier in ["login_verifier", "consent_verifier"] {
        assert!(query_param(&redirect, verifier).is_none(), "{body}");
    }
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    redirect
}

/// Whether two URLs are the same request: the same endpoint and the same parameters, in any
/// order (the stored request URL is the normalised one).
fn same_request(a: &str, b: &str) -> bool {
    let parts = |u: &str| {
        let url = reqwest::Url::parse(u).unwrap();
        let mut pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        pairs.sort();
        (url.origin(), url.path().to_string(), pairs)
    };
    parts(a) == parts(b)
}

/// Accepts the login challenge `browser` is sent to for `url`; returns (login challenge,
/// consent challenge, the login verifier URL).
async fn to_consent(app: &TestApp, b: &reqwest::Client, url: &str) -> (String, String, String) {
    let login = query_param(&follow(b, url).await, "login_challenge").unwrap();
    let accepted: Value = app
        .admin_put("login", "accept", &login, json!({"subject": "user-1"}))
        .await
        .json()
        .await
        .unwrap();
    let verifier_url = accepted["redirect_to"].as_str().unwrap().to_string();
    let to_consent = follow(b, &verifier_url).await;
    assert!(to_consent.starts_with(CONSENT_UI), "{to_consent}");
    let consent = query_param(&to_consent, "consent_challenge").unwrap();
    (login, consent, verifier_url)
}

/// LC-01: the admin API is not on the public listener; on the admin listener unknown,
/// malformed and cross-kind challenges are 404 in Hydra's envelope, a missing one 400.
#[tokio::test]
async fn lc_01_the_admin_api_is_not_public_and_forged_challenges_are_not_found() {
    let app = flow_app().await;
    let (client_id, _) = app.confidential_client().await;
    let b = browser();
    let url = app.authorize_url(&client_id, &[]);
    let (login, consent, _) = to_consent(&app, &b, &url).await;
    let open_login = query_param(&follow(&b, &url).await, "login_challenge").unwrap();

    for path in [
        format!("/admin/oauth2/auth/requests/login/accept?login_challenge={open_login}"),
        format!("/oauth2/auth/requests/login/accept?login_challenge={open_login}"),
        format!("/admin/oauth2/auth/requests/consent/accept?consent_challenge={consent}"),
    ] {
        let res = app
            .http
            .put(format!("{}{path}", app.public))
            .json(&json!({"subject": "intruder"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "public {path}");
    }
    for path in [
        "/admin/clients",
        "/clients",
        "/admin/oauth2/auth/requests/login?login_challenge=x",
    ] {
        let res = app
            .http
            .get(format!("{}{path}", app.public))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "public {path}");
    }
    // Nothing above touched the open challenge.
    assert_eq!(app.admin_get("login", &open_login).await.status(), 200);

    let random = "oly_ch_0000000000000000000000000000000000000000000";
    let cases = [
        ("login", random),
        ("login", "%%%"),
        ("consent", random),
        ("logout", random),
        ("consent", open_login.as_str()),
        ("login", consent.as_str()),
    ];
    for (kind, challenge) in cases {
        let res = app.admin_get(kind, challenge).await;
        assert_eq!(res.status(), 404, "{kind} {challenge}");
        assert_eq!(res.json::<Value>().await.unwrap()["error"], "Not Found");
        let body = match kind {
            "login" => json!({"subject": "intruder"}),
            "consent" => json!({"grant_scope": ["openid"]}),
            _ => json!({}),
        };
        let res = app.admin_put(kind, "accept", challenge, body).await;
        assert_eq!(res.status(), 404, "accept {kind} {challenge}");
    }
    let res = app
        .http
        .get(format!("{}/admin/oauth2/auth/requests/login", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // The spent login challenge stays spent whatever was tried.
    assert_gone(&app, app.admin_get("login", &login).await).await;
}

/// LC-02: the first accept gives a verifier; every later GET, accept or reject of the login
/// and of the consent challenge is 410 with the original URL, never a second verifier.
#[tokio::test]
async fn lc_02_challenges_are_single_use_and_gone_after_the_decision() {
    let app = flow_app().await;
    let (client_id, _) = app.confidential_client().await;
    let b = browser();
    let url = app.authorize_url(&client_id, &[]);
    let to_login = follow(&b, &url).await;
    let challenge = query_param(&to_login, "login_challenge").unwrap();
    // The alias and the path without /admin reach the same request.
    let alias = app
        .http
        .get(format!(
            "{}/oauth2/auth/requests/login?challenge={challenge}",
            app.admin
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(alias.status(), 200);
    let first = app
        .admin_put("login", "accept", &challenge, json!({"subject": "user-1"}))
        .await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    assert!(query_param(first["redirect_to"].as_str().unwrap(), "login_verifier").is_some());
    for res in [
        app.admin_get("login", &challenge).await,
        app.admin_put("login", "accept", &challenge, json!({"subject": "user-1"}))
            .await,
        app.admin_put("login", "reject", &challenge, json!({}))
            .await,
    ] {
        let back = assert_gone(&app, res).await;
        assert!(same_request(&back, &url), "the original request: {back}");
    }

    let to_consent = follow(&b, first["redirect_to"].as_str().unwrap()).await;
    let consent = query_param(&to_consent, "consent_challenge").unwrap();
    let body = json!({"grant_scope": ["openid", "email"]});
    let accepted = app
        .admin_put("consent", "accept", &consent, body.clone())
        .await;
    assert_eq!(accepted.status(), 200);
    for res in [
        app.admin_get("consent", &consent).await,
        app.admin_put("consent", "accept", &consent, body).await,
        app.admin_put("consent", "reject", &consent, json!({}))
            .await,
    ] {
        let back = assert_gone(&app, res).await;
        assert!(same_request(&back, &url), "{back}");
    }
}

/// LC-03: each verifier works once (a replay is `access_denied` "…verifier has already been
/// used." at the client, with no code) and only in the browser that started the flow (403, no
/// redirect); the rightful browser can still continue after a stranger tried.
#[tokio::test]
async fn lc_03_verifiers_work_once_and_only_in_their_browser() {
    let app = flow_app().await;
    let (client_id, _) = app.confidential_client().await;
    let victim = browser();
    let url = app.authorize_url(&client_id, &[]);
    let login = query_param(&follow(&victim, &url).await, "login_challenge").unwrap();
    let accepted: Value = app
        .admin_put("login", "accept", &login, json!({"subject": "user-1"}))
        .await
        .json()
        .await
        .unwrap();
    let login_verifier = accepted["redirect_to"].as_str().unwrap();
    let stranger = browser().get(login_verifier).send().await.unwrap();
    assert_eq!(stranger.status(), 403);
    assert!(stranger.headers().get("location").is_none());
    assert!(stranger.text().await.unwrap().contains("another browser"));
    let to_consent = follow(&victim, login_verifier).await;
    assert!(to_consent.starts_with(CONSENT_UI), "{to_consent}");
    let replay = follow(&victim, login_verifier).await;
    assert!(replay.starts_with(REDIRECT), "{replay}");
    assert_eq!(
        query_param(&replay, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        query_param(&replay, "error_description").as_deref(),
        Some("The login verifier has already been used.")
    );
    assert!(query_param(&replay, "code").is_none());

    let consent = query_param(&to_consent, "consent_challenge").unwrap();
    let accepted: Value = app
        .admin_put(
            "consent",
            "accept",
            &consent,
            json!({"grant_scope": ["openid"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let consent_verifier = accepted["redirect_to"].as_str().unwrap();
    assert_eq!(
        browser()
            .get(consent_verifier)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let done = follow(&victim, consent_verifier).await;
    assert!(query_param(&done, "code").is_some(), "{done}");
    let replay = follow(&victim, consent_verifier).await;
    assert!(replay.starts_with(REDIRECT), "{replay}");
    assert_eq!(
        query_param(&replay, "error_description").as_deref(),
        Some("The consent verifier has already been used.")
    );
    assert!(query_param(&replay, "code").is_none());
}

/// LC-05: past `ttl.login_consent_request` (30 min) a login or consent challenge answers 410
/// with the way back to a fresh start, for GET and for accept; nothing is issued.
#[tokio::test]
async fn lc_05_expired_challenges_are_gone_with_a_way_back() {
    let app = flow_app().await;
    let (client_id, _) = app.confidential_client().await;
    let b = browser();
    let url = app.authorize_url(&client_id, &[]);
    let login = query_param(&follow(&b, &url).await, "login_challenge").unwrap();
    let (_, consent, _) = to_consent(&app, &browser(), &url).await;
    app.clock.advance(std::time::Duration::from_secs(31 * 60));
    for res in [
        app.admin_get("login", &login).await,
        app.admin_put("login", "accept", &login, json!({"subject": "u"}))
            .await,
        app.admin_get("consent", &consent).await,
        app.admin_put(
            "consent",
            "accept",
            &consent,
            json!({"grant_scope": ["openid"]}),
        )
        .await,
    ] {
        let back = assert_gone(&app, res).await;
        assert!(same_request(&back, &url), "{back}");
    }
    // The way back works: a fresh challenge that can be answered.
    let again = query_param(&follow(&b, &url).await, "login_challenge").unwrap();
    assert_ne!(again, login);
    assert_eq!(app.admin_get("login", &again).await.status(), 200);
}
