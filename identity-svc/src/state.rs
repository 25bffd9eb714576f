//! What handlers share: validated settings, the database, the identity schemas, the
//! password hasher and the outbox workers' wakers.

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
    /// Brute-force counters of password sign-in.
    pub throttle: crate::throttle::Throttle,
    /// The second factors: enabled methods and the ciphers of their secrets.
    pub mfa: crate::mfa::Mfa,
    /// Outgoing mail: templates, and the wake-up of the courier's worker.
    pub courier: crate::courier::Courier,
    /// Wakes the identity lifecycle hook's worker, when the hook is on.
    pub lifecycle_hook: Option<crate::outbox::Waker>,
    /// The oidc method's HTTP client and discovery cache.
    pub oidc: crate::flow::oidc::Upstreams,
}

impl AppState {
    pub fn new(settings: Validated, db: Db, schemas: Registry, passwords: PasswordHasher) -> Self {
        let csrf =
            crate::csrf::Csrf::new(&settings.settings.secrets.cookie, !settings.settings.dev);
        let sessions = crate::session::Sessions::new(&settings.settings);
        let throttle = crate::throttle::Throttle::new(&settings.settings);
        let courier = crate::courier::Courier::new(settings.courier.templates.clone());
        let mfa = crate::mfa::Mfa::new(&settings.settings);
        AppState {
            courier,
            settings,
            db,
            schemas,
            passwords,
            csrf,
            sessions,
            throttle,
            mfa,
            lifecycle_hook: None,
            oidc: crate::flow::oidc::Upstreams::new(),
        }
    }
}
