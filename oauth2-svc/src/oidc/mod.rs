//! OpenID Connect documents served on the public listener.

pub mod discovery;
