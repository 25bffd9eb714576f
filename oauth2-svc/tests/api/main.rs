//! oauth2-svc integration tests: the real service on port-0 listeners with a fresh database
//! (SQLite, or PostgreSQL when OLYMPUS_TEST_POSTGRES is set).

mod authorize;
mod authorize_sessions;
mod browser;
mod cli;
mod client_assertion;
mod client_update;
mod clients;
mod consent_sessions;
mod device;
mod handoff;
mod helpers;
mod janitor;
mod jwt_bearer;
mod keys;
mod keys_admin;
mod logout;
mod pairwise;
mod prompt;
mod startup;
mod token;
