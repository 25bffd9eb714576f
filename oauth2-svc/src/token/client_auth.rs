//! Client authentication at the token endpoint: `client_secret_basic` (RFC 6749 §2.3.1),
//! `client_secret_post` and `none` (public clients). The method used must be the client's
//! registered `token_endpoint_auth_method`.
//!
//! An unknown client is checked against a dummy hash, so a wrong secret and an unknown
//! `client_id` cost the same (CA-02); secrets are compared in constant time by the keyed hasher.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use diesel::OptionalExtension;
use shared_types::client::OAuth2Client;

use super::error::OAuth2Error;
use super::form::Form;
use crate::client::store as client_store;
use crate::keyed::Purpose;
use crate::state::AppState;

/// Verified against when the client is unknown (or has no secret): 32 zero bytes, base64url.
/// Matching it would need an HMAC-SHA256 preimage.
const DUMMY_HASH: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
/// Upper bound of a Basic credential we decode; longer headers are malformed (CA-05).
const MAX_BASIC_LEN: usize = 4096;

/// The credentials a request presents, before they are checked.
#[derive(Debug, PartialEq)]
pub enum Presented {
    Basic {
        client_id: String,
        secret: String,
    },
    Post {
        client_id: String,
        secret: String,
    },
    None {
        client_id: String,
    },
    /// `private_key_jwt` (RFC 7523 §2.2), checked by `crate::client::assertion`.
    Assertion {
        client_id: String,
        assertion: String,
    },
}

impl Presented {
    /// Reads the credentials from the `Authorization` header or the form. Using two methods at
    /// once is `invalid_request` (RFC 6749 §2.3); a malformed Basic header is `invalid_client`.
    pub fn from_request(
        authorization: Option<&str>,
        form: &Form,
    ) -> Result<Presented, OAuth2Error> {
        if form.contains("client_assertion") || form.contains("client_assertion_type") {
            return assertion_credentials(authorization, form);
        }
        let body_id = form.get("client_id");
        let Some(header) = authorization else {
            let client_id = body_id.ok_or(OAuth2Error::InvalidClient)?.to_string();
            return Ok(match form.get("client_secret") {
                Some(secret) => Presented::Post {
                    client_id,
                    secret: secret.to_string(),
                },
                None => Presented::None { client_id },
            });
        };
        if form.contains("client_secret") {
            return Err(OAuth2Error::InvalidRequest(
                "The client must use only one authentication method".into(),
            ));
        }
        let (client_id, secret) = parse_basic(header).ok_or(OAuth2Error::InvalidClient)?;
        if body_id.is_some_and(|id| id != client_id) {
            return Err(OAuth2Error::InvalidRequest(
                "The client_id in the body does not match the authenticated client".into(),
            ));
        }
        Ok(Presented::Basic { client_id, secret })
    }

    pub fn client_id(&self) -> &str {
        match self {
            Presented::Basic { client_id, .. }
            | Presented::Post { client_id, .. }
            | Presented::None { client_id }
            | Presented::Assertion { client_id, .. } => client_id,
        }
    }

    fn secret(&self) -> Option<&str> {
        match self {
            Presented::Basic { secret, .. } | Presented::Post { secret, .. } => Some(secret),
            Presented::None { .. } | Presented::Assertion { .. } => None,
        }
    }

    /// The `token_endpoint_auth_method` these credentials amount to.
    pub fn method(&self) -> &'static str {
        match self {
            Presented::Basic { .. } => "client_secret_basic",
            Presented::Post { .. } => "client_secret_post",
            Presented::None { .. } => "none",
            Presented::Assertion { .. } => "private_key_jwt",
        }
    }
}

