//! What handlers share: validated settings, the database, the identity schemas and the
//! password hasher.

use service_kit::db::Db;

use crate::config::Validated;
use crate::credential::PasswordHasher;
use crate::schema::Registry;

pub struct AppState {
    pub settings: Validated,
    pub db: Db,
    pub schemas: Registry,
    pub passwords: PasswordHasher,
    pub csrf: crate::csrf::Csrf,
    pub sessions: crate::session::Sessions,
}

impl AppState {
    pub fn new(settings: Validated, db: Db, schemas: Registry, passwords: PasswordHasher) -> Self {
        let csrf =
            crate::csrf::Csrf::new(&settings.settings.secrets.cookie, !settings.settings.dev);
        let sessions = crate::session::Sessions::new(&settings.settings);
        AppState {
            settings,
            db,
            schemas,
            passwords,
            csrf,
            sessions,
        }
    }
}
