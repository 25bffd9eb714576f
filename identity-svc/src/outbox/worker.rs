//! The background worker of one queue (an outbox topic, or the courier's mail): claims due
//! messages in bounded batches, hands each to the queue's delivery function, and records the
//! outcome (delivered, retried later with backoff, or abandoned), counting it on the admin
//! listener's `/metrics`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::QueryResult;
use prometheus::{IntCounterVec, Opts, Registry};
use service_kit::clock::Clock;
use service_kit::db::{AnyConnection, Db, DbError, Id};
use service_kit::server::Application;
use tokio::sync::Notify;

use super::{MessageRow, OutboxSettings, store};

/// A table of messages a [`Worker`] drains. Every change after the claim is guarded by the
/// claim id, so a replica whose lease ran out records nothing over the new owner.
pub trait Queue: Clone + Send + Sync + 'static {
    type Item: Send + 'static;
    /// The `topic` label of the counters and logs.
    fn name(&self) -> &'static str;
    fn id(item: &Self::Item) -> Id;
    /// Delivery attempts made before this one.
    fn attempts(item: &Self::Item) -> i32;
    /// Leases up to `limit` due messages until `until` under `claim`; answers them.
    fn claim(
        &self,
        c: &mut AnyConnection,
        now: NaiveDateTime,
        until: NaiveDateTime,
        claim: Id,
        limit: i64,
    ) -> QueryResult<Vec<Self::Item>>;
    fn delivered(
        &self,
        c: &mut AnyConnection,
        id: Id,
        claim: Id,
        attempts: i32,
        now: NaiveDateTime,
    ) -> QueryResult<usize>;
    /// Due again at `retry_at`, or abandoned without one.
    #[allow(clippy::too_many_arguments)]
    fn failed(
        &self,
        c: &mut AnyConnection,
        id: Id,
        claim: Id,
        attempts: i32,
        error: &str,
        retry_at: Option<NaiveDateTime>,
        now: NaiveDateTime,
    ) -> QueryResult<usize>;
    /// Gives back what `claim` leased but did not attempt.
    fn release(&self, c: &mut AnyConnection, claim: Id) -> QueryResult<usize>;
}

/// The outbox messages of one topic.
#[derive(Clone, Copy, Debug)]
pub struct Topic(pub &'static str);

impl Queue for Topic {
    type Item = MessageRow;

    fn name(&self) -> &'static str {
        self.0
    }
    fn id(item: &MessageRow) -> Id {
        item.id
    }
    fn attempts(item: &MessageRow) -> i32 {
        item.attempts
    }
    fn claim(
        &self,
        c: &mut AnyConnection,
        now: NaiveDateTime,
        until: NaiveDateTime,
        claim: Id,
        limit: i64,
    ) -> QueryResult<Vec<MessageRow>> {
        store::claim(c, self.0, now, until, claim, limit)
    }
    fn delivered(
        &self,
        c: &mut AnyConnection,
        id: Id,
        claim: Id,
        attempts: i32,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        store::delivered(c, id, claim, attempts, now)
    }
    fn failed(
        &self,
        c: &mut AnyConnection,
        id: Id,
        claim: Id,
        attempts: i32,
        error: &str,
        retry_at: Option<NaiveDateTime>,
        now: NaiveDateTime,
    ) -> QueryResult<usize> {
        store::failed(c, id, claim, attempts, error, retry_at, now)
    }
    fn release(&self, c: &mut AnyConnection, claim: Id) -> QueryResult<usize> {
        store::release(c, claim)
    }
}

/// The longest one request of a delivery may take; a delivery makes one or a few, and the lease
/// must cover a few (checked by `OutboxSettings::validate`).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// `olympus_outbox_{deliveries,delivery_failures,abandoned}_total{topic}`, registered once per
/// registry and shared by the workers of every topic.
#[derive(Clone)]
pub struct Counters {
    delivered: IntCounterVec,
    failures: IntCounterVec,
    abandoned: IntCounterVec,
}

impl Counters {
    pub fn register(registry: &Registry) -> anyhow::Result<Counters> {
        let counter = |name: &str, help: &str| -> anyhow::Result<IntCounterVec> {
            let counter = IntCounterVec::new(Opts::new(name, help), &["topic"])?;
            registry.register(Box::new(counter.clone()))?;
            Ok(counter)
        };
        Ok(Counters {
            delivered: counter("outbox_deliveries_total", "Outbox messages delivered")?,
            failures: counter(
                "outbox_delivery_failures_total",
                "Outbox delivery attempts that failed (retried until outbox.max_attempts)",
            )?,
            abandoned: counter(
                "outbox_abandoned_total",
                "Outbox messages given up after outbox.max_attempts failed deliveries",
            )?,
        })
    }
}

/// Wakes a worker at once, for a message just written (the interval covers everything else).
#[derive(Clone, Default)]
pub struct Waker(Arc<Notify>);

impl Waker {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// What one run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub delivered: usize,
    /// Failed attempts, the abandoned ones included.
    pub failed: usize,
    pub abandoned: usize,
}

