//! The connection enum and an r2d2 manager that establishes the backend the DSN names, so
//! connection errors keep the driver's message (the derived `establish` discards them).

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ManageConnection, R2D2Connection};
use diesel::{Connection, ConnectionError, PgConnection, SqliteConnection};

use super::{Backend, Dsn};

#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

pub struct Manager {
    dsn: Dsn,
    read_only: bool,
}

impl Manager {
    pub fn new(dsn: Dsn, read_only: bool) -> Self {
        Manager { dsn, read_only }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Connect(#[from] ConnectionError),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

/// WAL lets readers run beside the one writer; `busy_timeout` makes a second process wait
/// instead of failing; readers are `query_only` so a write through them fails loudly.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;";

impl ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = ConnectError;

    fn connect(&self) -> Result<AnyConnection, ConnectError> {
        match self.dsn.backend {
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.dsn.target)?;
                conn.batch_execute("SET TIME ZONE 'UTC'")?;
                Ok(AnyConnection::Postgresql(conn))
            }
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.dsn.target)?;
                conn.batch_execute(SQLITE_PRAGMAS)?;
                if self.read_only {
                    conn.batch_execute("PRAGMA query_only = ON;")?;
                }
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), ConnectError> {
        conn.ping().map_err(ConnectError::from)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        conn.is_broken()
    }
}
