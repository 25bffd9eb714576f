//! The authorization endpoint (security.md AZ-11), with the UI played over the admin API.
//! Untrusted redirect URIs and clients (AZ-01…AZ-06) are in `security_redirects.rs`, the other
//! AZ cases in `security_authorize.rs`. The login/consent challenge cases (LC-*) are in `challenges.rs`.

use serde_json::{Value, json};

use crate::browser::{REDIRECT, accept_consent, browser, flow_app, follow, location, query_param};
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

    let done = accept_consent(
        &app,
        &browser,
        &consent_challenge,
        json!({"grant_scope": ["openid", "email"]}),
    )
    .await;
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

/// AZ-11: PKCE is S256 only, required for public clients and (by default, setting
/// `oauth2.pkce.enforced`) for all: without it the client gets `invalid_request` naming the
/// code_challenge, and no code.
#[tokio::test]
async fn az_11_pkce_is_s256_only_and_required() {
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
        assert!(query_param(&to, "code").is_none(), "{to}");
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
    assert!(to.starts_with("http://127.0.0.1/cb?"), "{to}");
    assert_eq!(
        query_param(&to, "error").as_deref(),
        Some("invalid_request")
    );
    let says = query_param(&to, "error_description").unwrap();
    assert!(says.contains("code_challenge"), "{says}");
    assert!(query_param(&to, "code").is_none(), "{to}");
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