/// The worker of one queue. `deliver` sends one message and answers a short description of
/// what went wrong (stored as `last_error` and logged, so never a secret or a credentialed URL).
pub struct Worker<Q, D> {
    queue: Q,
    db: Db,
    settings: OutboxSettings,
    clock: Clock,
    counters: Counters,
    waker: Waker,
    deliver: D,
}

impl<Q, D, F> Worker<Q, D>
where
    Q: Queue,
    D: Fn(Q::Item) -> F + Send + Sync + 'static,
    F: Future<Output = Result<(), String>> + Send,
{
    pub fn new(
        queue: Q,
        db: Db,
        settings: OutboxSettings,
        clock: Clock,
        counters: Counters,
        waker: Waker,
        deliver: D,
    ) -> Self {
        Worker {
            queue,
            db,
            settings,
            clock,
            counters,
            waker,
            deliver,
        }
    }

    /// Delivers every message that is due now, batch after batch.
    pub async fn run_once(&self) -> Result<Report, DbError> {
        let mut report = Report::default();
        while self.batch(&mut report).await? == self.settings.batch_size as usize {}
        Ok(report)
    }

    /// Runs in the background until `app` stops: at start (messages left by an earlier run),
    /// every `outbox.interval`, and whenever woken.
    pub fn attach(self, app: &mut Application)
    where
        F: 'static,
    {
        let task = tokio::spawn(async move {
            loop {
                match self.run_once().await {
                    Ok(report) if report != Report::default() => {
                        tracing::debug!(topic = self.queue.name(), ?report, "outbox run finished")
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(topic = self.queue.name(), error = %format!("{e:#}"), "outbox run failed")
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(self.settings.interval) => {}
                    _ = self.waker.0.notified() => {}
                }
            }
        });
        app.attach(task);
    }

    /// Claims one batch and delivers it; answers how many messages were claimed.
    async fn batch(&self, report: &mut Report) -> Result<usize, DbError> {
        let now = self.clock.now().naive_utc();
        let lease =
            chrono::Duration::from_std(self.settings.lease).unwrap_or(chrono::Duration::MAX);
        let until = now + lease;
        let claim = Id::new_v7();
        let (queue, limit) = (self.queue.clone(), i64::from(self.settings.batch_size));
        let rows = self
            .db
            .write(move |c| {
                queue
                    .claim(c, now, until, claim, limit)
                    .map_err(DbError::from)
            })
            .await?;
        let claimed = rows.len();
        if claimed == 0 {
            return Ok(0);
        }
        let margin = chrono::Duration::from_std(2 * CALL_TIMEOUT).expect("a short duration");
        for (i, row) in rows.into_iter().enumerate() {
            // Stop while the lease still covers a whole delivery; the rest is given back below.
            if i > 0 && self.clock.now().naive_utc() + margin > until {
                break;
            }
            self.attempt(row, claim, report).await?;
        }
        let queue = self.queue.clone();
        self.db
            .write(move |c| queue.release(c, claim).map_err(DbError::from))
            .await?;
        Ok(claimed)
    }

    async fn attempt(&self, row: Q::Item, claim: Id, report: &mut Report) -> Result<(), DbError> {
        let (id, attempts) = (Q::id(&row), Q::attempts(&row) + 1);
        let outcome = (self.deliver)(row).await;
        let now = self.clock.now().naive_utc();
        let topic = self.queue.name();
        let queue = self.queue.clone();
        match outcome {
            Ok(()) => {
                self.db
                    .write(move |c| {
                        queue
                            .delivered(c, id, claim, attempts, now)
                            .map_err(DbError::from)
                    })
                    .await?;
                self.counters.delivered.with_label_values(&[topic]).inc();
                report.delivered += 1;
                tracing::info!(topic, message_id = %id.0, attempts, "outbox message delivered");
            }
            Err(error) => {
                self.counters.failures.with_label_values(&[topic]).inc();
                report.failed += 1;
                let failures = u32::try_from(attempts).unwrap_or(u32::MAX);
                let retry = (failures < self.settings.max_attempts)
                    .then(|| self.settings.retry_delay(failures));
                let retry_at = retry
                    .map(|d| now + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX));
                let recorded = error.clone();
                self.db
                    .write(move |c| {
                        queue
                            .failed(c, id, claim, attempts, &recorded, retry_at, now)
                            .map_err(DbError::from)
                    })
                    .await?;
                match retry {
                    Some(delay) => tracing::warn!(
                        topic, message_id = %id.0, attempts, %error,
                        retry_in = %service_kit::settings::duration::format(&delay),
                        "outbox delivery failed; will retry"
                    ),
                    None => {
                        self.counters.abandoned.with_label_values(&[topic]).inc();
                        report.abandoned += 1;
                        tracing::error!(
                            topic, message_id = %id.0, attempts, %error,
                            "outbox delivery failed for the last time; message abandoned"
                        );
                    }
                }
            }
        }
        Ok(())
    }
}
