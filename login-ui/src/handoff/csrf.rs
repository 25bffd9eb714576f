//! login-ui's own CSRF protection for its consent, logout and device forms: a random cookie
//! (scoped to the form's path), and a form token that is an HMAC of the purpose, that cookie and
//! the challenge under `secrets.cookie`, so a token is good only for this browser, this form and
//! this challenge. The same HMAC stamps the time a re-authentication was asked for
//! ([`Purpose::Reauth`]), so that a return URL cannot claim a fresher sign-in than happened.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use service_kit::settings::SecretList;
use sha2::Sha256;

pub const COOKIE: &str = "olympus_ui_csrf";

/// Which form a token protects.
#[derive(Clone, Copy, Debug)]
pub enum Purpose {
    Consent,
    Logout,
    Device,
    /// Revoking one of the identity's other sessions on the settings page.
    Sessions,
    /// Not a form: the time login-ui sent a browser to sign in again for a login challenge.
    Reauth,
}

impl Purpose {
    fn tag(self) -> &'static str {
        match self {
            Purpose::Consent => "consent",
            Purpose::Logout => "logout",
            Purpose::Device => "device",
            Purpose::Sessions => "sessions",
            Purpose::Reauth => "reauth",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Purpose::Consent => "/consent",
            Purpose::Logout => "/logout",
            Purpose::Device => "/device",
            Purpose::Sessions => "/settings",
            Purpose::Reauth => "/login",
        }
    }
}

fn mac(key: &[u8], purpose: Purpose, cookie: &str, challenge: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in [purpose.tag(), cookie, challenge] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
    mac
}

/// The browser's CSRF cookie value, or a new one with the cookie to set.
pub fn cookie_for(
    req: &HttpRequest,
    purpose: Purpose,
    secure: bool,
) -> (String, Option<Cookie<'static>>) {
    if let Some(existing) = req.cookie(COOKIE).filter(|c| c.value().len() == 43) {
        return (existing.value().to_string(), None);
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let value = URL_SAFE_NO_PAD.encode(bytes);
    let cookie = Cookie::build(COOKIE, value.clone())
        .path(purpose.path())
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .finish();
    (value, Some(cookie))
}

pub fn token(secrets: &SecretList, purpose: Purpose, cookie: &str, challenge: &str) -> String {
    URL_SAFE_NO_PAD.encode(
        mac(
            secrets.current().expose().as_bytes(),
            purpose,
            cookie,
            challenge,
        )
        .finalize()
        .into_bytes(),
    )
}

/// Whether `token` was made for this browser's cookie and this challenge (any configured secret).
pub fn verify(
    secrets: &SecretList,
    req: &HttpRequest,
    purpose: Purpose,
    challenge: &str,
    token: &str,
) -> bool {
    let Some(cookie) = req.cookie(COOKIE) else {
        return false;
    };
    verify_value(secrets, purpose, cookie.value(), challenge, token)
}

/// Whether `token` was made for `value` (a cookie, or a stamped time) and this challenge.
pub fn verify_value(
    secrets: &SecretList,
    purpose: Purpose,
    value: &str,
    challenge: &str,
    token: &str,
) -> bool {
    let Ok(given) = URL_SAFE_NO_PAD.decode(token) else {
        return false;
    };
    secrets.all().iter().any(|s| {
        mac(s.expose().as_bytes(), purpose, value, challenge)
            .verify_slice(&given)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use service_kit::settings::Secret;

    /// LC-07: a consent token does not answer a logout form, nor another challenge or browser.
    #[test]
    fn tokens_are_bound_to_purpose_challenge_and_browser() {
        let secrets = SecretList::new([Secret::new("s".repeat(32))]);
        let cookie = "c".repeat(43);
        let req = actix_web::test::TestRequest::default()
            .cookie(Cookie::new(COOKIE, cookie.clone()))
            .to_http_request();
        let logout = token(&secrets, Purpose::Logout, &cookie, "ch");
        assert!(verify(&secrets, &req, Purpose::Logout, "ch", &logout));
        let consent = token(&secrets, Purpose::Consent, &cookie, "ch");
        assert!(!verify(&secrets, &req, Purpose::Logout, "ch", &consent));
        assert!(!verify(&secrets, &req, Purpose::Logout, "other", &logout));
        let stranger = actix_web::test::TestRequest::default().to_http_request();
        assert!(!verify(&secrets, &stranger, Purpose::Logout, "ch", &logout));
    }
}
