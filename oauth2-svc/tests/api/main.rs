//! oauth2-svc integration tests: the real service on port-0 listeners with a fresh database
//! (SQLite, or PostgreSQL when OLYMPUS_TEST_POSTGRES is set).

mod authorize;
mod authorize_sessions;
mod browser;
mod catalogue;
mod challenges;
mod cli;
mod client_assertion;
mod client_update;
mod clients;
mod consent_sessions;
mod decisions;
mod device;
mod handoff;
mod helpers;
mod id_token_hints;
mod janitor;
mod jwt_bearer;
mod keys;
mod keys_admin;
mod lifespans;
mod logout;
mod oidc;
mod pairwise;
mod prompt;
mod registration;
mod security_authorize;
mod security_redirects;
mod startup;
mod token;
