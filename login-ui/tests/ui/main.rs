//! login-ui integration tests: the real service on port-0 listeners with random secrets, its
//! upstreams either closed ports or a stub answering `/health/alive`.

mod device;
mod flow_restart;
mod handoff;
mod helpers;
mod home;
mod hooks;
mod i18n;
mod pages;
mod security;
mod startup;
mod upstreams;
