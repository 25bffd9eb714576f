//! The password lookup the login flow relies on, on a real (migrated) database.

use serde_json::json;
use service_kit::db::testdb::TestDatabase;
use service_kit::db::{Backend, DatabaseSettings, Db, Dsn, migrate};
use shared_types::identity::{CreateIdentityBody, IdentityState};

use super::*;
use crate::config::{IdentitySettings, SchemaSource};
use crate::credential::PasswordConfig;
use crate::schema::Registry;

/// `email` (format email) and `username` (free text), both password identifiers.
const SCHEMA: &str = r#"{"properties": {"traits": {"type": "object", "properties": {
    "email": {"type": "string", "format": "email",
              "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}},
    "username": {"type": "string",
                 "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}}}}}}"#;

fn database() -> (TestDatabase, Db) {
    let versions = crate::db::MIGRATIONS.versions(Backend::Postgres);
    let settings = DatabaseSettings::default();
    let test_db = TestDatabase::fresh("identity", &versions, |dsn| {
        migrate::migrate_now(&Dsn::parse(dsn)?, &settings, &crate::db::MIGRATIONS)?;
        Ok(())
    })
    .unwrap();
    let dsn = Dsn::parse(&test_db.dsn).unwrap();
    // SQLite test databases start empty (the closure only builds PostgreSQL's template).
    migrate::migrate_now(&dsn, &settings, &crate::db::MIGRATIONS).unwrap();
    let db = Db::connect(&dsn, &settings).unwrap();
    (test_db, db)
}

fn registry() -> Registry {
    use base64::Engine;
    let url = base64::engine::general_purpose::STANDARD.encode(SCHEMA);
    Registry::load(&IdentitySettings {
        default_schema_id: "default".into(),
        schemas: vec![SchemaSource {
            id: "default".into(),
            url: format!("base64://{url}"),
        }],
        ..Default::default()
    })
    .unwrap()
}

fn insert_person(
    conn: &mut AnyConnection,
    traits: serde_json::Value,
    hash: Option<&str>,
    active: bool,
) -> Id {
    let body = CreateIdentityBody {
        schema_id: "default".into(),
        traits,
        state: Some(if active {
            IdentityState::Active
        } else {
            IdentityState::Inactive
        }),
        metadata_public: None,
        metadata_admin: None,
        external_id: None,
        credentials: None,
    };
    let mut record = super::super::new_identity(body, &registry()).unwrap();
    if let Some(hash) = hash {
        let config = PasswordConfig {
            hashed_password: hash.into(),
        }
        .to_json();
        record.credentials[0].0.config = Some(config);
    }
    insert(conn, record).unwrap().identity.id
}

#[test]
fn find_password_credential_matches_the_normalised_identifier() {
    let (_keep, db) = database();
    let mut conn = db.writer_blocking().unwrap();
    let conn: &mut AnyConnection = &mut conn;
    let ann = insert_person(
        conn,
        json!({"email": "Ann@Example.com", "username": "AnnL"}),
        Some("$argon2id$ann"),
        true,
    );
    let bob = insert_person(conn, json!({"email": "bob@example.com"}), None, false);

    for typed in ["ann@example.com", "  ANN@example.COM ", "AnnL", " AnnL"] {
        let found = find_password_credential(conn, typed).unwrap().expect(typed);
        assert_eq!(found.identity_id, ann, "{typed}");
        assert_eq!(found.hashed_password.as_deref(), Some("$argon2id$ann"));
        assert!(found.identity_active);
    }
    // A free-text identifier keeps its case.
    assert!(find_password_credential(conn, "annl").unwrap().is_none());
    assert!(
        find_password_credential(conn, "nobody@example.com")
            .unwrap()
            .is_none()
    );

    let found = find_password_credential(conn, "Bob@Example.com")
        .unwrap()
        .unwrap();
    assert_eq!(found.identity_id, bob);
    assert_eq!(
        found.hashed_password, None,
        "an identifier without a password"
    );
    assert!(!found.identity_active);
}