/// `client_assertion_type` + `client_assertion` (RFC 7521 §4.2): the only credentials of the
/// request; the client is the `client_id` sent or, without one, the assertion's `sub`.
fn assertion_credentials(
    authorization: Option<&str>,
    form: &Form,
) -> Result<Presented, OAuth2Error> {
    use crate::client::assertion::{ASSERTION_TYPE, claimed_client_id};
    if authorization.is_some() || form.contains("client_secret") {
        return Err(OAuth2Error::InvalidRequest(
            "The client must use only one authentication method".into(),
        ));
    }
    let (Some(ASSERTION_TYPE), Some(assertion)) = (
        form.get("client_assertion_type"),
        form.get("client_assertion"),
    ) else {
        return Err(OAuth2Error::InvalidClient);
    };
    let client_id = match form.get("client_id") {
        Some(id) => id.to_string(),
        None => claimed_client_id(assertion).ok_or(OAuth2Error::InvalidClient)?,
    };
    Ok(Presented::Assertion {
        client_id,
        assertion: assertion.to_string(),
    })
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))`, scheme case-insensitive.
fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, credentials) = header.trim().split_once(' ')?;
    let credentials = credentials.trim();
    if !scheme.eq_ignore_ascii_case("basic") || credentials.len() > MAX_BASIC_LEN {
        return None;
    }
    let decoded = STANDARD
        .decode(credentials)
        .or_else(|_| STANDARD_NO_PAD.decode(credentials))
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let (id, secret) = (form_decode(id)?, form_decode(secret)?);
    (!id.is_empty() && !secret.is_empty()).then_some((id, secret))
}

/// The `application/x-www-form-urlencoded` decoding of one value; `None` on a bad escape.
fn form_decode(text: &str) -> Option<String> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = [bytes.next()?, bytes.next()?];
                out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out).ok()
}

/// A client whose credentials were verified.
#[derive(Debug)]
pub struct AuthenticatedClient {
    pub client_id: String,
    pub document: OAuth2Client,
}

impl AuthenticatedClient {
    pub fn may_use_grant(&self, grant_type: &str) -> bool {
        self.document.grant_types.iter().any(|g| g == grant_type)
    }
}

/// Looks the client up and checks the credentials (CA-01, CA-03, CA-06), throttling secret
/// guessing per client and address (CA-10).
pub async fn authenticate(
    state: &AppState,
    req: &actix_web::HttpRequest,
    presented: Presented,
) -> Result<AuthenticatedClient, OAuth2Error> {
    let throttle = Throttle::new(state);
    let key = presented
        .secret()
        .map(|_| throttle.key(state, req, presented.client_id()));
    let (id, lookup) = (presented.client_id().to_string(), key.clone());
    // One trip to the database for the client and its counter, whether or not the client exists.
    let (row, failures) = state
        .db
        .read(move |c| {
            let row = client_store::find(c, &id).optional()?;
            let failures = match &lookup {
                Some(key) => client_store::find_auth_failures(c, key)?,
                None => None,
            };
            Ok::<_, OAuth2Error>((row, failures))
        })
        .await?;
    if let Some(failures) = &failures {
        throttle.check(failures, presented.client_id())?;
    }
    // Hash whether or not the client exists, so that timing does not reveal it.
    let matched = presented.secret().and_then(|secret| {
        let stored = row
            .as_ref()
            .and_then(|r| r.secret_hash.as_deref())
            .unwrap_or(DUMMY_HASH);
        state.hasher.verify(Purpose::ClientSecret, secret, stored)
    });
    let count_failure = || {
        if let Some(key) = &key {
            throttle.count_failure(state, key.clone());
        }
    };
    let Some(row) = row else {
        count_failure();
        return Err(OAuth2Error::InvalidClient);
    };
    let document: OAuth2Client = serde_json::from_value(row.metadata.0)
        .map_err(|e| OAuth2Error::Internal(anyhow::anyhow!("stored client: {e}")))?;
    let registered = document
        .token_endpoint_auth_method
        .as_deref()
        .unwrap_or("client_secret_basic");
    if registered != presented.method() {
        return Err(OAuth2Error::InvalidClient);
    }
    if let Presented::Assertion { assertion, .. } = &presented {
        crate::client::assertion::authenticate(state, &row.client_id, &document, assertion).await?;
    }
    if let Some(secret) = presented.secret() {
        let Some(index) = matched else {
            count_failure();
            return Err(OAuth2Error::InvalidClient);
        };
        if let (true, Some(stored)) = (index > 0, row.secret_hash.as_deref()) {
            rehash_secret(state, &row.client_id, stored, secret).await;
        }
    }
    Ok(AuthenticatedClient {
        client_id: row.client_id,
        document,
    })
}

/// CA-10: failed secret checks are counted per client_id and client address in a window; past
/// `max_failures` that address gets 429 for that client_id (right secret or wrong) until the
/// window ends. A guesser locks out only itself: the real client, at another address, is never
/// held off. Unknown client_ids are counted the same way, so a 429 does not tell they exist.
struct Throttle {
    now: chrono::NaiveDateTime,
    window: chrono::TimeDelta,
    max_failures: i32,
}

impl Throttle {
    fn new(state: &AppState) -> Self {
        let settings = &state.settings.settings;
        let limits = &settings.oauth2.client_authentication;
        Throttle {
            now: settings.clock.now().naive_utc(),
            window: chrono::TimeDelta::from_std(limits.window).unwrap_or(chrono::TimeDelta::MAX),
            max_failures: i32::try_from(limits.max_failures).unwrap_or(i32::MAX),
        }
    }

    /// The stored key of (client_id, client address): a keyed hash, never the raw values.
    fn key(&self, state: &AppState, req: &actix_web::HttpRequest, client_id: &str) -> String {
        let address = state
            .client_proxies
            .client_address(req)
            .map(service_kit::net::counted)
            .unwrap_or_default();
        let value = format!("{client_id}\n{address}");
        state.hasher.hash(Purpose::ClientAuthThrottle, &value)
    }

    fn check(
        &self,
        row: &client_store::AuthFailuresRow,
        client_id: &str,
    ) -> Result<(), OAuth2Error> {
        let ends = row.window_start + self.window;
        if row.failures < self.max_failures || ends <= self.now {
            return Ok(());
        }
        let retry_after = (ends - self.now).num_seconds().max(1) as u64;
        tracing::warn!(client_id, "client authentication throttled for one address");
        Err(OAuth2Error::Throttled { retry_after })
    }

    /// Records a failure in the background, off the response path; a failure to record is
    /// logged (the attempt is refused either way).
    fn count_failure(&self, state: &AppState, key: String) {
        let db = state.db.clone();
        let (now, cutoff) = (self.now, self.now - self.window);
        tokio::spawn(async move {
            let result = db
                .write(move |c| {
                    client_store::count_auth_failure(c, &key, now, cutoff)
                        .map_err(OAuth2Error::from)
                })
                .await;
            if let Err(e) = result {
                tracing::warn!(error = %e, "could not count a failed client authentication");
            }
        });
    }
}

/// Re-makes a secret hash made under an older `secrets.system` value under the current one
/// (rotation is complete). A failure is logged; the next authentication tries again.
async fn rehash_secret(state: &AppState, client_id: &str, stored: &str, secret: &str) {
    let (id, old) = (client_id.to_string(), stored.to_string());
    let new = state.hasher.hash(Purpose::ClientSecret, secret);
    let result = state
        .db
        .write(move |c| {
            client_store::update_secret_hash(c, &id, &old, &new).map_err(OAuth2Error::from)
        })
        .await;
    match result {
        Ok(_) => tracing::info!(
            client_id,
            "re-hashed the client secret under the current secret"
        ),
        Err(e) => tracing::warn!(client_id, error = %e, "could not re-hash the client secret"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(body: &str) -> Form {
        Form::parse(Some(super::super::form::FORM_MEDIA_TYPE), body.as_bytes()).unwrap()
    }

    fn basic(raw: &str) -> String {
        format!("Basic {}", STANDARD.encode(raw))
    }

    /// CA-05: the id and secret are form-urlencoded before base64; the scheme is case-insensitive.
    #[test]
    fn basic_credentials_are_form_decoded() {
        let header = basic("c%3A1:p%25a%2Bss%3Aw");
        let presented = Presented::from_request(Some(&header), &form("")).unwrap();
        assert_eq!(
            presented,
            Presented::Basic {
                client_id: "c:1".into(),
                secret: "p%a+ss:w".into()
            }
        );
        let lower = header.replacen("Basic", "basic", 1);
        assert_eq!(
            Presented::from_request(Some(&lower), &form(""))
                .unwrap()
                .client_id(),
            "c:1"
        );
        let plus = basic("a+b:x+y");
        assert_eq!(
            Presented::from_request(Some(&plus), &form("")).unwrap(),
            Presented::Basic {
                client_id: "a b".into(),
                secret: "x y".into()
            }
        );
    }

    /// CA-05: malformed headers are `invalid_client`, never a panic.
    #[test]
    fn malformed_basic_headers_are_invalid_client() {
        let long = format!("Basic {}", "A".repeat(10 * 1024));
        for header in [
            "Basic",
            "Basic !!!",
            &basic("nocolon"),
            &basic("id:%zz"),
            &basic(":x"),
            &long,
            "Bearer abc",
        ] {
            let err = Presented::from_request(Some(header), &form("")).unwrap_err();
            assert!(
                matches!(err, OAuth2Error::InvalidClient),
                "{header}: {err:?}"
            );
        }
    }

    #[test]
    fn body_credentials_and_public_clients() {
        assert_eq!(
            Presented::from_request(None, &form("client_id=c&client_secret=s")).unwrap(),
            Presented::Post {
                client_id: "c".into(),
                secret: "s".into()
            }
        );
        let public = Presented::from_request(None, &form("client_id=p")).unwrap();
        assert_eq!(public.method(), "none");
        assert!(matches!(
            Presented::from_request(None, &form("")),
            Err(OAuth2Error::InvalidClient)
        ));
    }

    /// RFC 6749 §2.3: one method per request; a body client_id must agree with the header.
    #[test]
    fn two_methods_at_once_are_invalid_request() {
        let header = basic("c:s");
        let both = Presented::from_request(Some(&header), &form("client_secret=s"));
        assert!(matches!(both, Err(OAuth2Error::InvalidRequest(_))));
        let other = Presented::from_request(Some(&header), &form("client_id=d"));
        assert!(matches!(other, Err(OAuth2Error::InvalidRequest(_))));
        assert!(Presented::from_request(Some(&header), &form("client_id=c")).is_ok());
    }

    #[test]
    fn the_dummy_hash_decodes_like_a_real_one() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        assert_eq!(URL_SAFE_NO_PAD.decode(DUMMY_HASH).unwrap().len(), 32);
    }
}
