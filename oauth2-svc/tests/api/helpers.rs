use oauth2_svc::Settings;
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
    let versions = oauth2_svc::db::MIGRATIONS.versions(service_kit::db::Backend::Postgres);
    TestDatabase::fresh("oauth2", &versions, |dsn| {
        let mut settings = Settings {
            dsn: dsn.to_string(),
            ..settings_for("http://127.0.0.1:1")
        };
        settings.database.migrate_on_start = Some(true);
        oauth2_svc::migrate_blocking(settings).map(|_| ())
    })
    .expect("test database")
}

pub const LOGIN_UI: &str = "https://ui.test/login";
pub const CONSENT_UI: &str = "https://ui.test/consent";
pub const ERROR_UI: &str = "https://ui.test/error";

/// Valid settings with random secrets; the caller sets `dsn`.
pub fn settings_for(issuer: &str) -> Settings {
    let mut settings = Settings::default();
    settings.secrets.system = random_secret();
    settings.secrets.cookie = random_secret();
    settings.urls.self_.issuer = Some(issuer.to_string());
    settings.urls.login = Some(LOGIN_UI.into());
    settings.urls.consent = Some(CONSENT_UI.into());
    settings.urls.error = Some(ERROR_UI.into());
    settings.database.migrate_on_start = Some(true);
    settings
}

pub struct TestApp {
    pub public: String,
    pub admin: String,
    pub http: reqwest::Client,
    pub db: TestDatabase,
    pub stop: StopHandle,
    /// The service's clock: tests move it instead of sleeping past a TTL.
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
    let issuer = format!("http://127.0.0.1:{public_port}");
    let mut settings = Settings {
        dsn: db.dsn.clone(),
        ..settings_for(&issuer)
    };
    tune(&mut settings);
    let clock = settings.clock.clone();
    let app = oauth2_svc::build(settings, Some(listeners))
        .await
        .expect("service starts");
    let stop = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        public: format!("http://127.0.0.1:{public_port}"),
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
    pub async fn create_client(&self, body: serde_json::Value) -> reqwest::Response {
        self.http
            .post(format!("{}/admin/clients", self.admin))
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

/// Walks the whole authorization flow for `client_id` in a fresh cookie-keeping browser (the
/// test plays the UI: login accepted for `user-1`, consent granting the requested scope with an
/// `email` claim) and returns the code. `params` override the authorization request
/// (`("key", None)` removes one); the app must run in dev mode (`browser::flow_app`).
pub async fn obtain_code(
    app: &TestApp,
    client_id: &str,
    params: &[(&str, Option<&str>)],
) -> String {
    let browser = crate::browser::browser();
    let authorize = app.authorize_url(client_id, params);
    let done = crate::browser::sign_in(app, &browser, &authorize, "user-1").await;
    crate::browser::query_param(&done, "code")
        .unwrap_or_else(|| panic!("the flow ended without a code: {done}"))
}
