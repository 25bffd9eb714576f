//! The registration flow, browser (form and JSON) and API (security.md IF-03, IF-11, IF-13,
//! IF-14, IF-19, IF-21, BI-01, BI-03, BI-06).

mod bodies;
mod form;
mod outcome;
mod security;
