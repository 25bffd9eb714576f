//! identity-svc's database: schema and embedded migrations.

pub mod schema;
pub mod schema_code_limits;
pub mod schema_errors;
pub mod schema_exchange;
pub mod schema_mfa;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use service_kit::db::migrate::Migrations;

const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

pub const MIGRATIONS: Migrations = Migrations {
    postgres: || POSTGRES,
    sqlite: || SQLITE,
};

#[cfg(test)]
mod tests {
    use service_kit::db::Backend;

    #[test]
    fn both_backends_have_the_same_migration_versions() {
        let pg = super::MIGRATIONS.versions(Backend::Postgres);
        assert!(!pg.is_empty());
        assert_eq!(pg, super::MIGRATIONS.versions(Backend::Sqlite));
    }
}
