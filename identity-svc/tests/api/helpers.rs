use identity_svc::Settings;
use service_kit::db::testdb::TestDatabase;
use service_kit::server::{Listeners, StopHandle};
use service_kit::settings::{Secret, SecretList};

pub fn random_secret() -> SecretList {
    SecretList::new([Secret::new(
        uuid::Uuid::new_v4().simple().to_string() + &uuid::Uuid::new_v4().simple().to_string(),
    )])
}

/// A fresh database for one test; migrated from the template on PostgreSQL.
pub fn fresh_database() -> TestDatabase {
    let versions = identity_svc::db::MIGRATIONS.versions(service_kit::db::Backend::Postgres);
    TestDatabase::fresh("identity", &versions, |dsn| {
        let settings = Settings {
            dsn: dsn.to_string(),
            ..settings_for("http://127.0.0.1:1")
        };
        identity_svc::migrate_blocking(settings)?;
        Ok(())
    })
    .expect("test database")
}

/// Valid settings with random secrets; the caller sets `dsn`.
pub fn settings_for(public: &str) -> Settings {
    let mut settings = Settings::default();
    settings.secrets.cookie = random_secret();
    settings.secrets.cipher = random_secret();
    settings.urls.self_.public = Some(public.to_string());
    settings.database.migrate_on_start = Some(true);
    settings.selfservice.default_browser_return_url = Some(DEFAULT_RETURN.into());
    settings.selfservice.allowed_return_urls = vec!["https://app.test/".into()];
    settings.selfservice.flows.login.ui_url = Some(LOGIN_UI.into());
    settings
}

pub const DEFAULT_RETURN: &str = "https://app.test/home";
pub const LOGIN_UI: &str = "https://ui.test/login";

pub struct TestApp {
    pub public: String,
    pub admin: String,
    pub http: reqwest::Client,
    #[allow(dead_code)] // keeps the database alive as long as the app
    pub db: TestDatabase,
    #[allow(dead_code)]
    pub stop: StopHandle,
    /// The service's clock: tests move it instead of sleeping past a TTL.
    #[allow(dead_code)]
    pub clock: service_kit::clock::Clock,
}

pub async fn spawn() -> TestApp {
    spawn_on(fresh_database(), |_| {}).await
}

/// Starts the service on `db`, letting `tune` adjust the settings first.
pub async fn spawn_on(db: TestDatabase, tune: impl FnOnce(&mut Settings)) -> TestApp {
    let listeners = Listeners::ephemeral().expect("bind");
    let public_port = listeners.public.local_addr().unwrap().port();
    let admin_port = listeners.admin.local_addr().unwrap().port();
    let public = format!("http://127.0.0.1:{public_port}");
    let mut settings = Settings {
        dsn: db.dsn.clone(),
        ..settings_for(&public)
    };
    tune(&mut settings);
    let clock = settings.clock.clone();
    let app = identity_svc::build(settings, Some(listeners))
        .await
        .expect("service starts");
    let stop = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        public,
        admin: format!("http://127.0.0.1:{admin_port}"),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        db,
        stop,
        clock,
    }
}

impl TestApp {
    pub async fn create_identity(&self, body: serde_json::Value) -> reqwest::Response {
        self.http
            .post(format!("{}/admin/identities", self.admin))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Creates an identity with the default schema and returns its JSON.
    pub async fn create_person(&self, email: &str) -> serde_json::Value {
        let res = self
            .create_identity(
                serde_json::json!({"schema_id": "default", "traits": {"email": email}}),
            )
            .await;
        assert_eq!(res.status(), 201, "creating {email}");
        res.json().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.admin))
            .send()
            .await
            .unwrap()
    }
}

/// Asserts a Kratos error envelope with `code` and returns its `error` object.
pub async fn expect_error(res: reqwest::Response, code: u16) -> serde_json::Value {
    assert_eq!(res.status(), code);
    assert_eq!(res.headers()["content-type"], "application/json");
    let body: serde_json::Value = res.json().await.unwrap();
    let error = body["error"].clone();
    assert_eq!(error["code"], code, "{body}");
    assert!(
        error["status"].as_str().is_some_and(|s| !s.is_empty()),
        "{body}"
    );
    assert!(
        error["message"].as_str().is_some_and(|s| !s.is_empty()),
        "{body}"
    );
    error
}
