//! Start-up, health and settings.

use identity_svc::Settings;
use identity_svc::config::SchemaSource;
use service_kit::settings::{Secret, SecretList};

use crate::helpers::{self, spawn};

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
    let metrics = app
        .http
        .get(format!("{}/metrics", app.admin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains(r#"service="identity-svc""#), "{metrics}");
}

/// Breaks one setting.
type Breaker = Box<dyn Fn(&mut Settings)>;

fn schema_at(url: String) -> Breaker {
    Box::new(move |s| {
        s.identity.schemas = vec![SchemaSource {
            id: "default".into(),
            url: url.clone(),
        }]
    })
}

#[tokio::test]
async fn invalid_settings_stop_the_service_naming_the_key() {
    let db = helpers::fresh_database();
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        format!("file://{}", path.display())
    };
    let cases: Vec<(Breaker, &str)> = vec![
        (
            Box::new(|s| s.secrets.cookie = SecretList::default()),
            "secrets.cookie",
        ),
        (
            Box::new(|s| s.secrets.cipher = SecretList::new([Secret::new("short")])),
            "secrets.cipher[0]",
        ),
        (Box::new(|s| s.urls.self_.public = None), "urls.self.public"),
        (
            Box::new(|s| s.urls.self_.public = Some("http://id.example.com".into())),
            "urls.self.public",
        ),
        (Box::new(|s| s.dsn = "mysql://nope".into()), "dsn"),
        (
            Box::new(|s| s.identity.default_schema_id = "missing".into()),
            "identity.default_schema_id",
        ),
        (
            schema_at(format!("file://{}/absent.json", dir.path().display())),
            "identity.schemas[0].url",
        ),
        (
            schema_at(file("broken.json", "{\"properties\": ")),
            "identity.schemas[0].url",
        ),
        (
            schema_at(file("no-traits.json", "{\"type\": \"object\"}")),
            "identity.schemas[0].url",
        ),
        (
            schema_at(file(
                "bad.json",
                r#"{"properties": {"traits": {"type": 12}}}"#,
            )),
            "identity.schemas[0].url",
        ),
        (
            schema_at("https://schemas.example.com/person.json".into()),
            "identity.schemas[0].url",
        ),
        (
            schema_at("base64://not base64!".into()),
            "identity.schemas[0].url",
        ),
        (
            Box::new(|s| {
                let url = "base64://eyJwcm9wZXJ0aWVzIjp7InRyYWl0cyI6e319fQ".to_string(); // {"properties":{"traits":{}}}
                s.identity.schemas = vec![
                    SchemaSource {
                        id: "default".into(),
                        url: url.clone(),
                    },
                    SchemaSource {
                        id: "default".into(),
                        url,
                    },
                ];
            }),
            "identity.schemas[1].id",
        ),
    ];
    for (break_it, key) in cases {
        let mut settings = Settings {
            dsn: db.dsn.clone(),
            ..helpers::settings_for("http://127.0.0.1:1")
        };
        break_it(&mut settings);
        let err = identity_svc::build(
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
    let path = dir.path().join("identity.yaml");
    std::fs::write(
        &path,
        "urls:\n  self:\n    public: https://id.example.com\nidentity:\n  schemas:\n    - id: person\n      url: file:///etc/person.json\n",
    )
    .unwrap();
    // Environment variables are process-wide; this is the only test in the binary that sets them.
    unsafe { std::env::set_var("IDENTITY_IDENTITY__DEFAULT_SCHEMA_ID", "person") };
    let settings = Settings::load(Some(&path)).unwrap();
    unsafe { std::env::remove_var("IDENTITY_IDENTITY__DEFAULT_SCHEMA_ID") };
    assert_eq!(
        settings.urls.self_.public.as_deref(),
        Some("https://id.example.com")
    );
    assert_eq!(settings.identity.default_schema_id, "person");
    assert_eq!(
        settings.identity.schemas,
        [SchemaSource {
            id: "person".into(),
            url: "file:///etc/person.json".into()
        }]
    );
    assert_eq!(settings.serve.public.port, 4433);
    assert_eq!(settings.serve.admin.port, 4434);
    assert_eq!(settings.dsn, "sqlite://data/identity.sqlite");

    std::fs::write(
        &path,
        "identity:\n  schemas:\n    - id: person\n      uri: x\n",
    )
    .unwrap();
    let err = Settings::load(Some(&path)).unwrap_err().to_string();
    assert!(err.contains("uri"), "{err}");
}

#[test]
fn the_configuration_docs_list_every_setting() {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/configuration.md"
    ))
    .unwrap();
    let missing: Vec<_> = service_kit::settings::keys_of(&identity_svc::Settings::default())
        .into_iter()
        .filter(|key| !docs.contains(&format!("`{key}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/configuration.md does not list {missing:?}"
    );
}
