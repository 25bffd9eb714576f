//! Start-up, settings, health and the admin listener.

use service_kit::server::Listeners;

use crate::helpers::{settings_for, spawn};

async fn start_error(tune: impl FnOnce(&mut login_ui::Settings)) -> String {
    let mut settings = settings_for("http://127.0.0.1:4455", "http://127.0.0.1:1");
    tune(&mut settings);
    match login_ui::build(settings, Some(Listeners::ephemeral().unwrap())).await {
        Ok(_) => panic!("login-ui started with invalid settings"),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test]
async fn invalid_settings_stop_start_up_and_name_the_key() {
    let err = start_error(|s| s.secrets.cookie = Default::default()).await;
    assert!(err.contains("`secrets.cookie`"), "{err}");
    let err = start_error(|s| s.urls.oauth2.admin = None).await;
    assert!(err.contains("`urls.oauth2.admin`"), "{err}");
    let err = start_error(|s| s.urls.self_.public = Some("http://login.example.com".into())).await;
    assert!(err.contains("`urls.self.public`"), "{err}");
    let err = start_error(|s| s.ui.theme_dir = Some("/no/such/theme".into())).await;
    assert!(err.contains("`ui.theme_dir`"), "{err}");
}

#[tokio::test]
async fn dev_allows_an_http_public_url_anywhere() {
    let mut settings = settings_for("http://login.example.com", "http://127.0.0.1:1");
    settings.dev = true;
    assert!(
        login_ui::build(settings, Some(Listeners::ephemeral().unwrap()))
            .await
            .is_ok()
    );
}

#[test]
fn settings_load_from_a_file_over_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("login-ui.toml");
    std::fs::write(
        &file,
        "upstream_timeout = \"750ms\"\n[urls.oauth2]\nadmin = \"http://oauth2:4445\"\n",
    )
    .unwrap();
    let settings = login_ui::Settings::load(Some(&file)).unwrap();
    assert_eq!(
        settings.upstream_timeout,
        std::time::Duration::from_millis(750)
    );
    assert_eq!(
        settings.urls.oauth2.admin.as_deref(),
        Some("http://oauth2:4445")
    );
    assert_eq!(settings.serve.public.port, 4455);
    assert_eq!(settings.serve.admin.port, 4456);
}

#[tokio::test]
async fn health_and_version_answer_on_both_listeners() {
    let app = spawn().await;
    for base in [&app.public, &app.admin] {
        let res = app
            .http
            .get(format!("{base}/health/alive"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{base}");
        let version: serde_json::Value = app
            .http
            .get(format!("{base}/version"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
    }
}

#[tokio::test]
async fn metrics_only_on_admin_and_no_pages_there() {
    let app = spawn().await;
    app.get("/").await;
    let public = app.get("/metrics").await;
    assert_eq!(public.status(), 404);
    let text = app
        .http
        .get(format!("{}/metrics", app.admin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let counted = text.lines().any(|line| {
        line.starts_with("olympus_http_requests_total{")
            && [
                r#"listener="public""#,
                r#"route="/""#,
                r#"status="200""#,
                r#"service="login-ui""#,
            ]
            .iter()
            .all(|label| line.contains(label))
    });
    assert!(counted, "{text}");
    let home = app
        .http
        .get(format!("{}/", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 404, "the admin listener serves no pages");
    assert_eq!(home.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(home.headers()["x-frame-options"], "DENY");
}

#[test]
fn the_configuration_docs_list_every_setting() {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/configuration.md"
    ))
    .unwrap();
    let missing: Vec<_> = service_kit::settings::keys_of(&login_ui::Settings::default())
        .into_iter()
        .filter(|key| !docs.contains(&format!("`{key}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/configuration.md does not list {missing:?}"
    );
}
