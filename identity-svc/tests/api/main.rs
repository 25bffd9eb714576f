//! identity-svc integration tests: the real service on port-0 listeners with a fresh database
//! (SQLite, or PostgreSQL when OLYMPUS_TEST_POSTGRES is set).

mod api_flows;
mod browser;
mod brute_force;
mod cli;
mod courier;
mod errors;
mod helpers;
mod identities;
mod identities_update;
mod import;
mod janitor;
mod lifecycle;
mod login;
mod passwords;
mod receiver;
mod recovery;
mod registration;
mod schemas;
mod sessions;
mod sessions_admin;
mod settings;
mod smtp_sink;
mod startup;
mod verification;
