//! TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps, one step of skew either way) through
//! `totp-rs`. A secret lives as its `otpauth://` URL, sealed under `secrets.cipher`: in a
//! settings flow's `internal_context` while it is being enrolled (bound to the flow), then in
//! the `totp` credential's `config` (bound to the credential).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use service_kit::cipher::KeyCipher;
use service_kit::db::Id;
use totp_rs::{Builder, Totp};

use crate::error::ApiError;

/// The step of an accepted code.
pub type Step = i64;

/// A new secret for `account` (the identity's e-mail or id) under `issuer`, as its URL.
pub fn generate(issuer: &str, account: &str) -> Result<String, ApiError> {
    // A ':' separates issuer and account in the URL's label; neither may hold one.
    let clean = |s: &str| s.replace(':', " ");
    let totp = Builder::new()
        .with_issuer(Some(clean(issuer)))
        .with_account_name(clean(account))
        .build()
        .map_err(|e| anyhow::anyhow!("cannot make a TOTP secret: {e}"))?;
    totp.to_url()
        .map_err(|e| anyhow::anyhow!("cannot write a TOTP URL: {e}").into())
}

fn parse(url: &str) -> Result<Totp, ApiError> {
    Totp::from_url(url).map_err(|e| anyhow::anyhow!("a stored TOTP URL does not parse: {e}").into())
}

/// The base32 secret of a URL, for typing into an app.
pub fn secret_of(url: &str) -> Result<String, ApiError> {
    Ok(parse(url)?.secret().to_base32())
}

/// The step `code` is valid for at `now` (the current step or one either side), if any. A code
/// must be six digits; anything else is simply wrong.
pub fn check(url: &str, code: &str, now: DateTime<Utc>) -> Result<Option<Step>, ApiError> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let totp = parse(url)?;
    let time = u64::try_from(now.timestamp()).unwrap_or(0);
    Ok(totp
        .check(code, time)
        .and_then(|step| Step::try_from(step).ok()))
}

/// What a sealed URL is stored as: `{"totp_url": <ciphertext>, "key_fingerprint": …}`.
pub fn seal(cipher: &KeyCipher, url: &str, bound_to: Id) -> Result<Value, ApiError> {
    let sealed = cipher.seal(url.as_bytes(), bound_to.0.as_bytes())?;
    Ok(json!({ "totp_url": sealed.ciphertext, "key_fingerprint": sealed.fingerprint }))
}

/// The URL [`seal`] stored for the row `bound_to`.
pub fn open(cipher: &KeyCipher, stored: &Value, bound_to: Id) -> Result<String, ApiError> {
    open_with_age(cipher, stored, bound_to).map(|(url, _)| url)
}

/// [`open`], and whether it was sealed under an older secret (to be sealed again under the
/// current one).
pub fn open_with_age(
    cipher: &KeyCipher,
    stored: &Value,
    bound_to: Id,
) -> Result<(String, bool), ApiError> {
    let field = |name: &str| stored.get(name).and_then(Value::as_str);
    let (Some(ciphertext), Some(fingerprint)) = (field("totp_url"), field("key_fingerprint"))
    else {
        return Err(anyhow::anyhow!("a sealed TOTP secret lacks its fields").into());
    };
    let (plain, index) = cipher
        .open(fingerprint, ciphertext, bound_to.0.as_bytes())
        .ok_or_else(|| {
            anyhow::anyhow!("a TOTP secret does not open under any configured secrets.cipher")
        })?;
    let url = String::from_utf8(plain).map_err(|_| anyhow::anyhow!("a TOTP URL is not UTF-8"))?;
    Ok((url, index > 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use service_kit::settings::{Secret, SecretList};

    #[test]
    fn codes_are_checked_against_their_step_and_secrets_stay_sealed() {
        let url = generate("Olympus", "ada@example.com").unwrap();
        assert!(
            url.starts_with("otpauth://totp/Olympus:ada%40example.com?"),
            "{url}"
        );
        let totp = parse(&url).unwrap();
        let now = Utc::now();
        let time = u64::try_from(now.timestamp()).unwrap();
        let code = totp.generate(time).to_string();
        let step = Step::try_from(time / 30).unwrap();
        assert_eq!(check(&url, &code, now).unwrap(), Some(step));
        let later = now + chrono::Duration::seconds(120);
        assert_eq!(check(&url, &code, later).unwrap(), None);
        assert_eq!(check(&url, "12345", now).unwrap(), None);
        assert_eq!(check(&url, "abcdef", now).unwrap(), None);

        let secrets = SecretList::new([Secret::new("s".repeat(32))]);
        let cipher = KeyCipher::new(&secrets, b"test");
        let id = Id::new_v7();
        let sealed = seal(&cipher, &url, id).unwrap();
        let secret = secret_of(&url).unwrap();
        assert!(!sealed.to_string().contains(&secret));
        assert_eq!(open(&cipher, &sealed, id).unwrap(), url);
        assert!(open(&cipher, &sealed, Id::new_v7()).is_err());
        let rotated = KeyCipher::new(
            &SecretList::new([Secret::new("n".repeat(32)), Secret::new("s".repeat(32))]),
            b"test",
        );
        assert_eq!(
            open_with_age(&rotated, &sealed, id).unwrap(),
            (url.clone(), true)
        );
        assert_eq!(open_with_age(&cipher, &sealed, id).unwrap(), (url, false));
    }
}
