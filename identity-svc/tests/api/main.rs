//! identity-svc integration tests: the real service on port-0 listeners with a fresh database
//! (SQLite, or PostgreSQL when OLYMPUS_TEST_POSTGRES is set).

mod browser;
mod errors;
mod helpers;
mod identities;
mod janitor;
mod lifecycle;
mod login;
mod passwords;
mod receiver;
mod schemas;
mod sessions;
mod startup;
