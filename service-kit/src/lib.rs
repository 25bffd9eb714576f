//! Plumbing that every Olympus service needs and none of them owns: layered settings, secrets that
//! never print, telemetry, the public/admin listener pair with graceful shutdown, the request edge
//! (request ids, metrics, limits, health) and persistence over SQLite and PostgreSQL.
//!
//! It holds no domain code and no wire types: services still talk to each other only over HTTP
//! with `shared-types`. Keeping this here means one implementation of the edge and the database
//! layer instead of three drifting copies.

pub mod cipher;
pub mod cli;
pub mod clock;
pub mod db;
pub mod http;
pub mod janitor;
pub mod net;
pub mod server;
pub mod settings;
pub mod telemetry;

/// What `/version` reports and the logs carry.
#[derive(Clone, Copy, Debug)]
pub struct BuildInfo {
    pub service: &'static str,
    pub version: &'static str,
}
