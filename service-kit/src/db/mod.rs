//! Persistence: diesel 2 over SQLite (the embedded default) or PostgreSQL, chosen by the DSN's
//! scheme. SQLite runs in WAL mode with one writer connection beside a pool of read-only readers;
//! PostgreSQL uses one pool for both.

mod connection;
pub mod migrate;
pub mod testdb;
mod types;

use std::time::Duration;

use diesel::r2d2::{Pool, PoolError};
use serde::{Deserialize, Serialize};

pub use connection::{AnyConnection, MultiBackend};
pub use types::{DbJson, DbUuid, Id, Json};

use crate::settings::{SettingsError, duration};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A parsed `dsn`: `postgres://…` / `postgresql://…`, or `sqlite://path`, `sqlite:path`, `file:path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dsn {
    pub backend: Backend,
    /// What the driver connects with: the libpq URL, or the SQLite file path.
    pub target: String,
}

impl Dsn {
    pub fn parse(text: &str) -> Result<Dsn, SettingsError> {
        let invalid = |reason: &str| SettingsError::invalid("dsn", reason);
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(Dsn {
                backend: Backend::Postgres,
                target: text.to_string(),
            });
        }
        let path = ["sqlite://", "sqlite:", "file:"]
            .iter()
            .find_map(|p| text.strip_prefix(p))
            .ok_or_else(|| {
                invalid("must start with postgres://, postgresql://, sqlite:// or file:")
            })?;
        // Ory-style DSNs carry driver options after `?`; ours are fixed, so they are dropped.
        let path = path.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" || path == "memory" {
            return Err(invalid(
                "needs a file path: an in-memory SQLite database would not survive a restart",
            ));
        }
        Ok(Dsn {
            backend: Backend::Sqlite,
            target: path.to_string(),
        })
    }
}

/// `database.*`: pool sizing and migration policy.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// Connections in the pool (PostgreSQL) or read connections (SQLite; writes use one more).
    pub pool_size: u32,
    #[serde(with = "duration")]
    pub connect_timeout: Duration,
    /// Run pending migrations at start (under the lock row). Defaults to on for SQLite and off
    /// for PostgreSQL, where `<svc> migrate` is the usual deployment step.
    pub migrate_on_start: Option<bool>,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            pool_size: 8,
            connect_timeout: Duration::from_secs(5),
            migrate_on_start: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("no database connection available: {0}")]
    Pool(#[from] PoolError),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error("database task failed: {0}")]
    Task(String),
}

type AnyPool = Pool<connection::Manager>;

/// The database of one service. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    backend: Backend,
    readers: AnyPool,
    writer: AnyPool,
}

impl Db {
    /// Builds the pools and opens one connection of each, so a wrong DSN fails at start with the
    /// driver's own message.
    pub fn connect(dsn: &Dsn, settings: &DatabaseSettings) -> Result<Db, DbError> {
        let pool = |size: u32, read_only: bool| {
            Pool::builder()
                .max_size(size.max(1))
                .min_idle(Some(1))
                .connection_timeout(settings.connect_timeout)
                .build(connection::Manager::new(dsn.clone(), read_only))
        };
        Ok(match dsn.backend {
            Backend::Postgres => {
                let pool = pool(settings.pool_size, false)?;
                Db {
                    backend: dsn.backend,
                    readers: pool.clone(),
                    writer: pool,
                }
            }
            Backend::Sqlite => {
                if let Some(dir) = std::path::Path::new(&dsn.target)
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        DbError::Task(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
                // The writer goes first: it switches the file to WAL before readers open it.
                let writer = pool(1, false)?;
                Db {
                    backend: dsn.backend,
                    readers: pool(settings.pool_size, true)?,
                    writer,
                }
            }
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs `f` on a read connection, off the async workers.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        run(self.readers.clone(), f).await
    }

    /// Runs `f` on the write connection (SQLite: the only one; writes are serialised here).
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        run(self.writer.clone(), f).await
    }

    /// A connection for blocking callers (the `migrate` command, start-up).
    pub fn writer_blocking(
        &self,
    ) -> Result<diesel::r2d2::PooledConnection<connection::Manager>, DbError> {
        Ok(self.writer.get()?)
    }

    /// Whether the database answers; for `/health/ready`.
    pub async fn ping(&self) -> Result<(), DbError> {
        use diesel::connection::SimpleConnection;
        self.read(|c: &mut AnyConnection| c.batch_execute("SELECT 1").map_err(DbError::from))
            .await
    }
}

/// The current UTC time at microsecond precision, which both backends store exactly.
pub fn now() -> chrono::NaiveDateTime {
    use chrono::{SubsecRound, Utc};
    Utc::now().naive_utc().trunc_subsecs(6)
}

async fn run<T, E, F>(pool: AnyPool, f: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    let span = tracing::Span::current();
    let task = tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let mut conn = pool.get().map_err(DbError::from)?;
        f(&mut conn)
    });
    match task.await {
        Ok(result) => result,
        Err(join) => Err(DbError::Task(join.to_string()).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsn_schemes_choose_the_backend() {
        assert_eq!(
            Dsn::parse("postgres://u@h/db").unwrap().backend,
            Backend::Postgres
        );
        assert_eq!(
            Dsn::parse("postgresql://u@h/db").unwrap().backend,
            Backend::Postgres
        );
        let sqlite = Dsn::parse("sqlite://data/x.sqlite?_fk=true&mode=rwc").unwrap();
        assert_eq!(
            sqlite,
            Dsn {
                backend: Backend::Sqlite,
                target: "data/x.sqlite".into()
            }
        );
        assert_eq!(Dsn::parse("file:/tmp/a.db").unwrap().target, "/tmp/a.db");
        assert!(Dsn::parse("mysql://x").is_err());
        assert!(Dsn::parse("memory").is_err());
        assert!(Dsn::parse("sqlite://:memory:").is_err());
    }
}
