//! The authorization endpoint and the login/consent challenges (security.md AZ-01…AZ-03,
//! AZ-11, LC-01…LC-03), with the UI played over the admin API.

use serde_json::{Value, json};

use crate::browser::{REDIRECT, browser, flow_app, follow, location, query_param};
use crate::helpers::{CONSENT_UI, ERROR_UI, LOGIN_UI};

#[tokio::test]
async fn authorize_accepting_login_and_consent_yields_a_code() {
    let app = flow_app().await;
    let (client_id, _) = app.confidential_client().await;
    let browser = browser();
    let res = browser
        .get(app.authorize_url(&client_id, &[]))
        .send()
        .await
        .unwrap();
    let to_login = location(&res);
    assert!(
        to_login.starts_with(&format!("{LOGIN_UI}?login_challenge=oly_ch_")),
        "{to_login}"
    );
    let bind = res.headers()["set-cookie"].to_str().unwrap();
    assert!(
        bind.starts_with("olympus_oauth2_csrf=")
            && bind.contains("HttpOnly")
            && bind.contains("SameSite=Lax")
    );

    let challenge = query_param(&to_login, "login_challenge").unwrap();
    let request: Value = app
        .admin_get("login", &challenge)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(request["challenge"], challenge.as_str());
    assert_eq!(request["skip"], false);
    assert_eq!(request["subject"], "");
    assert_eq!(request["requested_scope"], json!(["openid", "email"]));
    assert_eq!(request["client"]["client_id"], client_id.as_str());
    assert!(request["client"].get("client_secret").is_none());
    assert!(
        request["request_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/oauth2/auth?", app.public))
    );

    let accepted: Value = app
        .admin_put(
            "login",
            "accept",
            &challenge,
            json!({"subject": "user-1", "acr": "1", "amr": ["pwd"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let verifier_url = accepted["redirect_to"].as_str().unwrap();
    assert!(
        query_param(verifier_url, "login_verifier")
            .unwrap()
            .starts_with("oly_vf_")
    );
    let to_consent = follow(&browser, verifier_url).await;
    assert!(
        to_consent.starts_with(&format!("{CONSENT_UI}?consent_challenge=")),
        "{to_consent}"
    );
    let consent_challenge = query_param(&to_consent, "consent_challenge").unwrap();
    let consent: Value = app
        .admin_get("consent", &consent_challenge)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(consent["subject"], "user-1");
    assert_eq!(consent["acr"], "1");
    assert_eq!(consent["amr"], json!(["pwd"]));
    assert_eq!(consent["skip"], false);
    assert!(!consent["login_session_id"].as_str().unwrap().is_empty());

    let accepted: Value = app
        .admin_put(
            "consent",
            "accept",
            &consent_challenge,
            json!({"grant_scope": ["openid", "email"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let done = follow(&browser, accepted["redirect_to"].as_str().unwrap()).await;
    assert!(
        done.starts_with(&format!("{REDIRECT}?code=oly_ac_")),
        "{done}"
    );
    assert_eq!(query_param(&done, "state").as_deref(), Some("state-123"));
    assert_eq!(
        query_param(&done, "iss").as_deref(),
        Some(app.public.as_str()),
        "RFC 9207"
    );
}

#[tokio::test]
async fn authorize_rejections_reach_the_client_as_errors() {
    let app = flow_app().await;
    let (client_id, _) = app.confidential_client().await;
    let browser = browser();
    // Login rejected.
    let to_login = follow(&browser, &app.authorize_url(&client_id, &[])).await;
    let challenge = query_param(&to_login, "login_challenge").unwrap();
    let rejected: Value = app
        .admin_put(
            "login",
            "reject",
            &challenge,
            json!({"error": "access_denied", "error_description": "The user said no."}),
        )
        .await
        .json()
        .await
        .unwrap();
    let done = follow(&browser, rejected["redirect_to"].as_str().unwrap()).await;
    assert!(done.starts_with(REDIRECT));
    assert_eq!(
        query_param(&done, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        query_param(&done, "error_description").as_deref(),
        Some("The user said no.")
    );
    assert_eq!(query_param(&done, "state").as_deref(), Some("state-123"));
    assert!(query_param(&done, "code").is_none());

    // Consent rejected (with no error given: access_denied).
    let to_login = follow(&browser, &app.authorize_url(&client_id, &[])).await;
    let challenge = query_param(&to_login, "login_challenge").unwrap();
    let accepted: Value = app
        .admin_put("login", "accept", &challenge, json!({"subject": "user-1"}))
        .await
        .json()
        .await
        .unwrap();
    let to_consent = follow(&browser, accepted["redirect_to"].as_str().unwrap()).await;
    let consent_challenge = query_param(&to_consent, "consent_challenge").unwrap();
    let rejected: Value = app
        .admin_put("consent", "reject", &consent_challenge, json!({}))
        .await
        .json()
        .await
        .unwrap();
    let done = follow(&browser, rejected["redirect_to"].as_str().unwrap()).await;
    assert_eq!(
        query_param(&done, "error").as_deref(),
        Some("access_denied")
    );
}

/// The challenge table of the design, row by row (LC-01…LC-03).
#[tokio::test]
async fn authorize_challenges_follow_the_challenge_table() {
    let app = flow_app().await;
    let (client_id, _) = app.confidential_client().await;
    let browser = browser();
    let to_login = follow(&browser, &app.authorize_url(&client_id, &[])).await;
    let challenge = query_param(&to_login, "login_challenge").unwrap();

    // Unknown or malformed: 404 in Hydra's envelope; missing: 400.
    for unknown in ["oly_ch_doesnotexist", "%%%"] {
        let res = app.admin_get("login", unknown).await;
        assert_eq!(res.status(), 404);
        assert_eq!(res.json::<Value>().await.unwrap()["error"], "Not Found");
    }
    let res = app
        .http
        .get(format!("{}/admin/oauth2/auth/requests/login", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

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

    // First decision: 200 with a verifier. After it: 410 with the original URL, never a second verifier.
    let first: Value = app
        .admin_put("login", "accept", &challenge, json!({"subject": "user-1"}))
        .await
        .json()
        .await
        .unwrap();
    let request_url: Value = app
        .admin_get("login", &challenge)
        .await
        .json()
        .await
        .unwrap();
    for res in [
        app.admin_get("login", &challenge).await,
        app.admin_put("login", "accept", &challenge, json!({"subject": "user-1"}))
            .await,
        app.admin_put("login", "reject", &challenge, json!({}))
            .await,
    ] {
        assert_eq!(res.status(), 410);
        let body: Value = res.json().await.unwrap();
        let redirect = body["redirect_to"].as_str().unwrap();
        assert!(
            redirect.starts_with(&format!("{}/oauth2/auth?", app.public)),
            "{body}"
        );
        assert!(query_param(redirect, "login_verifier").is_none());
        assert_eq!(body, request_url);
    }

    // The verifier works once; a second redemption is access_denied at the client.
    let verifier_url = first["redirect_to"].as_str().unwrap();
    let to_consent = follow(&browser, verifier_url).await;
    assert!(to_consent.starts_with(CONSENT_UI));
    let again = follow(&browser, verifier_url).await;
    assert!(again.starts_with(REDIRECT), "{again}");
    assert_eq!(
        query_param(&again, "error").as_deref(),
        Some("access_denied")
    );
    assert!(
        query_param(&again, "error_description")
            .unwrap()
            .contains("already been used")
    );
}

#[tokio::test]
async fn authorize_verifiers_only_work_in_the_browser_that_started() {
    let app = flow_app().await;
    let (client_id, _) = app.confidential_client().await;
    let victim = browser();
    let to_login = follow(&victim, &app.authorize_url(&client_id, &[])).await;
    let challenge = query_param(&to_login, "login_challenge").unwrap();
    let accepted: Value = app
        .admin_put("login", "accept", &challenge, json!({"subject": "user-1"}))
        .await
        .json()
        .await
        .unwrap();
    let res = browser()
        .get(accepted["redirect_to"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.headers().get("location").is_none());
    assert!(res.text().await.unwrap().contains("another browser"));
    // The rightful browser can still continue.
    assert!(
        follow(&victim, accepted["redirect_to"].as_str().unwrap())
            .await
            .starts_with(CONSENT_UI)
    );
}

#[tokio::test]
async fn authorize_expired_challenges_are_gone_with_a_way_back() {
    let app = flow_app().await;
    let (client_id, _) = app.confidential_client().await;
    let browser = browser();
    let to_login = follow(&browser, &app.authorize_url(&client_id, &[])).await;
    let challenge = query_param(&to_login, "login_challenge").unwrap();
    app.clock.advance(std::time::Duration::from_secs(31 * 60));
    for res in [
        app.admin_get("login", &challenge).await,
        app.admin_put("login", "accept", &challenge, json!({"subject": "u"}))
            .await,
    ] {
        assert_eq!(res.status(), 410);
        let body: Value = res.json().await.unwrap();
        assert!(
            body["redirect_to"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{}/oauth2/auth?", app.public))
        );
    }
}

/// AZ-01/AZ-02: unregistered or altered redirect URIs never receive a redirect.
#[tokio::test]
async fn authorize_untrusted_redirect_uris_go_to_the_error_page() {
    let app = flow_app().await;
    let (client_id, _) = app.confidential_client().await;
    let browser = browser();
    for uri in [
        "https://evil.test/cb",
        "https://rp.test/cb/",
        "https://rp.test/cb?x=1",
        "https://rp.test/CB",
    ] {
        let to = follow(
            &browser,
            &app.authorize_url(&client_id, &[("redirect_uri", Some(uri))]),
        )
        .await;
        assert!(to.starts_with(ERROR_UI), "{uri} → {to}");
        assert!(!to.contains("evil.test/cb?"), "{to}");
    }
    let to = follow(&browser, &app.authorize_url("no-such-client", &[])).await;
    assert!(to.starts_with(ERROR_UI));
    assert_eq!(query_param(&to, "error").as_deref(), Some("invalid_client"));
    let to = follow(
        &browser,
        &app.authorize_url(&client_id, &[("redirect_uri", None)]),
    )
    .await;
    assert!(to.starts_with(ERROR_UI));
}

/// AZ-03/AZ-11: PKCE is S256 only, required for public clients and (by default) for all.
#[tokio::test]
async fn authorize_requires_s256_pkce() {
    let app = flow_app().await;
    let (confidential, _) = app.confidential_client().await;
    let public = app.public_client().await;
    let browser = browser();
    let cases: Vec<(String, &str)> = vec![
        (
            app.authorize_url(
                &confidential,
                &[("code_challenge", None), ("code_challenge_method", None)],
            ),
            "required",
        ),
        (
            app.authorize_url(&confidential, &[("code_challenge_method", Some("plain"))]),
            "plain",
        ),
        (
            app.authorize_url(&confidential, &[("code_challenge_method", None)]),
            "S256",
        ),
        (
            app.authorize_url(&confidential, &[("code_challenge", Some("short"))]),
            "43",
        ),
    ];
    for (url, says) in cases {
        let to = follow(&browser, &url).await;
        assert!(to.starts_with(REDIRECT), "{to}");
        assert_eq!(
            query_param(&to, "error").as_deref(),
            Some("invalid_request"),
            "{to}"
        );
        assert!(
            query_param(&to, "error_description")
                .unwrap()
                .contains(says),
            "{to}"
        );
        assert_eq!(query_param(&to, "state").as_deref(), Some("state-123"));
    }
    let to = follow(
        &browser,
        &app.authorize_url(
            &public,
            &[
                ("redirect_uri", Some("http://127.0.0.1/cb")),
                ("code_challenge", None),
                ("code_challenge_method", None),
            ],
        ),
    )
    .await;
    assert_eq!(
        query_param(&to, "error").as_deref(),
        Some("invalid_request")
    );
}

#[tokio::test]
async fn authorize_rejects_bad_requests_at_the_client() {
    let app = flow_app().await;
    let (client_id, _) = app.confidential_client().await;
    let browser = browser();
    for (overrides, error) in [
        (
            vec![("response_type", Some("token"))],
            "unsupported_response_type",
        ),
        (vec![("scope", Some("openid admin"))], "invalid_scope"),
        (
            vec![("response_mode", Some("form_post.jwt"))],
            "invalid_request",
        ),
        (vec![("prompt", Some("bogus"))], "invalid_request"),
    ] {
        let to = follow(&browser, &app.authorize_url(&client_id, &overrides)).await;
        assert_eq!(
            query_param(&to, "error").as_deref(),
            Some(error),
            "{overrides:?}: {to}"
        );
    }
    let repeated = format!("{}&state=again", app.authorize_url(&client_id, &[]));
    assert!(follow(&browser, &repeated).await.starts_with(ERROR_UI));
}
