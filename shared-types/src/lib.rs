//! Wire types of the Olympus APIs, in the shapes of Ory Kratos v1 and Ory Hydra v2.
//!
//! serde only: no web framework, no database. Response types tolerate unknown fields so that
//! services of different versions keep understanding each other; request bodies reject them.

pub mod client;
pub mod error;
pub mod flow;
pub mod identity;
