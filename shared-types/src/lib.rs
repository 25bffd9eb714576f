//! Wire types of the Olympus APIs, in the shapes of Ory Kratos v1 and Ory Hydra v2.
//!
//! serde only: no web framework, no database. Response types tolerate unknown fields so that
//! services of different versions keep understanding each other; request bodies reject them.

pub mod client;
pub mod code_flow;
pub mod consent;
pub mod courier;
pub mod error;
pub mod flow;
pub mod hooks;
pub mod identity;
pub mod session;

/// Ory sends `null` for unset lists and strings (Go's nil slices); read it as the empty default.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + serde::Deserialize<'de>,
{
    Ok(<Option<T> as serde::Deserialize>::deserialize(d)?.unwrap_or_default())
}
