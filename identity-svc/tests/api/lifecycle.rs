//! The identity lifecycle web hook: deleting an identity POSTs a signed
//! `{"event":"identity.deleted",…}` to `hooks.identity_lifecycle.url` through the outbox, so
//! that an outage of the receiver delays the notice but never loses it. A small TCP
//! [`Receiver`] stands in for the receiver and checks what a real one would.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use identity_svc::Settings;
use identity_svc::hooks::TOPIC;
use identity_svc::outbox::{MessageRow, store};
use service_kit::db::{DatabaseSettings, Db, DbError, Dsn};
use service_kit::server::{Listeners, StopHandle};
use service_kit::settings::{Secret, SecretList};
use sha2::Sha256;

use crate::helpers::{TestApp, fresh_database, settings_for, spawn, spawn_on};
use crate::receiver::{PATH, Receiver, Recorded, unused_port};

const HOUR: Duration = Duration::from_secs(3600);
const SECRET: &str = "the-hook-secret-shared-with-the-receiver";

/// The hook on, pointing at `url`, with a quick worker and retries an hour apart (tests move
/// the clock rather than wait).
fn hook(url: &str) -> impl FnOnce(&mut Settings) {
    let url = url.to_string();
    move |s: &mut Settings| {
        s.hooks.identity_lifecycle.url = Some(url);
        s.hooks.identity_lifecycle.secret = SecretList::new([Secret::new(SECRET)]);
        s.outbox.interval = Duration::from_millis(100);
        s.outbox.backoff = HOUR;
        s.outbox.max_backoff = HOUR;
    }
}

/// Checks one request as a receiver would (method, path, headers, a valid HMAC-SHA256 over
/// the exact body) and answers its JSON body.
fn verified(request: &Recorded) -> serde_json::Value {
    assert_eq!(request.line, format!("POST {PATH}"));
    assert_eq!(request.content_type.as_deref(), Some("application/json"));
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(&request.body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        request.signature.as_deref(),
        Some(format!("sha256={hex}").as_str()),
        "the signature is the HMAC of the body under the secret"
    );
    serde_json::from_slice(&request.body).expect("a JSON body")
}

/// The deletion notices the receiver got, verified, as `identity_id`s.
fn deleted_ids(receiver: &Receiver) -> Vec<String> {
    receiver
        .requests()
        .iter()
        .map(|r| {
            let body = verified(r);
            assert_eq!(body["event"], "identity.deleted", "{body}");
            body["identity_id"].as_str().unwrap().to_string()
        })
        .collect()
}

/// The hook's messages in the app's database.
struct Outbox(Db);

impl Outbox {
    async fn open(app: &TestApp) -> Outbox {
        let dsn = Dsn::parse(&app.db.dsn).unwrap();
        let db = tokio::task::spawn_blocking(move || {
            Db::connect(&dsn, &DatabaseSettings::default()).expect("the test opens the database")
        })
        .await
        .unwrap();
        Outbox(db)
    }

    async fn messages(&self) -> Vec<MessageRow> {
        self.0
            .read(|c| store::list(c, TOPIC).map_err(DbError::from))
            .await
            .unwrap()
    }

    /// The only message, once `done` holds for it.
    async fn wait_for(&self, what: &str, done: impl Fn(&MessageRow) -> bool) -> MessageRow {
        eventually(what, async || {
            let messages = self.messages().await;
            assert!(messages.len() <= 1, "{messages:?}");
            messages.into_iter().next().filter(|m| done(m))
        })
        .await
    }
}

/// Polls `check` until it answers (at most 10 s).
async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A counter of the hook's topic on the admin listener's `/metrics`.
async fn counter(app: &TestApp, name: &str) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    let topic = format!("topic=\"{TOPIC}\"");
    text.lines()
        .find(|l| l.starts_with(&format!("{name}{{")) && l.contains(&topic))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

