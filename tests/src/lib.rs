//! Cross-service end-to-end support: the process harness that starts the real service binaries.
//! The local launcher reuses it.

pub mod bench;
pub mod browser;
pub mod compat;
pub mod harness;
