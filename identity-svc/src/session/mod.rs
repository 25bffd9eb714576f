//! Sessions: issued at login, stored only as keyed hashes of their tokens, carried by an
//! `HttpOnly` cookie (browsers) or the `X-Session-Token` header (apps).

pub mod handlers;
pub mod manage;
pub mod native;
pub mod store;

use std::time::Duration;

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::{Deserialize, Serialize};
use service_kit::settings::{SecretList, SettingsError, duration};
use sha2::Sha256;

/// `session.*` (Kratos' keys).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    /// How long a session lasts after login.
    #[serde(with = "duration")]
    pub lifespan: Duration,
    /// Sliding expiry (Kratos' key): once a session is within this much of its expiry, whoami
    /// extends it by `lifespan`, and admin `extend` works only within it. Unset: sessions do
    /// not slide, and admin `extend` always extends.
    #[serde(default, with = "optional_duration")]
    pub earliest_possible_extend: Option<Duration>,
    pub cookie: SessionCookieSettings,
    pub whoami: WhoamiSettings,
}

/// `session.whoami.*`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct WhoamiSettings {
    /// `highest_available`: whoami answers 403 to an aal1 session of an identity with a second
    /// factor.
    pub required_aal: crate::mfa::RequiredAal,
}

/// An optional `duration` (`null` or absent when unset).
mod optional_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};
    use service_kit::settings::duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped(#[serde(with = "duration")] Duration);
        Ok(Option::<Wrapped>::deserialize(d)?.map(|w| w.0))
    }

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => duration::serialize(d, s),
            None => s.serialize_none(),
        }
    }
}

/// `session.cookie.*`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SessionCookieSettings {
    pub name: String,
    /// Set it to the parent domain shared with login-ui in production; unset means host-only.
    pub domain: Option<String>,
    pub path: String,
    /// `Lax` (default) or `Strict`; `None` is refused (it would send the cookie cross-site).
    pub same_site: String,
    /// Keep the cookie until the session expires (true) or only for the browser session.
    pub persistent: bool,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            lifespan: Duration::from_secs(24 * 3600),
            earliest_possible_extend: None,
            whoami: WhoamiSettings::default(),
            cookie: SessionCookieSettings {
                name: "olympus_session".into(),
                domain: None,
                path: "/".into(),
                same_site: "Lax".into(),
                persistent: true,
            },
        }
    }
}

impl SessionSettings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.lifespan < Duration::from_secs(60) {
            return Err(SettingsError::invalid(
                "session.lifespan",
                "must be at least 1m",
            ));
        }
        if self
            .earliest_possible_extend
            .is_some_and(|window| window.is_zero() || window > self.lifespan)
        {
            return Err(SettingsError::invalid(
                "session.earliest_possible_extend",
                "must be more than 0s and at most session.lifespan",
            ));
        }
        if self.cookie.name.is_empty()
            || !self
                .cookie
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(SettingsError::invalid(
                "session.cookie.name",
                "must be letters, digits, '_' or '-'",
            ));
        }
        if !matches!(self.cookie.same_site.as_str(), "Lax" | "Strict") {
            return Err(SettingsError::invalid(
                "session.cookie.same_site",
                "must be Lax or Strict",
            ));
        }
        if !self.cookie.path.starts_with('/') {
            return Err(SettingsError::invalid(
                "session.cookie.path",
                "must start with /",
            ));
        }
        Ok(())
    }
}

pub const SESSION_TOKEN_PREFIX: &str = "oly_st_";
pub const LOGOUT_TOKEN_PREFIX: &str = "oly_lo_";

/// A new bearer token: a prefix naming its kind and 32 random alphanumerics (190 bits).
pub fn new_token(prefix: &str) -> String {
    let body: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    format!("{prefix}{body}")
}

/// Keyed hashing of session and logout tokens; the database never holds a usable token.
pub struct TokenHasher {
    keys: Vec<Vec<u8>>,
}

impl TokenHasher {
    pub fn new(secrets: &SecretList) -> Self {
        TokenHasher {
            keys: secrets
                .all()
                .iter()
                .map(|s| s.expose().as_bytes().to_vec())
                .collect(),
        }
    }

    /// The hash under every configured secret, current first: a lookup matches tokens stored
    /// before a rotation too.
    pub fn candidates(&self, token: &str) -> Vec<String> {
        self.keys
            .iter()
            .map(|key| Self::hash_with(key, token))
            .collect()
    }

    pub fn hash(&self, token: &str) -> String {
        Self::hash_with(&self.keys[0], token)
    }