async fn delete(app: &TestApp, id: &str) -> u16 {
    app.http
        .delete(format!("{}/admin/identities/{id}", app.admin))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn deleting_an_identity_posts_a_signed_notice_to_the_hook() {
    let receiver = Receiver::start().await;
    let app = spawn_on(fresh_database(), hook(&receiver.url)).await;
    let outbox = Outbox::open(&app).await;
    let kept = app.create_person("kept@example.com").await;
    let gone = app.create_person("gone@example.com").await;
    let id = gone["id"].as_str().unwrap();

    let before = app.clock.now();
    assert_eq!(delete(&app, id).await, 204);
    let message = outbox
        .wait_for("the delivery", |m| m.status == "delivered")
        .await;
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let body = verified(&requests[0]);
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["event", "identity_id", "occurred_at"]
    );
    assert_eq!(body["event"], "identity.deleted");
    assert_eq!(body["identity_id"], id);
    let occurred: chrono::DateTime<chrono::Utc> =
        body["occurred_at"].as_str().unwrap().parse().unwrap();
    assert!(
        (occurred - before).num_seconds().abs() < 5,
        "{occurred} is the deletion time"
    );
    assert_eq!(message.payload.0, body, "the stored payload is the body");
    assert_eq!(message.attempts, 1);
    assert_eq!(message.last_error, None);
    assert_eq!(message.locked_by, None);
    assert_eq!(
        requests[0].request_id,
        Some(message.id.0.to_string()),
        "the message id travels as the request id"
    );
    assert_eq!(counter(&app, "olympus_outbox_deliveries_total").await, 1);
    assert_eq!(
        counter(&app, "olympus_outbox_delivery_failures_total").await,
        0
    );

    // Nothing is queued for an identity that was not there.
    let unknown = uuid::Uuid::now_v7().to_string();
    assert_eq!(delete(&app, &unknown).await, 404);
    assert_eq!(outbox.messages().await.len(), 1);
    assert_eq!(
        app.get(&format!(
            "/admin/identities/{}",
            kept["id"].as_str().unwrap()
        ))
        .await
        .status(),
        200
    );
}

#[tokio::test]
async fn a_notice_waits_while_the_receiver_is_down_and_is_delivered_when_it_is_back() {
    let port = unused_port();
    let url = format!("http://127.0.0.1:{port}{PATH}");
    let app = spawn_on(fresh_database(), hook(&url)).await;
    let outbox = Outbox::open(&app).await;
    let person = app.create_person("ada@example.com").await;
    let id = person["id"].as_str().unwrap();

    assert_eq!(
        delete(&app, id).await,
        204,
        "deleting does not wait for the receiver"
    );
    let failed = outbox
        .wait_for("the first attempt", |m| m.attempts == 1)
        .await;
    assert_eq!(failed.status, "pending");
    assert_eq!(failed.locked_by, None, "the lease is given back");
    let error = failed.last_error.clone().unwrap();
    assert!(
        error.starts_with("POST hooks.identity_lifecycle.url: "),
        "{error}"
    );
    assert!(
        !error.contains(&port.to_string()),
        "no URL in the error: {error}"
    );
    let delay = failed.next_attempt_at - failed.updated_at;
    assert_eq!(delay, chrono::Duration::hours(1), "the first backoff");
    assert_eq!(
        counter(&app, "olympus_outbox_delivery_failures_total").await,
        1
    );

    // The receiver is back, but the message waits for its backoff…
    let receiver = Receiver::start_on(port).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(receiver.requests().is_empty(), "{:?}", receiver.requests());
    // …and goes out once it has passed.
    app.clock.advance(HOUR + Duration::from_secs(1));
    let message = outbox
        .wait_for("the retry", |m| m.status == "delivered")
        .await;
    assert_eq!(message.attempts, 2);
    assert_eq!(deleted_ids(&receiver), [id]);
    assert_eq!(counter(&app, "olympus_outbox_deliveries_total").await, 1);
}

#[tokio::test]
async fn a_notice_refused_max_attempts_times_is_abandoned() {
    let receiver = Receiver::start().await;
    // What login-ui answers when it cannot reach the service it passes the notice on to.
    receiver.status.store(502, Ordering::SeqCst);
    let app = spawn_on(fresh_database(), |s| {
        hook(&receiver.url)(s);
        s.outbox.max_attempts = 2;
    })
    .await;
    let outbox = Outbox::open(&app).await;
    let person = app.create_person("ada@example.com").await;
    assert_eq!(delete(&app, person["id"].as_str().unwrap()).await, 204);

    outbox
        .wait_for("the first attempt", |m| m.attempts == 1)
        .await;
    app.clock.advance(HOUR + Duration::from_secs(1));
    let message = outbox
        .wait_for("the last attempt", |m| m.status == "abandoned")
        .await;
    assert_eq!(message.attempts, 2);
    assert_eq!(
        message.last_error.as_deref(),
        Some("POST hooks.identity_lifecycle.url: the receiver answered 502 Bad Gateway")
    );
    assert_eq!(counter(&app, "olympus_outbox_abandoned_total").await, 1);
    assert_eq!(
        counter(&app, "olympus_outbox_delivery_failures_total").await,
        2
    );
    // Abandoned is final.
    app.clock.advance(10 * HOUR);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.requests().len(), 2, "one refused POST per attempt");
}

