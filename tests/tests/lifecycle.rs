//! An identity's end reaches oauth2-svc (security.md RT-09 b), across the three real binaries:
//! identity-svc's lifecycle web hook (through its outbox) tells login-ui, which revokes the
//! subject's consent sessions, tokens and remembered logins on oauth2-svc's admin API.
//! identity-svc never calls oauth2-svc itself.

mod support;

use std::time::{Duration, Instant};

use openidconnect::OAuth2TokenResponse;
use serde_json::{Value, json};
use support::signed_in_with;

async fn admin_get(url: String) -> Value {
    let res = reqwest::Client::new().get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200, "{url}");
    res.json().await.unwrap()
}

/// RT-09 b: after `DELETE /admin/identities/{id}` at identity-svc, the identity's refresh (and
/// access) tokens stop working at oauth2-svc, and its consent sessions and remembered logins
/// are gone there.
#[tokio::test]
async fn rt_09_b_deleting_the_identity_ends_its_refresh_tokens() {
    let s = signed_in_with(json!({"grant_types": ["authorization_code", "refresh_token"]})).await;
    let tokens = s.tokens(&["offline_access"]).await;
    let rotated = s
        .refresh(tokens.refresh_token().expect("a refresh token"))
        .await
        .expect("refreshing works while the identity exists");
    let rt = rotated.refresh_token().unwrap().clone();
    assert_eq!(s.introspect(rt.secret()).await["active"], true);

    let identity_admin = s.domain.identity.admin_url();
    let found = admin_get(format!(
        "{identity_admin}/admin/identities?credentials_identifier=ada@example.com"
    ))
    .await;
    let id = found[0]["id"].as_str().expect("Ada's identity").to_string();
    let oauth2_admin = s.domain.oauth2.admin_url();
    let consents_url = format!("{oauth2_admin}/admin/oauth2/auth/sessions/consent?subject={id}");
    assert!(
        !admin_get(consents_url.clone())
            .await
            .as_array()
            .unwrap()
            .is_empty(),
        "the subject at oauth2-svc is the identity id"
    );

    let res = reqwest::Client::new()
        .delete(format!("{identity_admin}/admin/identities/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);

    // Delivery is asynchronous (identity-svc's outbox, then login-ui); wait for it, briefly.
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.introspect(rt.secret()).await["active"] != false {
        assert!(
            Instant::now() < deadline,
            "the refresh token is still active 10 s after the deletion"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(s.refresh(&rt).await.unwrap_err(), "invalid_grant");
    assert_eq!(
        s.introspect(rotated.access_token().secret()).await,
        json!({"active": false})
    );
    assert_eq!(admin_get(consents_url).await, json!([]));
    // login-ui made the calls (and logs once both are done), not identity-svc.
    while !s
        .domain
        .login_ui
        .log_text()
        .contains("revoked the identity's grants and remembered logins at oauth2-svc")
    {
        assert!(
            Instant::now() < deadline,
            "login-ui did not log the revocation:\n{}",
            s.domain.login_ui.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // No remembered login brings the subject back: the browser must sign in again.
    let (url, _, _) = s.authorize_url(&[], &[]);
    let (page, form) = s.browser.follow_to_page(&url).await;
    assert!(page.contains("/login?flow="), "{page}");
    assert!(form.is_some_and(|f| f.fields.iter().any(|(name, _)| name == "password")));
}
