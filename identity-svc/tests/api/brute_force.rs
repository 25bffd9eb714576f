//! Brute-force protection of password sign-in (security.md IF-01, IF-02, IF-05): counts in the
//! database per identifier and per client address, a lockout answer that says nothing about
//! whether an account exists and costs no password hash, admin unlock, expiry on the test clock,
//! replicas sharing the counts, and `X-Forwarded-For` believed only from trusted proxies.
//!
//! Decision (IF-05 asks that the answer not reveal the lock state): a locked identifier gets a
//! clear message (4000900, "try again in N minutes") so that a person knows to wait or recover
//! the account; it is given for unknown identifiers exactly as for known ones, never tells
//! whether the password was right, and is a 400 flow like every other failed sign-in (Kratos'
//! SDKs read a flow only from a 400).

use std::time::Duration;

use serde_json::{Value, json};
use service_kit::server::{Listeners, StopHandle};
use service_kit::settings::SecretList;

use crate::browser::{Browser, PASSWORD, form_fields};
use crate::helpers::{TestApp, fresh_database, random_secret, settings_for, spawn_on};

const INVALID: i64 = 4000006;
const LOCKED: i64 = 4000900;
const MINUTE: Duration = Duration::from_secs(60);

/// At most 3 failures per identifier and `per_address` per address in 15 minutes, then 5
/// minutes' lockout.
async fn app(per_address: u32, tune: impl FnOnce(&mut identity_svc::Settings)) -> TestApp {
    spawn_on(fresh_database(), |s| {
        s.dev = true;
        let brute_force = &mut s.selfservice.flows.login.brute_force;
        brute_force.max_failures_per_identifier = 3;
        brute_force.max_failures_per_address = per_address;
        brute_force.lockout = 5 * MINUTE;
        tune(s);
    })
    .await
}

/// Where a test signs in: an app, or a replica of it.
trait Service {
    fn public(&self) -> &str;
    fn admin(&self) -> &str;
}

impl Service for TestApp {
    fn public(&self) -> &str {
        &self.public
    }
    fn admin(&self) -> &str {
        &self.admin
    }
}

