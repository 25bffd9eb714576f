//! The admin side of the handoff: a login and consent UI reads the request behind a challenge
//! and answers it once (Hydra's admin login/consent API, with Olympus' challenge table).

pub mod handlers;
