//! What handlers share: validated settings and the database.

use service_kit::db::Db;

use crate::client::SecretHasher;
use crate::config::Validated;

pub struct AppState {
    #[allow(dead_code)] // the OAuth2 endpoints read the issuer and TTLs from here
    pub settings: Validated,
    pub db: Db,
    pub secrets: SecretHasher,
}

impl AppState {
    pub fn new(settings: Validated, db: Db) -> Self {
        let secrets = SecretHasher::new(&settings.settings.secrets.system);
        AppState {
            settings,
            db,
            secrets,
        }
    }
}
