//! The home page: who is signed in (from identity-svc's `whoami` for the browser's cookies),
//! identity-svc's sign-out link, and the theme logo.

use serde_json::json;

use crate::handoff::{Scripted, login_ui};
use crate::helpers::spawn_with;

fn session() -> serde_json::Value {
    json!({"id": "0190b6b4-6c6f-7000-8000-00000000000a", "active": true,
        "expires_at": "2099-01-01T00:00:00Z", "authenticated_at": "2026-01-01T00:00:00Z",
        "issued_at": "2026-01-01T00:00:00Z", "authenticator_assurance_level": "aal2",
        "authentication_methods": [{"method": "password", "aal": "aal1", "completed_at": "2026-01-01T00:00:00Z"}],
        "identity": {"id": "0190b6b4-6c6f-7000-8000-000000000001", "schema_id": "default",
            "schema_url": "http://x/schemas/ZGVmYXVsdA", "state": "active",
            "traits": {"email": "ada@example.com", "name": {"first": "Ada", "last": "<Lovelace>"}},
            "verifiable_addresses": [], "recovery_addresses": [], "metadata_public": null,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}})
}

#[tokio::test]
async fn a_signed_in_visitor_sees_their_account_and_a_sign_out_link() {
    let upstream = Scripted::start(vec![
        ("GET", "/sessions/whoami", 200, session()),
        (
            "GET",
            "/self-service/logout/browser",
            200,
            json!({"logout_url": "http://id.test/self-service/logout?token=ory_lo_x", "logout_token": "ory_lo_x"}),
        ),
    ])
    .await;
    let app = login_ui(&upstream).await;
    let html = app
        .http
        .get(format!("{}/", app.public))
        .header("cookie", "ory_kratos_session=s")
        .header("accept-language", "de")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Sie sind als Ada &lt;Lovelace&gt; angemeldet."),
        "{html}"
    );
    assert!(html.contains("ada@example.com"), "{html}");
    assert!(html.contains("Zwei Faktoren"), "{html}");
    assert!(
        html.contains(
            r#"href="http:&#x2F;&#x2F;id.test&#x2F;self-service&#x2F;logout?token=ory_lo_x""#
        ),
        "{html}"
    );
    assert!(html.contains(r#"href="/settings""#), "{html}");
    assert!(!html.contains(r#"href="/registration""#), "{html}");
}

#[tokio::test]
async fn without_a_session_the_home_page_offers_sign_in_and_registration() {
    let upstream = Scripted::start(vec![]).await;
    let app = login_ui(&upstream).await;
    let html = app.get("/").await.text().await.unwrap();
    assert!(html.contains("You are not signed in."), "{html}");
    for link in ["/login", "/registration"] {
        assert!(html.contains(&format!(r#"href="{link}""#)), "{html}");
    }
    assert!(!html.contains("logout"), "{html}");
}

#[tokio::test]
async fn the_theme_logo_is_served_and_shown() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("logo.png"), b"\x89PNG-bytes").unwrap();
    let theme = dir.path().to_path_buf();
    let app = spawn_with(|s| s.ui.theme_dir = Some(theme)).await;
    let logo = app.get("/static/logo").await;
    assert_eq!(logo.status(), 200);
    assert_eq!(logo.headers()["content-type"], "image/png");
    assert_eq!(logo.headers()["x-content-type-options"], "nosniff");
    assert_eq!(&logo.bytes().await.unwrap()[..], b"\x89PNG-bytes");
    let home = app.get("/").await.text().await.unwrap();
    assert!(home.contains(r#"src="/static/logo""#), "{home}");
    let plain = spawn_with(|_| {}).await;
    assert_eq!(plain.get("/static/logo").await.status(), 404);
}
