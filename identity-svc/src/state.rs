//! What handlers share: validated settings, the database and the identity schemas.

use service_kit::db::Db;

use crate::config::Validated;
use crate::schema::Registry;

pub struct AppState {
    pub settings: Validated,
    pub db: Db,
    pub schemas: Registry,
}

impl AppState {
    pub fn new(settings: Validated, db: Db, schemas: Registry) -> Self {
        AppState {
            settings,
            db,
            schemas,
        }
    }
}
