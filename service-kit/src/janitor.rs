//! What the services' janitors share: the `janitor.*` settings, the bounded-batch delete loop,
//! the per-table report and counter, and the background task tied to the application.
//!
//! Each service owns its own queries (which rows can never be used again); this module only
//! runs them: at most `batch_size` rows per short write transaction, until a batch comes back
//! short, so a janitor never holds the (SQLite: only) writer for long.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::QueryResult;
use prometheus::{IntCounterVec, Opts, Registry};
use serde::{Deserialize, Serialize};

use crate::db::{AnyConnection, Db, DbError};
use crate::settings::{SettingsError, duration};

/// `janitor.*`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JanitorSettings {
    /// How often the background janitor runs; 0 disables it (the `janitor` command still works).
    #[serde(with = "duration")]
    pub interval: Duration,
    /// Rows deleted per transaction.
    pub batch_size: u32,
    /// How long a row is kept after it expired, so that a late request still gets its precise
    /// answer (an expired challenge's 410, `expired_token`) and a request in flight never loses
    /// a row it is about to use.
    #[serde(with = "duration")]
    pub keep_expired: Duration,
}

impl Default for JanitorSettings {
    fn default() -> Self {
        JanitorSettings {
            interval: Duration::from_secs(3600),
            batch_size: 1000,
            keep_expired: Duration::from_secs(3600),
        }
    }
}

impl JanitorSettings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.batch_size == 0 || self.batch_size > 100_000 {
            return Err(SettingsError::invalid(
                "janitor.batch_size",
                "must be between 1 and 100000",
            ));
        }
        if !self.interval.is_zero() && self.interval < Duration::from_secs(1) {
            return Err(SettingsError::invalid(
                "janitor.interval",
                "must be 0 (off) or at least 1s",
            ));
        }
        if self.keep_expired < Duration::from_secs(60) {
            return Err(SettingsError::invalid(
                "janitor.keep_expired",
                "must be at least 1m",
            ));
        }
        Ok(())
    }

    /// Rows that expired before this instant are deleted.
    pub fn cutoff(&self, now: chrono::DateTime<chrono::Utc>) -> NaiveDateTime {
        let keep = chrono::Duration::from_std(self.keep_expired).unwrap_or(chrono::Duration::MAX);
        (now - keep).naive_utc()
    }
}

/// Rows deleted per table, in the order the tables were cleaned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub deleted: Vec<(&'static str, usize)>,
}

impl Report {
    pub fn get(&self, table: &str) -> usize {
        self.deleted
            .iter()
            .filter(|(t, _)| *t == table)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn total(&self) -> usize {
        self.deleted.iter().map(|(_, n)| n).sum()
    }
}

/// One line per table: `oauth2_codes 12`.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (table, n) in &self.deleted {
            writeln!(f, "{table} {n}")?;
        }
        Ok(())
    }
}

/// One batch of one table: deletes at most the given number of rows and returns how many.
pub type Step = Arc<dyn Fn(&mut AnyConnection, i64) -> QueryResult<usize> + Send + Sync>;

/// A [`Step`] that deletes rows expired before `cutoff`.
pub fn step(
    f: fn(&mut AnyConnection, i64, NaiveDateTime) -> QueryResult<usize>,
    cutoff: NaiveDateTime,
) -> Step {
    Arc::new(move |c, limit| f(c, limit, cutoff))
}

/// A janitor run over `db`: tables are cleaned in order (dependents first), each in batches.
pub struct Sweep<'a> {
    pub db: &'a Db,
    pub batch_size: u32,
    pub counter: Option<&'a IntCounterVec>,
}

impl Sweep<'_> {
    pub async fn run(&self, steps: Vec<(&'static str, Step)>) -> Result<Report, DbError> {
        let mut report = Report::default();
        for (table, step) in steps {
            let n = self.table(step).await?;
            if let Some(counter) = self.counter {
                counter.with_label_values(&[table]).inc_by(n as u64);
            }
            report.deleted.push((table, n));
        }
        Ok(report)
    }

    async fn table(&self, step: Step) -> Result<usize, DbError> {
        let limit = i64::from(self.batch_size);
        let mut total = 0;
        loop {
            let step = step.clone();
            let n = self
                .db
                .write(move |c| {
                    use diesel::Connection;
                    c.transaction(|c| step(c, limit)).map_err(DbError::from)
                })
                .await?;
            total += n;
            if (n as i64) < limit {
                return Ok(total);
            }
        }
    }
}

/// `olympus_janitor_deleted_rows_total{table}` on `registry`.
pub fn counter(registry: &Registry) -> anyhow::Result<IntCounterVec> {
    let counter = IntCounterVec::new(
        Opts::new("janitor_deleted_rows_total", "Rows the janitor deleted"),
        &["table"],
    )?;
    registry.register(Box::new(counter.clone()))?;
    Ok(counter)
}

/// Starts the background janitor of `app` (unless `interval` is 0): `sweep` runs every
/// `interval`, counting deleted rows on a counter registered on `registry`; it stops with `app`.
pub fn attach<F, Fut>(
    app: &mut crate::server::Application,
    interval: Duration,
    registry: &Registry,
    sweep: F,
) -> anyhow::Result<()>
where
    F: Fn(IntCounterVec) -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<Report>> + Send,
{
    let counter = counter(registry)?;
    if let Some(task) = spawn(interval, move || sweep(counter.clone())) {
        app.attach(task);
    }
    Ok(())
}

/// Runs `sweep` every `interval` (first after one interval) until the returned task is
/// aborted; `None` when the interval is 0. Failures are logged and retried next time.
pub fn spawn<F, Fut>(interval: Duration, sweep: F) -> Option<tokio::task::JoinHandle<()>>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<Report>> + Send,
{
    if interval.is_zero() {
        return None;
    }
    Some(tokio::spawn(async move {
        let start = tokio::time::Instant::now() + interval;
        let mut ticks = tokio::time::interval_at(start, interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match sweep().await {
                Ok(report) => tracing::info!(deleted = report.total(), "janitor run finished"),
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "janitor run failed"),
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_validated_by_key() {
        assert!(JanitorSettings::default().validate().is_ok());
        let zero_batch = JanitorSettings {
            batch_size: 0,
            ..Default::default()
        };
        let err = zero_batch.validate().unwrap_err().to_string();
        assert!(err.contains("janitor.batch_size"), "{err}");
        let off = JanitorSettings {
            interval: Duration::ZERO,
            ..Default::default()
        };
        assert!(off.validate().is_ok());
    }

    #[test]
    fn report_prints_a_line_per_table() {
        let report = Report {
            deleted: vec![("a", 1), ("b", 0)],
        };
        assert_eq!(report.to_string(), "a 1\nb 0\n");
        assert_eq!(report.total(), 1);
    }
}
