//! Embedded, per-backend migrations with the same versions, run under a lock row so that
//! replicas starting together migrate once; a schema newer than the binary stops the service.

use std::collections::BTreeSet;

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::sqlite::Sqlite;
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};

use super::AnyConnection;

/// A service's migrations, one directory per backend. `embed_migrations!` values are not
/// `Clone`, so each field returns a fresh copy of the service's `const`.
#[derive(Clone, Copy)]
pub struct Migrations {
    pub postgres: fn() -> EmbeddedMigrations,
    pub sqlite: fn() -> EmbeddedMigrations,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(
        "the database schema is newer than this binary: it has migration {0}, which this version does not know. \
         Run a newer version, or restore a matching backup"
    )]
    SchemaNewer(String),
    #[error(
        "the database schema is behind: {0} pending migration(s); run the `migrate` command or enable database.migrate_on_start"
    )]
    Pending(usize),
    #[error("migration failed: {0}")]
    Failed(String),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

impl Migrations {
    /// The versions this binary knows, in order (the same for both backends; a test checks it).
    pub fn versions(&self, backend: super::Backend) -> Vec<String> {
        let source = match backend {
            super::Backend::Postgres => versions_of::<Pg>(&(self.postgres)()),
            super::Backend::Sqlite => versions_of::<Sqlite>(&(self.sqlite)()),
        };
        source.unwrap_or_default()
    }

    /// Applies pending migrations under the lock row; returns how many ran.
    pub fn run(&self, conn: &mut AnyConnection) -> Result<usize, MigrateError> {
        match conn {
            AnyConnection::Postgresql(c) => {
                migrate_locked::<PgConnection>(c, (self.postgres)(), true)
            }
            AnyConnection::Sqlite(c) => {
                migrate_locked::<SqliteConnection>(c, (self.sqlite)(), true)
            }
        }
    }

    /// Checks that the schema is exactly what this binary expects, without changing it.
    pub fn check(&self, conn: &mut AnyConnection) -> Result<(), MigrateError> {
        match conn {
            AnyConnection::Postgresql(c) => {
                migrate_locked::<PgConnection>(c, (self.postgres)(), false)
            }
            AnyConnection::Sqlite(c) => {
                migrate_locked::<SqliteConnection>(c, (self.sqlite)(), false)
            }
        }
        .map(|_| ())
    }
}

fn versions_of<DB: diesel::backend::Backend>(source: &EmbeddedMigrations) -> Option<Vec<String>>
where
    EmbeddedMigrations: MigrationSource<DB>,
{
    let migrations = MigrationSource::<DB>::migrations(source).ok()?;
    Some(
        migrations
            .iter()
            .map(|m| m.name().version().to_string())
            .collect(),
    )
}

const LOCK_TABLE: &str = "CREATE TABLE IF NOT EXISTS olympus_migration_lock (id INTEGER PRIMARY KEY, locked_at TIMESTAMP); \
     INSERT INTO olympus_migration_lock (id) VALUES (1) ON CONFLICT (id) DO NOTHING;";

fn migrate_locked<C>(
    conn: &mut C,
    source: EmbeddedMigrations,
    apply: bool,
) -> Result<usize, MigrateError>
where
    C: Connection + MigrationHarness<C::Backend> + SimpleConnection,
    EmbeddedMigrations: MigrationSource<C::Backend>,
{
    conn.batch_execute(LOCK_TABLE)?;
    conn.transaction(|conn| {
        // Takes the row lock (PostgreSQL) or the write lock (SQLite) until commit: a second
        // migrator waits here and then finds nothing left to do.
        conn.batch_execute(
            "UPDATE olympus_migration_lock SET locked_at = CURRENT_TIMESTAMP WHERE id = 1",
        )?;
        let known: BTreeSet<String> = MigrationSource::<C::Backend>::migrations(&source)
            .map_err(|e| MigrateError::Failed(e.to_string()))?
            .iter()
            .map(|m| m.name().version().to_string())
            .collect();
        let applied = conn
            .applied_migrations()
            .map_err(|e| MigrateError::Failed(e.to_string()))?;
        if let Some(unknown) = applied
            .iter()
            .map(|v| v.to_string())
            .find(|v| !known.contains(v))
        {
            return Err(MigrateError::SchemaNewer(unknown));
        }
        let pending = known.len() - applied.len();
        if !apply {
            return if pending == 0 {
                Ok(0)
            } else {
                Err(MigrateError::Pending(pending))
            };
        }
        let ran = conn
            .run_pending_migrations(source)
            .map_err(|e| MigrateError::Failed(e.to_string()))?;
        Ok(ran.len())
    })
}

/// Opens the database for serving: applies pending migrations when `migrate_on_start` says so
/// (default: on for SQLite, off for PostgreSQL), otherwise checks the schema is current.
pub fn open_for_serving(
    dsn: &super::Dsn,
    settings: &super::DatabaseSettings,
    migrations: &Migrations,
) -> anyhow::Result<super::Db> {
    use anyhow::Context;
    let db = super::Db::connect(dsn, settings).context("cannot open the database (dsn)")?;
    let migrate = settings
        .migrate_on_start
        .unwrap_or(db.backend() == super::Backend::Sqlite);
    let mut conn = db.writer_blocking()?;
    if migrate {
        let ran = migrations.run(&mut conn)?;
        if ran > 0 {
            tracing::info!(ran, "applied database migrations");
        }
    } else {
        migrations.check(&mut conn)?;
    }
    drop(conn);
    Ok(db)
}

/// The `migrate` command: applies pending migrations and returns how many ran.
pub fn migrate_now(
    dsn: &super::Dsn,
    settings: &super::DatabaseSettings,
    migrations: &Migrations,
) -> anyhow::Result<usize> {
    use anyhow::Context;
    let db = super::Db::connect(dsn, settings).context("cannot open the database (dsn)")?;
    let ran = migrations.run(&mut *db.writer_blocking()?)?;
    Ok(ran)
}