    fn hash_with(key: &[u8], token: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
        mac.update(b"session-token:");
        mac.update(token.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

/// The session cookie, built from settings.
pub struct SessionCookies {
    settings: SessionCookieSettings,
    secure: bool,
}

impl SessionCookies {
    pub fn new(settings: &SessionSettings, secure: bool) -> Self {
        SessionCookies {
            settings: settings.cookie.clone(),
            secure,
        }
    }

    pub fn issue(
        &self,
        token: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Cookie<'static> {
        let mut cookie = self.base(token.to_string());
        if self.settings.persistent {
            cookie.set_max_age(CookieDuration::seconds(
                (expires_at - now).num_seconds().max(0),
            ));
        }
        cookie
    }

    /// Tells the browser to drop the cookie.
    pub fn clear(&self) -> Cookie<'static> {
        let mut cookie = self.base(String::new());
        cookie.set_max_age(CookieDuration::ZERO);
        cookie
    }

    fn base(&self, value: String) -> Cookie<'static> {
        let same_site = if self.settings.same_site == "Strict" {
            SameSite::Strict
        } else {
            SameSite::Lax
        };
        let mut cookie = Cookie::build(self.settings.name.clone(), value)
            .path(self.settings.path.clone())
            .http_only(true)
            .secure(self.secure)
            .same_site(same_site)
            .finish();
        if let Some(domain) = &self.settings.domain {
            cookie.set_domain(domain.clone());
        }
        cookie
    }

    /// Whether the request carries the session cookie (not only a header token).
    pub fn in_request(&self, req: &HttpRequest) -> bool {
        req.cookie(&self.settings.name).is_some()
    }

    /// The session token a request carries: the cookie, `Authorization: Bearer`, or
    /// `X-Session-Token` (Kratos' order).
    pub fn token_from(&self, req: &HttpRequest) -> Option<String> {
        let from_cookie = req
            .cookie(&self.settings.name)
            .map(|c| c.value().to_string());
        let bearer = || {
            let value = req.headers().get("authorization")?.to_str().ok()?;
            // The scheme name is case-insensitive (RFC 9110 §11.1).
            let (scheme, token) = value.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_string())
        };
        let header = || {
            req.headers()
                .get("x-session-token")?
                .to_str()
                .ok()
                .map(str::to_string)
        };
        from_cookie
            .or_else(bearer)
            .or_else(header)
            .filter(|t| t.starts_with(SESSION_TOKEN_PREFIX) && t.len() < 128)
    }
}

/// What the session feature keeps in `AppState`.
pub struct Sessions {
    pub hasher: TokenHasher,
    pub cookies: SessionCookies,
    pub lifespan: Duration,
    /// `session.earliest_possible_extend`: the sliding-expiry window, if on.
    pub earliest_possible_extend: Option<Duration>,
}

impl Sessions {
    pub fn new(settings: &crate::config::Settings) -> Self {
        Sessions {
            hasher: TokenHasher::new(&settings.secrets.cookie),
            cookies: SessionCookies::new(&settings.session, !settings.dev),
            lifespan: settings.session.lifespan,
            earliest_possible_extend: settings.session.earliest_possible_extend,
        }
    }

    /// A new aal1 session for `identity_id` after `method` succeeded, and its bearer token.
    pub fn start(
        &self,
        identity_id: service_kit::db::Id,
        method: &str,
        now: DateTime<Utc>,
    ) -> (store::SessionRow, String) {
        let token = new_token(SESSION_TOKEN_PREFIX);
        let at = now.naive_utc();
        let methods = vec![SessionAuthenticationMethod {
            method: method.into(),
            aal: "aal1".into(),
            completed_at: now,
            provider: None,
        }];
        let row = store::SessionRow {
            id: service_kit::db::Id::new_v7(),
            identity_id,
            token_hash: self.hasher.hash(&token),
            logout_token_hash: None,
            active: true,
            aal: "aal1".into(),
            authentication_methods: service_kit::db::Json(
                serde_json::to_value(methods).unwrap_or_default(),
            ),
            authenticated_at: at,
            issued_at: at,
            expires_at: (now + self.lifespan).naive_utc(),
            created_at: at,
            updated_at: at,
        };
        (row, token)
    }
}

use shared_types::flow::{Session, SessionAuthenticationMethod};
use shared_types::identity::Identity;

pub fn to_wire(row: &store::SessionRow, identity: Identity) -> Session {
    Session {
        id: row.id.0,
        active: row.active,
        expires_at: row.expires_at.and_utc(),
        authenticated_at: row.authenticated_at.and_utc(),
        issued_at: row.issued_at.and_utc(),
        authenticator_assurance_level: row.aal.clone(),
        authentication_methods: serde_json::from_value(row.authentication_methods.0.clone())
            .unwrap_or_default(),
        identity,
    }
}

/// The request's active session and its identity, if the identity is active too.
pub async fn current(
    state: &crate::state::AppState,
    req: &HttpRequest,
) -> Result<Option<(store::SessionRow, Identity)>, crate::error::ApiError> {
    let Some(token) = state.sessions.cookies.token_from(req) else {
        return Ok(None);
    };
    let hashes = state.sessions.hasher.candidates(&token);
    let now = state.settings.settings.clock.now().naive_utc();
    let found = state
        .db
        .read(move |c| {
            let Some(session) = store::find_active(c, &hashes, now)? else {
                return Ok(None);
            };
            let identity = crate::identity::store::find(c, session.identity_id, false)?;
            Ok::<_, crate::error::ApiError>(Some((session, identity)))
        })
        .await?;
    let Some((session, record)) = found else {
        return Ok(None);
    };
    let identity = public_identity(state, record)?;
    Ok(
        (identity.state == shared_types::identity::IdentityState::Active)
            .then_some((session, identity)),
    )
}

/// The identity as a session shows it: without admin metadata.
pub(crate) fn public_identity(
    state: &crate::state::AppState,
    record: crate::identity::store::IdentityRecord,
) -> Result<Identity, crate::error::ApiError> {
    let mut identity = crate::identity::to_wire(record, &state.settings.public_url, &[])?;
    identity.metadata_admin = None;
    Ok(identity)
}

/// The identity of a session just started.
pub async fn identity_for(
    state: &crate::state::AppState,
    id: service_kit::db::Id,
) -> Result<Identity, crate::error::ApiError> {
    let record = state
        .db
        .read(move |c| {
            crate::identity::store::find(c, id, false).map_err(crate::error::ApiError::from)
        })
        .await?;
    public_identity(state, record)
}
