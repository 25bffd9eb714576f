//! Fresh databases for tests: a temporary SQLite file, or, when `OLYMPUS_TEST_POSTGRES` names a
//! maintenance database, a new PostgreSQL database cloned from a migrated template.
//!
//! The template is made once per service and migration set, under an advisory lock, so parallel
//! test processes agree on it; clones are cheap (`CREATE DATABASE … TEMPLATE`).

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl};

pub const POSTGRES_ENV: &str = "OLYMPUS_TEST_POSTGRES";

/// A database that lives as long as this value (PostgreSQL databases are dropped with it).
pub struct TestDatabase {
    pub dsn: String,
    _dir: Option<tempfile::TempDir>,
    cleanup: Option<(String, String)>,
}

impl TestDatabase {
    /// `service` names the template; `versions` (the migration versions) make it unique per
    /// schema, so a changed migration set gets a new template; `migrate` migrates a DSN.
    pub fn fresh(
        service: &str,
        versions: &[String],
        migrate: impl FnOnce(&str) -> anyhow::Result<()>,
    ) -> anyhow::Result<TestDatabase> {
        match std::env::var(POSTGRES_ENV) {
            Ok(url) if !url.is_empty() => fresh_postgres(&url, service, versions, migrate),
            _ => {
                let dir = tempfile::tempdir()?;
                let dsn = format!("sqlite://{}/{service}.sqlite", dir.path().display());
                Ok(TestDatabase {
                    dsn,
                    _dir: Some(dir),
                    cleanup: None,
                })
            }
        }
    }

    /// A fresh, empty database that the service under test migrates itself at start.
    pub fn empty(service: &str) -> anyhow::Result<TestDatabase> {
        match std::env::var(POSTGRES_ENV) {
            Ok(url) if !url.is_empty() => {
                let mut conn = PgConnection::establish(&url)?;
                let name = format!(
                    "olympus_test_{}_{}",
                    service.replace('-', "_"),
                    uuid::Uuid::new_v4().simple()
                );
                conn.batch_execute(&format!("CREATE DATABASE \"{name}\""))?;
                Ok(TestDatabase {
                    dsn: database_url(&url, &name)?,
                    _dir: None,
                    cleanup: Some((url, name)),
                })
            }
            _ => Self::fresh(service, &[], |_| Ok(())),
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.cleanup.is_some()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((maintenance, name)) = self.cleanup.take()
            && let Ok(mut conn) = PgConnection::establish(&maintenance)
        {
            let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
        }
    }
}

fn fingerprint(versions: &[String]) -> String {
    // FNV-1a: stable across runs and platforms, unlike std's hasher.
    let mut hash: u64 = 0xcbf29ce484222325;
    for byte in versions.join(",").bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    format!("{hash:016x}")
}

/// The URL of database `name` on the server `maintenance` points at.
pub fn database_url(maintenance: &str, name: &str) -> anyhow::Result<String> {
    let mut url = url::Url::parse(maintenance)?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn template_ready(conn: &mut PgConnection, name: &str) -> anyhow::Result<bool> {
    let rows: Vec<Count> = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_database WHERE datname = $1 AND datistemplate",
    )
    .bind::<diesel::sql_types::Text, _>(name)
    .load(conn)?;
    Ok(rows.first().is_some_and(|c| c.n > 0))
}

fn fresh_postgres(
    maintenance: &str,
    service: &str,
    versions: &[String],
    migrate: impl FnOnce(&str) -> anyhow::Result<()>,
) -> anyhow::Result<TestDatabase> {
    let mut conn = PgConnection::establish(maintenance)?;
    let template = format!(
        "olympus_tpl_{}_{}",
        service.replace('-', "_"),
        fingerprint(versions)
    );
    conn.batch_execute(&format!("SELECT pg_advisory_lock(hashtext('{template}'))"))?;
    let made = (|| -> anyhow::Result<()> {
        if template_ready(&mut conn, &template)? {
            return Ok(());
        }
        conn.batch_execute(&format!(
            "DROP DATABASE IF EXISTS \"{template}\" WITH (FORCE)"
        ))?;
        conn.batch_execute(&format!("CREATE DATABASE \"{template}\""))?;
        migrate(&database_url(maintenance, &template)?)?;
        conn.batch_execute(&format!("ALTER DATABASE \"{template}\" IS_TEMPLATE true"))?;
        Ok(())
    })();
    conn.batch_execute(&format!(
        "SELECT pg_advisory_unlock(hashtext('{template}'))"
    ))?;
    made?;

    let name = format!("olympus_test_{}", uuid::Uuid::new_v4().simple());
    let mut attempt = 0;
    loop {
        match conn.batch_execute(&format!(
            "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
        )) {
            Ok(()) => break,
            // Another clone of the same template in flight; it takes milliseconds.
            Err(e)
                if attempt < 50 && e.to_string().contains("is being accessed by other users") =>
            {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(TestDatabase {
        dsn: database_url(maintenance, &name)?,
        _dir: None,
        cleanup: Some((maintenance.to_string(), name)),
    })
}
