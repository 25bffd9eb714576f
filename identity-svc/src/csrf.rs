//! Synchronizer-token CSRF protection for browser flows.
//!
//! The browser holds a signed cookie with a random token; each flow stores a keyed hash of that
//! token; forms carry the token masked with a fresh one-time pad on every render (so the page
//! never repeats a secret byte string). A submit passes only when the cookie is authentic, the
//! form's token unmasks to the cookie's, and the flow was made for that token.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use service_kit::settings::SecretList;
use sha2::Sha256;

pub const COOKIE_NAME: &str = "olympus_csrf";
const TOKEN_LEN: usize = 32;

/// A browser's CSRF token (the unmasked secret).
#[derive(Clone, PartialEq, Eq)]
pub struct CsrfToken([u8; TOKEN_LEN]);

/// Keys and cookie attributes, built once from settings.
pub struct Csrf {
    keys: Vec<Vec<u8>>,
    secure: bool,
}

fn mac(key: &[u8], purpose: &str, data: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(purpose.as_bytes());
    mac.update(data);
    mac
}

impl Csrf {
    pub fn new(secrets: &SecretList, secure: bool) -> Self {
        let keys = secrets
            .all()
            .iter()
            .map(|s| s.expose().as_bytes().to_vec())
            .collect();
        Csrf { keys, secure }
    }

    /// The token of the browser's authentic CSRF cookie, if it has one.
    pub fn cookie_token(&self, req: &HttpRequest) -> Option<CsrfToken> {
        let cookie = req.cookie(COOKIE_NAME)?;
        let (token, signature) = cookie.value().split_once('.')?;
        let token: [u8; TOKEN_LEN] = URL_SAFE_NO_PAD.decode(token).ok()?.try_into().ok()?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let authentic = self.keys.iter().any(|key| {
            mac(key, "csrf-cookie", &token)
                .verify_slice(&signature)
                .is_ok()
        });
        authentic.then_some(CsrfToken(token))
    }

    /// The browser's token, or a new one with the cookie that carries it.
    pub fn token_for(&self, req: &HttpRequest) -> (CsrfToken, Option<Cookie<'static>>) {
        match self.cookie_token(req) {
            Some(token) => (token, None),
            None => self.fresh(),
        }
    }

    /// A new token and its cookie (after login, so a pre-login token cannot be reused).
    pub fn fresh(&self) -> (CsrfToken, Option<Cookie<'static>>) {
        let mut token = [0u8; TOKEN_LEN];
        rand::rng().fill_bytes(&mut token);
        let signature = mac(&self.keys[0], "csrf-cookie", &token)
            .finalize()
            .into_bytes();
        let value = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(token),
            URL_SAFE_NO_PAD.encode(signature)
        );
        let cookie = Cookie::build(COOKIE_NAME, value)
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .max_age(CookieDuration::days(365))
            .finish();
        (CsrfToken(token), Some(cookie))
    }

    /// What a flow stores: a keyed hash, so a database reader cannot forge form tokens.
    pub fn flow_hash(&self, token: &CsrfToken) -> String {
        URL_SAFE_NO_PAD.encode(
            mac(&self.keys[0], "csrf-flow", &token.0)
                .finalize()
                .into_bytes(),
        )
    }

    /// Whether `token` is the one `stored` was made from (under any configured secret).
    pub fn matches_flow(&self, token: &CsrfToken, stored: &str) -> bool {
        let Ok(stored) = URL_SAFE_NO_PAD.decode(stored) else {
            return false;
        };
        self.keys.iter().any(|key| {
            mac(key, "csrf-flow", &token.0)
                .verify_slice(&stored)
                .is_ok()
        })
    }

    /// The form value: a fresh pad followed by the token XOR the pad.
    pub fn mask(&self, token: &CsrfToken) -> String {
        let mut out = [0u8; TOKEN_LEN * 2];
        rand::rng().fill_bytes(&mut out[..TOKEN_LEN]);
        for i in 0..TOKEN_LEN {
            out[TOKEN_LEN + i] = out[i] ^ token.0[i];
        }
        URL_SAFE_NO_PAD.encode(out)
    }

    fn unmask(masked: &str) -> Option<CsrfToken> {
        let bytes = URL_SAFE_NO_PAD.decode(masked.trim()).ok()?;
        if bytes.len() != TOKEN_LEN * 2 {
            return None;
        }
        let mut token = [0u8; TOKEN_LEN];
        for i in 0..TOKEN_LEN {
            token[i] = bytes[i] ^ bytes[TOKEN_LEN + i];
        }
        Some(CsrfToken(token))
    }

    /// Checks a browser submit against the flow's stored hash; the error says what was wrong.
    pub fn verify(
        &self,
        req: &HttpRequest,
        stored: Option<&str>,
        submitted: Option<&str>,
    ) -> Result<CsrfToken, String> {
        let cookie = self.cookie_token(req).ok_or(
            "The request did not carry a valid anti-CSRF cookie. Enable cookies and restart the flow.",
        )?;
        let submitted = submitted
            .or_else(|| req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()))
            .filter(|v| !v.is_empty())
            .ok_or("The anti-CSRF token was not included in the request body (csrf_token) nor in the X-CSRF-Token header.")?;
        let unmasked =
            Self::unmask(submitted).ok_or("The anti-CSRF token in the request is malformed.")?;
        let same = constant_time_eq(&unmasked.0, &cookie.0);
        let for_flow = stored.is_some_and(|s| self.matches_flow(&cookie, s));
        if same && for_flow {
            Ok(cookie)
        } else {
            Err("The anti-CSRF cookie and token do not match this flow.".into())
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use service_kit::settings::Secret;

    fn csrf() -> Csrf {
        Csrf::new(&SecretList::new([Secret::new("c".repeat(32))]), true)
    }

    #[test]
    fn masked_tokens_differ_per_render_and_verify() {
        let csrf = csrf();
        let (token, cookie) = csrf.fresh();
        let cookie = cookie.unwrap();
        let stored = csrf.flow_hash(&token);
        let (a, b) = (csrf.mask(&token), csrf.mask(&token));
        assert_ne!(a, b);
        let req = TestRequest::default()
            .cookie(cookie.clone())
            .to_http_request();
        assert!(csrf.verify(&req, Some(&stored), Some(&a)).is_ok());
        assert!(csrf.verify(&req, Some(&stored), Some(&b)).is_ok());
        // Another browser's token, a flow made for another token, or no cookie: rejected.
        let (other, _) = csrf.fresh();
        assert!(
            csrf.verify(&req, Some(&stored), Some(&csrf.mask(&other)))
                .is_err()
        );
        assert!(
            csrf.verify(&req, Some(&csrf.flow_hash(&other)), Some(&a))
                .is_err()
        );
        let bare = TestRequest::default().to_http_request();
        assert!(csrf.verify(&bare, Some(&stored), Some(&a)).is_err());
        assert!(csrf.verify(&req, Some(&stored), None).is_err());
    }

    #[test]
    fn forged_cookies_are_not_authentic() {
        let csrf = csrf();
        let forged = Cookie::new(
            COOKIE_NAME,
            format!("{}.{}", URL_SAFE_NO_PAD.encode([7u8; 32]), "AAAA"),
        );
        let req = TestRequest::default().cookie(forged).to_http_request();
        assert!(csrf.cookie_token(&req).is_none());
    }
}
