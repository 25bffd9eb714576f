//! What the UI's decisions can and cannot do (security.md LC-06, LC-09, LC-10): a remembered
//! login is not accepted for someone else, a consent grants no more than was requested and
//! cannot override registered claims, and refusals reach the client as `access_denied`.

use serde_json::{Value, json};

use crate::browser::{
    REDIRECT, accept_consent, accept_login, browser, flow_app, follow, location, query_param,
};
use crate::handoff::{sign_in_remembering, tokens, verify_with_jwks};
use crate::helpers::TestApp;
use crate::token::userinfo;

/// The consent challenge a new authorization of `client_id` in `b` leads to (login accepted
/// as `user-1`).
async fn consent_challenge(app: &TestApp, b: &reqwest::Client, client_id: &str) -> String {
    let url = app.authorize_url(client_id, &[]);
    let login = query_param(&follow(b, &url).await, "login_challenge").unwrap();
    let accepted: Value = app
        .admin_put("login", "accept", &login, json!({"subject": "user-1"}))
        .await
        .json()
        .await
        .unwrap();
    let to_consent = follow(b, accepted["redirect_to"].as_str().unwrap()).await;
    query_param(&to_consent, "consent_challenge").unwrap()
}

/// LC-06: while `user-1`'s login is remembered (`skip`), accepting the login for `user-2` does
/// not decide the challenge: the UI is sent to a fresh login (`prompt=login`), the challenge
/// still names `user-1`, and nothing is ever issued for `user-2` from it.
#[tokio::test]
async fn lc_06_a_remembered_login_is_not_accepted_for_another_subject() {
    let app = flow_app().await;
    let (client_id, secret) = app.confidential_client().await;
    let b = browser();
    let url = app.authorize_url(&client_id, &[]);
    sign_in_remembering(&app, &b, &url, "user-1", false).await;
    let challenge = query_param(&follow(&b, &url).await, "login_challenge").unwrap();
    let request: Value = app
        .admin_get("login", &challenge)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (request["skip"].clone(), request["subject"].clone()),
        (json!(true), json!("user-1"))
    );

    let res = app
        .admin_put("login", "accept", &challenge, json!({"subject": "user-2"}))
        .await;
    assert_eq!(res.status(), 200);
    let restart = res.json::<Value>().await.unwrap()["redirect_to"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        query_param(&restart, "login_verifier").is_none(),
        "{restart}"
    );
    assert_eq!(query_param(&restart, "prompt").as_deref(), Some("login"));
    let still: Value = app
        .admin_get("login", &challenge)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still["subject"], "user-1", "the challenge is not decided");
    // The restart asks for a real login: no skip, no remembered subject.
    let fresh = query_param(&follow(&b, &restart).await, "login_challenge").unwrap();
    let fresh: Value = app.admin_get("login", &fresh).await.json().await.unwrap();
    assert_eq!(fresh["skip"], false);
    assert_eq!(fresh["subject"], "");
    // Answered for the remembered subject, the flow ends in tokens for user-1 only.
    let body = json!({"subject": "user-1"});
    let (consent, request) = accept_login(&app, &b, &challenge, body).await;
    assert_eq!(request["subject"], "user-1");
    let done = accept_consent(&app, &b, &consent, json!({"grant_scope": ["openid"]})).await;
    let id_token = tokens(&app, &client_id, &secret, &done).await["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(verify_with_jwks(&app, &id_token).await["sub"], "user-1");
}

