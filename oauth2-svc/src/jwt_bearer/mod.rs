//! The JWT bearer grant (RFC 7523 §2.1) and Hydra's trust-relationship admin API
//! (`/admin/trust/grants/jwt-bearer/issuers`): an operator trusts an issuer's public key for one
//! subject (or any) and a set of scopes until a date; a client then trades an assertion signed
//! with that key for an access token of the assertion's subject (no refresh or ID token).

pub mod grant;
pub mod handlers;
pub mod store;
mod trust;

pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
