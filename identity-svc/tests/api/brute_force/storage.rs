//! Where the counts live: keyed hashes in the database, shared by replicas, cleaned by the
//! janitor; and the settings that configure them.

use std::time::Duration;

use service_kit::server::{Listeners, StopHandle};
use service_kit::settings::SecretList;

use super::{LOCKED, MINUTE, Service, admin_delete, app, fail, refusal, sign_in};
use crate::browser::PASSWORD;
use crate::helpers::{TestApp, random_secret, settings_for};

/// The counters hold only keyed hashes; the janitor deletes them once stale.
#[tokio::test]
async fn counters_store_no_identifier_and_the_janitor_deletes_stale_ones() {
    let app = app(100, |s| s.janitor.interval = Duration::ZERO).await;
    fail(&app, "ada@example.com", 3).await;
    let locked = sign_in(&app, "ada@example.com", PASSWORD).await;
    assert_eq!(refusal(&locked), LOCKED);
    let rows = throttle_rows(&app).await;
    assert_eq!(
        rows.len(),
        2,
        "one per identifier, one per address: {rows:?}"
    );
    for (key, failures) in &rows {
        assert_eq!(key.len(), 43, "a base64url HMAC-SHA256: {key}");
        assert!(!key.contains("ada") && !key.contains("127.0.0.1"));
        assert!(*failures >= 4);
    }
    assert_eq!(run_janitor(&app).await.get("login_throttle"), 0);
    // Past the window (15m), the lock (5m) and janitor.keep_expired (1h).
    app.clock.advance(76 * MINUTE);
    assert_eq!(run_janitor(&app).await.get("login_throttle"), 2);
    assert!(throttle_rows(&app).await.is_empty());
}

async fn throttle_rows(app: &TestApp) -> Vec<(String, i32)> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        key_hash: String,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        failures: i32,
    }
    let dsn = service_kit::db::Dsn::parse(&app.db.dsn).unwrap();
    let db = service_kit::db::Db::connect(&dsn, &Default::default()).unwrap();
    let rows: Vec<Row> = db
        .read(|c| {
            use diesel::RunQueryDsl;
            diesel::sql_query("SELECT key_hash, failures FROM login_throttle")
                .load(c)
                .map_err(service_kit::db::DbError::from)
        })
        .await
        .unwrap();
    rows.into_iter().map(|r| (r.key_hash, r.failures)).collect()
}

async fn run_janitor(app: &TestApp) -> service_kit::janitor::Report {
    let mut settings = settings_for(&app.public);
    settings.dsn = app.db.dsn.clone();
    settings.clock = app.clock.clone();
    identity_svc::janitor::run_once(settings)
        .await
        .expect("janitor runs")
}

/// Another identity-svc on the same database, with the same secrets and clock.
struct Replica {
    public: String,
    admin: String,
    _stop: StopHandle,
}

impl Service for Replica {
    fn public(&self) -> &str {
        &self.public
    }
    fn admin(&self) -> &str {
        &self.admin
    }
}

async fn spawn_replica(app: &TestApp, cookie: SecretList) -> Replica {
    let listeners = Listeners::ephemeral().expect("bind");
    let port = |l: &std::net::TcpListener| l.local_addr().unwrap().port();
    let public = format!("http://127.0.0.1:{}", port(&listeners.public));
    let admin = format!("http://127.0.0.1:{}", port(&listeners.admin));
    let mut settings = identity_svc::Settings {
        dsn: app.db.dsn.clone(),
        ..settings_for(&public)
    };
    settings.dev = true;
    settings.secrets.cookie = cookie;
    settings
        .selfservice
        .flows
        .login
        .brute_force
        .max_failures_per_identifier = 3;
    settings.clock = app.clock.clone();
    let replica = identity_svc::build(settings, Some(listeners))
        .await
        .expect("the replica starts");
    let stop = replica.handle();
    tokio::spawn(replica.run_until_stopped());
    Replica {
        public,
        admin,
        _stop: stop,
    }
}

#[tokio::test]
async fn replicas_on_one_database_share_the_counts() {
    let cookie = random_secret();
    let shared = cookie.clone();
    let first = app(100, move |s| s.secrets.cookie = shared).await;
    let second = spawn_replica(&first, cookie).await;
    first.create_person_with_password("ada@example.com").await;
    fail(&first, "ada@example.com", 2).await;
    fail(&second, "ada@example.com", 1).await;
    assert_eq!(
        refusal(&sign_in(&first, "ada@example.com", PASSWORD).await),
        LOCKED
    );
    assert_eq!(
        refusal(&sign_in(&second, "ada@example.com", PASSWORD).await),
        LOCKED
    );
    assert_eq!(
        admin_delete(&second, "/admin/login-lockout?identifier=ada@example.com").await,
        204
    );
    assert_eq!(sign_in(&first, "ada@example.com", PASSWORD).await.0, 200);
}

#[tokio::test]
async fn invalid_brute_force_settings_stop_the_service_naming_the_key() {
    type Breaker = fn(&mut identity_svc::Settings);
    let cases: [(Breaker, &str); 3] = [
        (
            |s| s.selfservice.flows.login.brute_force.trusted_proxies = vec!["proxy".into()],
            "selfservice.flows.login.brute_force.trusted_proxies[0]",
        ),
        (
            |s| s.selfservice.flows.login.brute_force.window = Duration::ZERO,
            "selfservice.flows.login.brute_force.window",
        ),
        (
            |s| s.selfservice.methods.password.config.min_password_length = 5,
            "selfservice.methods.password.config.min_password_length",
        ),
    ];
    for (break_it, key) in cases {
        let mut settings = settings_for("http://127.0.0.1:1");
        break_it(&mut settings);
        let err = settings.validate().unwrap_err().to_string();
        assert!(err.contains(&format!("`{key}`")), "{key}: {err}");
    }
}