#[tokio::test]
async fn without_a_hook_url_deleting_queues_nothing() {
    let app = spawn().await;
    let outbox = Outbox::open(&app).await;
    let person = app.create_person("ada@example.com").await;
    assert_eq!(delete(&app, person["id"].as_str().unwrap()).await, 204);
    assert!(outbox.messages().await.is_empty());
    assert_eq!(
        counter(&app, "olympus_outbox_deliveries_total").await,
        0,
        "the counters exist either way"
    );
}

/// Another identity-svc on the same database (sharing the clock), as a second replica.
async fn spawn_replica(app: &TestApp, tune: impl FnOnce(&mut Settings)) -> (String, StopHandle) {
    let listeners = Listeners::ephemeral().expect("bind");
    let public = format!(
        "http://127.0.0.1:{}",
        listeners.public.local_addr().unwrap().port()
    );
    let admin = format!(
        "http://127.0.0.1:{}",
        listeners.admin.local_addr().unwrap().port()
    );
    let mut settings = Settings {
        dsn: app.db.dsn.clone(),
        ..settings_for(&public)
    };
    tune(&mut settings);
    settings.clock = app.clock.clone();
    let replica = identity_svc::build(settings, Some(listeners))
        .await
        .expect("the replica starts");
    let stop = replica.handle();
    tokio::spawn(replica.run_until_stopped());
    (admin, stop)
}

#[tokio::test]
async fn two_replicas_deliver_each_notice_once() {
    let receiver = Receiver::start().await;
    let app = spawn_on(fresh_database(), hook(&receiver.url)).await;
    let (replica_admin, _replica) = spawn_replica(&app, hook(&receiver.url)).await;
    let outbox = Outbox::open(&app).await;
    let mut ids = Vec::new();
    for n in 0..10 {
        let person = app.create_person(&format!("user{n}@example.com")).await;
        ids.push(person["id"].as_str().unwrap().to_string());
    }
    // Half through each replica, so both workers are busy.
    for (n, id) in ids.iter().enumerate() {
        let admin = if n % 2 == 0 {
            &app.admin
        } else {
            &replica_admin
        };
        let res = app
            .http
            .delete(format!("{admin}/admin/identities/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);
    }
    eventually("every delivery", async || {
        let messages = outbox.messages().await;
        (messages.len() == 10 && messages.iter().all(|m| m.status == "delivered")).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut delivered = deleted_ids(&receiver);
    delivered.sort();
    ids.sort();
    assert_eq!(delivered, ids, "each notice exactly once");
    assert!(outbox.messages().await.iter().all(|m| m.attempts == 1));
}

#[test]
fn the_hook_settings_are_validated() {
    let mut settings = settings_for("http://127.0.0.1:1");
    settings.hooks.identity_lifecycle.url = Some("http://ui:4456/hooks/identity-lifecycle".into());
    let err = settings.clone().validate().unwrap_err().to_string();
    assert!(
        err.contains("hooks.identity_lifecycle.secret"),
        "a URL needs a secret: {err}"
    );
    settings.hooks.identity_lifecycle.secret = SecretList::new([Secret::new(SECRET)]);
    let valid = settings.clone().validate().unwrap();
    assert_eq!(
        valid.lifecycle_hook.unwrap().url.as_str(),
        "http://ui:4456/hooks/identity-lifecycle",
        "the path is kept as it is"
    );
    settings.hooks.identity_lifecycle.url = Some("ftp://ui:4456/hook".into());
    let err = settings.validate().unwrap_err().to_string();
    assert!(err.contains("hooks.identity_lifecycle.url"), "{err}");
}