/// One sign-in through a fresh JSON browser flow, with extra request headers; the status and
/// the body.
async fn sign_in_with(
    app: &impl Service,
    identifier: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let browser = Browser::new();
    let flow: Value = browser
        .http
        .get(format!("{}/self-service/login/browser", app.public()))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut fields: serde_json::Map<String, Value> = form_fields(&flow)
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    fields.insert("identifier".into(), identifier.into());
    fields.insert("password".into(), password.into());
    let mut request = browser
        .http
        .post(flow["ui"]["action"].as_str().unwrap())
        .header("accept", "application/json")
        .json(&fields);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let res = request.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

async fn sign_in(app: &impl Service, identifier: &str, password: &str) -> (u16, Value) {
    sign_in_with(app, identifier, password, &[]).await
}

/// The id of the form message of a refused sign-in (asserting it was refused).
fn refusal((status, body): &(u16, Value)) -> i64 {
    assert_eq!(*status, 400, "{body}");
    body["ui"]["messages"][0]["id"].as_i64().unwrap()
}

async fn fail(app: &impl Service, identifier: &str, times: usize) {
    for _ in 0..times {
        assert_eq!(
            refusal(&sign_in(app, identifier, "not the password").await),
            INVALID
        );
    }
}

/// Argon2 computations so far (`olympus_password_hashes_total` on the admin `/metrics`).
async fn hashes(app: &TestApp) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find(|l| l.starts_with("olympus_password_hashes_total{"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .expect("password_hashes_total is exported")
}

async fn admin_delete(app: &impl Service, path: &str) -> u16 {
    reqwest::Client::new()
        .delete(format!("{}{path}", app.admin()))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn if_05_an_identifier_is_locked_after_repeated_failures_even_for_the_right_password() {
    let app = app(100, |_| {}).await;
    app.create_person_with_password("ada@example.com").await;
    app.create_person_with_password("bob@example.com").await;
    fail(&app, "ada@example.com", 3).await;

    let before = hashes(&app).await;
    let locked = sign_in(&app, "ADA@example.com ", PASSWORD).await;
    assert_eq!(refusal(&locked), LOCKED, "the identifier is normalised");
    let message = &locked.1["ui"]["messages"][0];
    assert_eq!(message["type"], "error");
    assert_eq!(
        message["text"],
        "Too many failed sign-in attempts; try again in 5 minutes."
    );
    assert_eq!(message["context"]["retry_after_minutes"], 5);
    assert_eq!(
        hashes(&app).await,
        before,
        "a locked identifier costs no password hash"
    );

    // A browser posting the form is sent back to the flow, which shows the message.
    let browser = Browser::new();
    let flow = browser.start_login(&app, "").await;
    let typed = [("identifier", "ada@example.com"), ("password", PASSWORD)];
    let res = browser.submit(&flow, &typed, false).await;
    assert_eq!(res.status(), 303);
    let shown: Value = browser
        .fetch_flow(&app, flow["id"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["ui"]["messages"][0]["id"], LOCKED);
    assert_eq!(browser.whoami(&app).await.status(), 401);

    // Other people signing in from the same address are not affected.
    assert_eq!(sign_in(&app, "bob@example.com", PASSWORD).await.0, 200);
}

/// An attempt counts from its start, so a burst of concurrent guesses gets no more than the
/// limit through to the password check.
#[tokio::test]
async fn if_05_concurrent_guesses_get_no_more_than_the_limit_checked() {
    let app = std::sync::Arc::new(app(100, |_| {}).await);
    app.create_person_with_password("ada@example.com").await;
    let before = hashes(&app).await;
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..8 {
        let app = app.clone();
        guesses.spawn(async move {
            refusal(&sign_in(&*app, "ada@example.com", &format!("guess {i}")).await)
        });
    }
    let mut answers = guesses.join_all().await;
    answers.sort();
    assert_eq!(
        answers,
        [
            INVALID, INVALID, INVALID, LOCKED, LOCKED, LOCKED, LOCKED, LOCKED
        ]
    );
    assert_eq!(hashes(&app).await, before + 3);
}

/// IF-01/IF-02 with the lockout: unknown, inactive and known identifiers cost one hash each
/// while open, none once locked, and get the same answers.
#[tokio::test]
async fn if_01_if_02_lockout_answers_and_hash_costs_are_the_same_for_unknown_inactive_and_known_identifiers()
 {
    let app = app(100, |_| {}).await;
    app.create_person_with_password("ada@example.com").await;
    let res = app
        .create_identity(
            json!({"schema_id": "default", "traits": {"email": "off@example.com"},
            "state": "inactive", "credentials": {"password": {"config": {"password": PASSWORD}}}}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let identifiers = ["ada@example.com", "nobody@example.com", "off@example.com"];

    let mut open = Vec::new();
    for identifier in identifiers {
        for _ in 0..3 {
            let before = hashes(&app).await;
            let answer = sign_in(&app, identifier, "not the password").await;
            assert_eq!(refusal(&answer), INVALID, "{identifier}");
            assert_eq!(hashes(&app).await, before + 1, "{identifier}: one hash");
            open.push(answer.1["ui"]["messages"].clone());
        }
    }
    assert!(open.windows(2).all(|w| w[0] == w[1]), "{open:?}");

    let mut locked = Vec::new();
    for identifier in identifiers {
        let before = hashes(&app).await;
        let answer = sign_in(&app, identifier, PASSWORD).await;
        assert_eq!(refusal(&answer), LOCKED, "{identifier}");
        assert_eq!(hashes(&app).await, before, "{identifier}: no hash");
        let mut messages = answer.1["ui"]["messages"].clone();
        // When each lock began is the only difference, and it says nothing about the account.
        messages[0]["context"]
            .as_object_mut()
            .unwrap()
            .remove("locked_until");
        locked.push(messages);
    }
    assert!(locked.windows(2).all(|w| w[0] == w[1]), "{locked:?}");
}

/// IF-05: one password tried against many identifiers from one address.
#[tokio::test]
async fn if_05_one_address_is_limited_across_identifiers() {
    let app = app(5, |_| {}).await;
    app.create_person_with_password("ada@example.com").await;
    for i in 0..5 {
        let (status, body) = sign_in(&app, &format!("user{i}@example.com"), "Winter2026!").await;
        assert_eq!(refusal(&(status, body)), INVALID);
    }
    let before = hashes(&app).await;
    assert_eq!(
        refusal(&sign_in(&app, "ada@example.com", PASSWORD).await),
        LOCKED,
        "every identifier, from this address"
    );
    assert_eq!(hashes(&app).await, before);
    assert_eq!(
        admin_delete(&app, "/admin/login-lockout?address=127.0.0.1").await,
        204
    );
    assert_eq!(sign_in(&app, "ada@example.com", PASSWORD).await.0, 200);
}

#[tokio::test]
async fn if_05_a_lock_ends_after_the_lockout_and_a_window_after_its_length() {
    let app = app(100, |_| {}).await;
    app.create_person_with_password("ada@example.com").await;
    fail(&app, "ada@example.com", 3).await;
    assert_eq!(
        refusal(&sign_in(&app, "ada@example.com", PASSWORD).await),
        LOCKED
    );
    app.clock.advance(4 * MINUTE);
    let locked = sign_in(&app, "ada@example.com", PASSWORD).await;
    assert_eq!(refusal(&locked), LOCKED);
    assert_eq!(
        locked.1["ui"]["messages"][0]["text"],
        "Too many failed sign-in attempts; try again in 1 minute."
    );
    app.clock.advance(MINUTE + Duration::from_secs(1));
    assert_eq!(sign_in(&app, "ada@example.com", PASSWORD).await.0, 200);

    // Failures older than the window (15 minutes) no longer count: three more are answered
    // as failures, not as a lock.
    fail(&app, "ada@example.com", 3).await;
    app.clock.advance(15 * MINUTE + Duration::from_secs(1));
    fail(&app, "ada@example.com", 2).await;
    assert_eq!(sign_in(&app, "ada@example.com", PASSWORD).await.0, 200);
}

#[tokio::test]
async fn a_successful_sign_in_resets_the_identifiers_count() {
    let app = app(100, |_| {}).await;
    app.create_person_with_password("ada@example.com").await;
    for _ in 0..3 {
        fail(&app, "ada@example.com", 2).await;
        assert_eq!(sign_in(&app, "ada@example.com", PASSWORD).await.0, 200);
    }
    // Six failures in all, never three in a row: never locked.
    fail(&app, "ada@example.com", 3).await;
    assert_eq!(
        refusal(&sign_in(&app, "ada@example.com", PASSWORD).await),
        LOCKED
    );
}

#[tokio::test]
async fn admins_can_lift_a_lockout_by_identity_or_by_identifier() {
    let app = app(100, |_| {}).await;
    let ada = app.create_person_with_password("ada@example.com").await;
    let id = ada["id"].as_str().unwrap();
    fail(&app, "ada@example.com", 3).await;
    assert_eq!(
        refusal(&sign_in(&app, "ada@example.com", PASSWORD).await),
        LOCKED
    );
    let path = format!("/admin/identities/{id}/login-lockout");
    assert_eq!(admin_delete(&app, &path).await, 204);
    assert_eq!(sign_in(&app, "ada@example.com", PASSWORD).await.0, 200);
    assert_eq!(
        admin_delete(&app, &path).await,
        204,
        "nothing to lift is fine"
    );

    fail(&app, "ghost@example.com", 3).await;
    assert_eq!(
        refusal(&sign_in(&app, "ghost@example.com", "x").await),
        LOCKED
    );
    assert_eq!(
        admin_delete(&app, "/admin/login-lockout?identifier=%20Ghost@Example.com").await,
        204
    );
    assert_eq!(
        refusal(&sign_in(&app, "ghost@example.com", "x").await),
        INVALID
    );

    let unknown = format!("/admin/identities/{}/login-lockout", uuid::Uuid::now_v7());
    assert_eq!(admin_delete(&app, &unknown).await, 404);
    assert_eq!(
        admin_delete(&app, "/admin/identities/nope/login-lockout").await,
        404
    );
    for bad in ["", "?address=not-an-ip", "?identifier=", "?user=ada"] {
        let path = format!("/admin/login-lockout{bad}");
        assert_eq!(admin_delete(&app, &path).await, 400, "{bad}");
    }
    // Only the admin listener has these routes.
    let res = app
        .http
        .delete(format!("{}{path}", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

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
async fn if_05_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
    // No trusted proxy: every request counts against the peer, whatever it claims.
    let app = app(3, |s| {
        s.selfservice
            .flows
            .login
            .brute_force
            .max_failures_per_identifier = 100;
    })
    .await;
    for i in 0..3 {
        let spoofed = format!("198.51.100.{i}");
        let answer = sign_in_with(
            &app,
            "ada@example.com",
            "x",
            &[("x-forwarded-for", &spoofed)],
        )
        .await;
        assert_eq!(refusal(&answer), INVALID);
    }
    let answer = sign_in_with(
        &app,
        "bob@example.com",
        "x",
        &[("x-forwarded-for", "198.51.100.9")],
    )
    .await;
    assert_eq!(refusal(&answer), LOCKED);
}

#[tokio::test]
async fn if_05_a_trusted_proxy_names_the_client_in_forwarded_for() {
    let app = app(3, |s| {
        let brute_force = &mut s.selfservice.flows.login.brute_force;
        brute_force.max_failures_per_identifier = 100;
        brute_force.trusted_proxies = vec!["127.0.0.0/8".into()];
    })
    .await;
    let from = |client: &'static str| [("x-forwarded-for", client)];
    for _ in 0..3 {
        let answer = sign_in_with(&app, "ada@example.com", "x", &from("203.0.113.7")).await;
        assert_eq!(refusal(&answer), INVALID);
    }
    let answer = sign_in_with(&app, "bob@example.com", "x", &from("203.0.113.7")).await;
    assert_eq!(
        refusal(&answer),
        LOCKED,
        "the client at 203.0.113.7 is locked"
    );
    // A client cannot escape by prepending addresses: the proxy appends the one it saw.
    let answer = sign_in_with(
        &app,
        "bob@example.com",
        "x",
        &from("192.0.2.1, 203.0.113.7"),
    )
    .await;
    assert_eq!(refusal(&answer), LOCKED);
    let answer = sign_in_with(&app, "bob@example.com", "x", &from("203.0.113.8")).await;
    assert_eq!(refusal(&answer), INVALID, "another client is not");
    // Without the header, the proxy itself is the client.
    assert_eq!(
        refusal(&sign_in(&app, "bob@example.com", "x").await),
        INVALID
    );
}

/// IF-05: guesses for one account from many addresses still lock it.
#[tokio::test]
async fn if_05_an_identifier_is_locked_whatever_addresses_the_guesses_come_from() {
    let app = app(100, |s| {
        s.selfservice.flows.login.brute_force.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    app.create_person_with_password("ada@example.com").await;
    for client in ["192.0.2.1", "192.0.2.2", "2001:db8::1"] {
        let headers = [("x-forwarded-for", client)];
        let answer = sign_in_with(&app, "ada@example.com", "x", &headers).await;
        assert_eq!(refusal(&answer), INVALID, "{client}");
    }
    let headers = [("x-forwarded-for", "198.51.100.1")];
    let answer = sign_in_with(&app, "ada@example.com", PASSWORD, &headers).await;
    assert_eq!(refusal(&answer), LOCKED);
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

#[tokio::test]
async fn if_05_api_flows_are_locked_the_same_way() {
    let app = app(100, |_| {}).await;
    app.create_person_with_password("ada@example.com").await;
    let mut answers = Vec::new();
    for password in ["not it", "not it", "not it", PASSWORD] {
        let flow: Value = app
            .http
            .get(format!("{}/self-service/login/api", app.public))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let res = app
            .http
            .post(flow["ui"]["action"].as_str().unwrap())
            .json(&json!({"method": "password", "identifier": "ada@example.com", "password": password}))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        answers.push(refusal(&(status, res.json().await.unwrap())));
    }
    assert_eq!(answers, [INVALID, INVALID, INVALID, LOCKED]);
}
