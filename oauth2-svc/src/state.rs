//! What handlers share: validated settings and the database.

use service_kit::db::Db;

use crate::config::Validated;
use crate::keyed::KeyedHasher;

pub struct AppState {
    #[allow(dead_code)] // the OAuth2 endpoints read the issuer and TTLs from here
    pub settings: Validated,
    pub db: Db,
    pub keys: crate::jwk::KeyRing,
    pub hasher: KeyedHasher,
    /// Keyed under `secrets.cookie`: browser bindings and the remembered-login cookie.
    pub cookie_hasher: KeyedHasher,
    /// Whose `X-Forwarded-For` names the client address (client-authentication throttling).
    pub client_proxies: service_kit::net::TrustedProxies,
}

impl AppState {
    pub fn new(settings: Validated, db: Db, keys: crate::jwk::KeyRing) -> Self {
        let hasher = KeyedHasher::new(&settings.settings.secrets.system);
        let cookie_hasher = KeyedHasher::new(&settings.settings.secrets.cookie);
        let authentication = &settings.settings.oauth2.client_authentication;
        let client_proxies =
            service_kit::net::TrustedProxies::parse(&authentication.trusted_proxies, "")
                .unwrap_or_default();
        AppState {
            settings,
            db,
            keys,
            hasher,
            cookie_hasher,
            client_proxies,
        }
    }
}
