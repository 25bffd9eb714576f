//! oauth2-svc integration tests: the real service on port-0 listeners with a fresh database
//! (SQLite, or PostgreSQL when OLYMPUS_TEST_POSTGRES is set).

mod authorize;
mod browser;
mod clients;
mod helpers;
mod keys;
mod startup;
mod token;
