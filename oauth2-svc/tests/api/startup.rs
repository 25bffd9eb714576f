//! Start-up, health, settings and request limits.

use crate::helpers::{self, spawn};
use oauth2_svc::Settings;

#[tokio::test]
async fn health_and_version_answer_on_both_listeners() {
    let app = spawn().await;
    for base in [&app.public, &app.admin] {
        for path in ["/health/alive", "/health/ready"] {
            let res = app.http.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(res.status(), 200, "{base}{path}");
            assert_eq!(
                res.json::<serde_json::Value>().await.unwrap()["status"],
                "ok"
            );
        }
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
async fn metrics_only_on_admin_and_count_requests() {
    let app = spawn().await;
    app.http
        .get(format!("{}/health/alive", app.public))
        .send()
        .await
        .unwrap();
    let public = app
        .http
        .get(format!("{}/metrics", app.public))
        .send()
        .await
        .unwrap();
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
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("olympus_http_requests_total{") && l.contains(r#"route="/health/alive""#)
        })
        .unwrap_or_else(|| panic!("no request counter in {text}"));
    for label in [
        r#"listener="public""#,
        r#"method="GET""#,
        r#"status="200""#,
        r#"service="oauth2-svc""#,
    ] {
        assert!(line.contains(label), "{line}");
    }
    assert!(line.ends_with(" 1"), "{line}");
}

#[tokio::test]
async fn request_ids_are_echoed_or_made() {
    let app = spawn().await;
    let res = app
        .http
        .get(format!("{}/health/alive", app.public))
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-42");
    let res = app
        .http
        .get(format!("{}/health/alive", app.public))
        .send()
        .await
        .unwrap();
    let made = res.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(made).is_ok(), "{made}");
}

#[tokio::test]
async fn unknown_routes_answer_in_the_hydra_envelope() {
    let app = spawn().await;
    let res = app
        .http
        .get(format!("{}/nope", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "Not Found");
    assert_eq!(body["status_code"], 404);
}

#[tokio::test]
async fn invalid_settings_stop_the_service_naming_the_key() {
    let db = helpers::fresh_database();
    type Breaker = Box<dyn Fn(&mut Settings)>;
    let cases: Vec<(Breaker, &str)> = vec![
        (
            Box::new(|s| s.secrets.system = Default::default()),
            "secrets.system",
        ),
        (
            Box::new(|s| {
                s.secrets.cookie =
                    service_kit::settings::SecretList::new([service_kit::settings::Secret::new(
                        "short",
                    )])
            }),
            "secrets.cookie[0]",
        ),
        (Box::new(|s| s.urls.self_.issuer = None), "urls.self.issuer"),
        (
            Box::new(|s| s.urls.self_.issuer = Some("http://auth.example.com".into())),
            "urls.self.issuer",
        ),
        (Box::new(|s| s.dsn = "mysql://nope".into()), "dsn"),
        (
            Box::new(|s| s.serve.request_limits.json_body_bytes = 10),
            "serve.request_limits.json_body_bytes",
        ),
    ];
    for (break_it, key) in cases {
        let mut settings = Settings {
            dsn: db.dsn.clone(),
            ..helpers::settings_for("http://127.0.0.1:1")
        };
        break_it(&mut settings);
        let err = oauth2_svc::build(
            settings,
            Some(service_kit::server::Listeners::ephemeral().unwrap()),
        )
        .await
        .err();
        let message = err.map(|e| format!("{e:#}")).unwrap_or_default();
        assert!(
            message.contains(&format!("`{key}`")),
            "expected an error naming {key}, got: {message:?}"
        );
    }
}

#[test]
fn settings_load_from_file_then_environment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oauth2.yaml");
    std::fs::write(
        &path,
        "urls:\n  self:\n    issuer: https://auth.example.com\nserve:\n  public:\n    port: 9000\n",
    )
    .unwrap();
    // Environment variables are process-wide; this is the only test in the binary that sets them.
    unsafe { std::env::set_var("OAUTH2_SERVE__ADMIN__PORT", "9001") };
    let settings = Settings::load(Some(&path)).unwrap();
    unsafe { std::env::remove_var("OAUTH2_SERVE__ADMIN__PORT") };
    assert_eq!(
        settings.urls.self_.issuer.as_deref(),
        Some("https://auth.example.com")
    );
    assert_eq!(settings.serve.public.port, 9000);
    assert_eq!(
        settings.serve.public.host, "0.0.0.0",
        "defaults survive a partial section"
    );
    assert_eq!(settings.serve.admin.port, 9001);
    assert_eq!(settings.serve.admin.host, "127.0.0.1");

    std::fs::write(&path, "serve:\n  public:\n    prot: 9000\n").unwrap();
    let err = Settings::load(Some(&path)).unwrap_err().to_string();
    assert!(err.contains("`serve.public.prot`"), "{err}");
    std::fs::write(&path, "serve:\n  public:\n    port: many\n").unwrap();
    let err = Settings::load(Some(&path)).unwrap_err().to_string();
    assert!(err.contains("`serve.public.port`"), "{err}");
}

#[tokio::test]
async fn a_newer_schema_stops_the_service() {
    let db = helpers::fresh_database();
    let first = helpers::spawn_on(db, |_| {}).await;
    first.stop.stop(true).await;
    // Record a migration this binary does not know, as a newer release would.
    let dsn = service_kit::db::Dsn::parse(&first.db.dsn).unwrap();
    let pool = service_kit::db::Db::connect(&dsn, &Default::default()).unwrap();
    pool.write(|c| {
        use diesel::RunQueryDsl;
        diesel::sql_query(
            "INSERT INTO __diesel_schema_migrations (version) VALUES ('99991231000000')",
        )
        .execute(c)
        .map_err(service_kit::db::DbError::from)
    })
    .await
    .unwrap();
    let settings = Settings {
        dsn: first.db.dsn.clone(),
        ..helpers::settings_for("http://127.0.0.1:1")
    };
    let err = oauth2_svc::build(
        settings,
        Some(service_kit::server::Listeners::ephemeral().unwrap()),
    )
    .await
    .err();
    let message = err.map(|e| format!("{e:#}")).unwrap_or_default();
    assert!(
        message.contains("newer than this binary") && message.contains("99991231000000"),
        "{message}"
    );
}

#[test]
fn the_configuration_docs_list_every_setting() {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/configuration.md"
    ))
    .unwrap();
    let missing: Vec<_> = service_kit::settings::keys_of(&oauth2_svc::Settings::default())
        .into_iter()
        .filter(|key| !docs.contains(&format!("`{key}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/configuration.md does not list {missing:?}"
    );
}
