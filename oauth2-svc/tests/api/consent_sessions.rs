//! Remembered consent (`skip`), and the consent-session admin API: list with keyset
//! pagination, revoke by subject+client, subject+all or consent_request_id, which revokes the
//! tokens too (security.md LC-*, IR-06 by way of consent revocation).

use serde_json::Value;

use crate::browser::{browser, flow_app, follow, query_param};
use crate::handoff::{sign_in_remembering, tokens};
use crate::helpers::TestApp;
use crate::token::userinfo;

/// The consent request a new authorization in `b` leads to (login accepted as `user-1`).
async fn consent_request(app: &TestApp, b: &reqwest::Client, url: &str) -> Value {
    let to_login = follow(b, url).await;
    let challenge = query_param(&to_login, "login_challenge").unwrap();
    let accepted: Value = app
        .admin_put(
            "login",
            "accept",
            &challenge,
            serde_json::json!({"subject": "user-1"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let to_consent = follow(b, accepted["redirect_to"].as_str().unwrap()).await;
    let challenge = query_param(&to_consent, "consent_challenge").unwrap();
    app.admin_get("consent", &challenge)
        .await
        .json()
        .await
        .unwrap()
}

async fn sessions(app: &TestApp, query: &str) -> reqwest::Response {
    app.http
        .get(format!(
            "{}/admin/oauth2/auth/sessions/consent?{query}",
            app.admin
        ))
        .send()
        .await
        .unwrap()
}

async fn revoke(app: &TestApp, prefix: &str, query: &str) -> reqwest::Response {
    app.http
        .delete(format!(
            "{}{prefix}/oauth2/auth/sessions/consent?{query}",
            app.admin
        ))
        .send()
        .await
        .unwrap()
}

/// LC: a remembered consent makes a covered request skip; a wider scope, prompt=consent, or a
/// consent not remembered do not.
#[tokio::test]
async fn lc_remembered_consent_marks_covered_requests_skip() {
    let app = flow_app().await;
    let (client_id, _) = app.confidential_client().await;
    let b = browser();
    let url = app.authorize_url(&client_id, &[]);
    sign_in_remembering(&app, &b, &url, "user-1", false).await;
    assert_eq!(
        consent_request(&app, &b, &url).await["skip"],
        false,
        "not remembered"
    );
    sign_in_remembering(&app, &b, &url, "user-1", true).await;
    assert_eq!(consent_request(&app, &b, &url).await["skip"], true);
    let narrower = app.authorize_url(&client_id, &[("scope", Some("openid"))]);
    assert_eq!(consent_request(&app, &b, &narrower).await["skip"], true);
    let wider = app.authorize_url(&client_id, &[("scope", Some("openid email profile"))]);
    assert_eq!(consent_request(&app, &b, &wider).await["skip"], false);
    let forced = app.authorize_url(&client_id, &[("prompt", Some("consent"))]);
    assert_eq!(consent_request(&app, &b, &forced).await["skip"], false);
    // Another client of the same user is not covered.
    let (other, _) = app.confidential_client().await;
    let other_url = app.authorize_url(&other, &[]);
    assert_eq!(consent_request(&app, &b, &other_url).await["skip"], false);
}

/// LC: remember_for bounds a remembered consent (0 = indefinitely).
#[tokio::test]
async fn lc_remembered_consent_expires_after_remember_for() {
    let app = flow_app().await;
    let (client_id, _) = app.confidential_client().await;
    let b = browser();
    let url = app.authorize_url(&client_id, &[]);
    let request = consent_request(&app, &b, &url).await;
    let body = serde_json::json!({"grant_scope": request["requested_scope"], "remember": true, "remember_for": 600});
    let accepted: Value = app
        .admin_put(
            "consent",
            "accept",
            request["challenge"].as_str().unwrap(),
            body,
        )
        .await
        .json()
        .await
        .unwrap();
    follow(&b, accepted["redirect_to"].as_str().unwrap()).await;
    assert_eq!(consent_request(&app, &b, &url).await["skip"], true);
    app.clock.advance(std::time::Duration::from_secs(601));
    assert_eq!(consent_request(&app, &b, &url).await["skip"], false);
}

/// LC: the session list is `oAuth2ConsentSession`s, newest first, paged by a keyset token in
/// the Link header; an unknown subject is an empty list; no subject is 400.
#[tokio::test]
async fn lc_consent_sessions_are_listed_with_pagination() {
    let app = flow_app().await;
    let (client_id, _) = app.confidential_client().await;
    let b = browser();
    let url = app.authorize_url(&client_id, &[]);
    sign_in_remembering(&app, &b, &url, "user-1", true).await;
    sign_in_remembering(&app, &b, &url, "user-1", false).await;
    let res = sessions(&app, "subject=user-1&page_size=1").await;
    assert_eq!(res.status(), 200);
    let link = res.headers()["link"].to_str().unwrap().to_string();
    let first: Vec<Value> = res.json().await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["remember"], false, "newest first");
    assert_eq!(
        first[0]["grant_scope"],
        serde_json::json!(["openid", "email"])
    );
    assert_eq!(
        first[0]["consent_request"]["client"]["client_id"],
        client_id.as_str()
    );
    assert_eq!(first[0]["session"]["id_token"]["email"], "ada@example.com");
    assert!(
        first[0]["consent_request"]["client"]
            .get("client_secret")
            .is_none()
    );
    let next = link.trim_start_matches('<').split('>').next().unwrap();
    assert!(
        next.starts_with("/admin/oauth2/auth/sessions/consent?"),
        "{link}"
    );
    let second: Vec<Value> = app
        .http
        .get(format!("{}{next}", app.admin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0]["remember"], true);
    assert_ne!(
        second[0]["consent_request_id"],
        first[0]["consent_request_id"]
    );
    let none: Vec<Value> = sessions(&app, "subject=nobody").await.json().await.unwrap();
    assert!(none.is_empty());
    assert_eq!(sessions(&app, "").await.status(), 400);
}

/// LC / IR-06: revoking a client's consent revokes its tokens, and the next request is no
/// longer skipped; bad parameter combinations are 400; both path forms work.
#[tokio::test]
async fn lc_revoking_consent_revokes_its_tokens() {
    let app = flow_app().await;
    let (client_id, secret) = app.confidential_client().await;
    let b = browser();
    let url = app.authorize_url(&client_id, &[]);
    let done = sign_in_remembering(&app, &b, &url, "user-1", true).await;
    let at = tokens(&app, &client_id, &secret, &done).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(userinfo(&app, &at).await.status(), 200);
    for bad in [
        "subject=user-1",
        "client=x",
        "subject=user-1&client=x&all=true",
        "all=true",
        "consent_request_id=nope",
    ] {
        let res = revoke(&app, "/admin", bad).await;
        assert_eq!(res.status(), 400, "{bad}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request");
    }
    assert_eq!(
        userinfo(&app, &at).await.status(),
        200,
        "nothing revoked by a bad call"
    );
    let res = revoke(&app, "", &format!("subject=user-1&client={client_id}")).await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        userinfo(&app, &at).await.status(),
        401,
        "the token stops working"
    );
    let listed: Vec<Value> = sessions(&app, "subject=user-1").await.json().await.unwrap();
    assert!(listed.is_empty());
    assert_eq!(consent_request(&app, &b, &url).await["skip"], false);
}

/// LC: revoking by consent_request_id and by subject+all.
#[tokio::test]
async fn lc_revoking_by_request_id_or_all() {
    let app = flow_app().await;
    let (client_id, secret) = app.confidential_client().await;
    let b = browser();
    let url = app.authorize_url(&client_id, &[]);
    let first = sign_in_remembering(&app, &b, &url, "user-1", true).await;
    let second = sign_in_remembering(&app, &b, &url, "user-1", true).await;
    let at1 = tokens(&app, &client_id, &secret, &first).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let at2 = tokens(&app, &client_id, &secret, &second).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let listed: Vec<Value> = sessions(&app, "subject=user-1").await.json().await.unwrap();
    let oldest = listed[1]["consent_request_id"].as_str().unwrap();
    assert_eq!(
        revoke(&app, "/admin", &format!("consent_request_id={oldest}"))
            .await
            .status(),
        204
    );
    assert_eq!(userinfo(&app, &at1).await.status(), 401);
    assert_eq!(userinfo(&app, &at2).await.status(), 200, "only that grant");
    assert_eq!(
        revoke(&app, "/admin", "subject=user-1&all=true")
            .await
            .status(),
        204
    );
    assert_eq!(userinfo(&app, &at2).await.status(), 401);
}