/// LC-09: a consent cannot grant a scope or audience that was not requested (400, and the
/// challenge stays open); a narrower grant narrows the token; `session.id_token` and
/// `session.access_token` cannot override `sub`, `iss`, `aud`, `azp` or the token's client.
#[tokio::test]
async fn lc_09_consent_grants_no_more_than_requested_and_no_registered_claims() {
    let app = flow_app().await;
    let (client_id, secret) = app.confidential_client().await;
    let b = browser();
    let consent = consent_challenge(&app, &b, &client_id).await;
    for body in [
        json!({"grant_scope": ["openid", "admin"]}),
        json!({"grant_scope": ["openid"], "grant_access_token_audience": ["https://other-api.test"]}),
        json!({"grant_scope": ["openid"], "session": {"id_token": "sub=user-2"}}),
    ] {
        let res = app
            .admin_put("consent", "accept", &consent, body.clone())
            .await;
        assert_eq!(res.status(), 400, "{body}");
        assert_eq!(
            res.json::<Value>().await.unwrap()["error"],
            "invalid_request"
        );
    }
    assert_eq!(
        app.admin_get("consent", &consent).await.status(),
        200,
        "still open"
    );

    let body = json!({"grant_scope": ["openid"], "session": {
        "id_token": {"sub": "user-2", "iss": "https://evil.test", "aud": ["other"], "azp": "other",
            "email": "ceo@example.com"},
        "access_token": {"sub": "user-2", "client_id": "other"}}});
    let done = accept_consent(&app, &b, &consent, body).await;
    let issued = tokens(&app, &client_id, &secret, &done).await;
    assert_eq!(issued["scope"], "openid", "the narrower grant");
    let claims = verify_with_jwks(&app, issued["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["sub"], "user-1");
    assert_eq!(claims["iss"], app.public.as_str());
    assert_eq!(claims["aud"], json!([client_id]));
    assert!(claims.get("azp").is_none(), "{claims}");
    let at = issued["access_token"].as_str().unwrap();
    let info: Value = userinfo(&app, at).await.json().await.unwrap();
    assert_eq!(info["sub"], "user-1");
    let seen: Value = app
        .http
        .post(format!("{}/admin/oauth2/introspect", app.admin))
        .form(&[("token", at)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (seen["sub"].clone(), seen["client_id"].clone()),
        (json!("user-1"), json!(client_id))
    );
    assert_eq!(seen["scope"], "openid");
    assert_eq!(seen["ext"]["sub"], "user-2", "only under ext");
}

/// LC-10: a rejected login (with the UI's own description) and a denied consent reach the
/// registered redirect_uri with `error=access_denied`, the state and `iss`, by 302/303 (never
/// 307), the description as plain text, and no code.
#[tokio::test]
async fn lc_10_rejected_logins_and_denied_consents_reach_the_client_as_access_denied() {
    let app = flow_app().await;
    let (client_id, _) = app.confidential_client().await;
    let b = browser();
    let to_login = follow(&b, &app.authorize_url(&client_id, &[])).await;
    let challenge = query_param(&to_login, "login_challenge").unwrap();
    let said = "<b>No</b> & \"never\"";
    let rejected: Value = app
        .admin_put(
            "login",
            "reject",
            &challenge,
            json!({"error": "access_denied", "error_description": said}),
        )
        .await
        .json()
        .await
        .unwrap();
    let consent = consent_challenge(&app, &b, &client_id).await;
    let denied: Value = app
        .admin_put("consent", "reject", &consent, json!({}))
        .await
        .json()
        .await
        .unwrap();
    for (decision, description) in [(rejected, Some(said)), (denied, None)] {
        let res = b
            .get(decision["redirect_to"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert!(
            matches!(res.status().as_u16(), 302 | 303),
            "{}",
            res.status()
        );
        let done = location(&res);
        assert!(done.starts_with(&format!("{REDIRECT}?")), "{done}");
        let param = |name| query_param(&done, name);
        assert_eq!(param("error").as_deref(), Some("access_denied"));
        assert_eq!(param("state").as_deref(), Some("state-123"));
        assert_eq!(param("iss").as_deref(), Some(app.public.as_str()));
        assert!(param("code").is_none());
        if let Some(description) = description {
            assert_eq!(param("error_description").as_deref(), Some(description));
        }
    }
}
