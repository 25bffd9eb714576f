//! The OpenID Connect request parameters that decide whether the user must see the login UI:
//! `prompt`, `max_age` and `id_token_hint` (OIDC Core §3.1.2.1, §3.1.2.3).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::flow::AuthorizeRequest;
use crate::jwk::KeyRing;

/// What `prompt` asks for.
#[derive(Debug, Default, PartialEq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// `prompt`: space-separated `none`, `login`, `consent`, `select_account`; `none` stands alone.
pub fn parse_prompt(params: &BTreeMap<String, String>) -> Result<Prompt, &'static str> {
    let values: Vec<&str> = params
        .get("prompt")
        .map(|p| p.split_whitespace().collect())
        .unwrap_or_default();
    if values
        .iter()
        .any(|p| !matches!(*p, "login" | "consent" | "select_account" | "none"))
    {
        return Err("The prompt parameter has an unknown value.");
    }
    if values.contains(&"none") && values.len() > 1 {
        return Err("The prompt value none must not be combined with other values.");
    }
    Ok(Prompt {
        none: values.contains(&"none"),
        login: values.contains(&"login") || values.contains(&"select_account"),
        consent: values.contains(&"consent"),
    })
}

/// The longest `max_age` accepted (ten years); larger values are a mistake, not a policy.
const MAX_AGE_LIMIT: i64 = 10 * 365 * 24 * 3600;

/// `max_age`: a non-negative number of seconds.
pub fn parse_max_age(params: &BTreeMap<String, String>) -> Result<Option<i64>, &'static str> {
    let Some(raw) = params.get("max_age") else {
        return Ok(None);
    };
    if raw.is_empty() || raw.len() > 12 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err("The max_age parameter must be a non-negative number of seconds.");
    }
    match raw.parse::<i64>() {
        Ok(age) if age <= MAX_AGE_LIMIT => Ok(Some(age)),
        _ => Err("The max_age parameter is too large."),
    }
}

/// Whether a login made at `authenticated_at` is recent enough for `request`'s `max_age`
/// (`max_age=0` always asks for a fresh login).
pub fn fresh_enough(
    request: &AuthorizeRequest,
    authenticated_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> bool {
    match request.max_age {
        None => true,
        Some(0) => false,
        Some(max_age) => (now - authenticated_at).num_seconds() <= max_age,
    }
}

/// Verifies an `id_token_hint`: signed by one of our keys, issued by us, to this client. An
/// expired hint is still a hint (OIDC Core §3.1.2.1), so `exp` is not checked. Returns its claims.
pub fn verify_hint(keys: &KeyRing, issuer: &str, client_id: &str, hint: &str) -> Option<Value> {
    if hint.len() > 16 * 1024 {
        return None;
    }
    let claims = keys.verify_jwt(hint).ok()?;
    let iss_ok = claims["iss"].as_str() == Some(issuer);
    let aud_ok = match &claims["aud"] {
        Value::String(aud) => aud == client_id,
        Value::Array(auds) => auds.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    };
    let sub_ok = claims["sub"].as_str().is_some_and(|s| !s.is_empty());
    (iss_ok && aud_ok && sub_ok).then_some(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// BI-11 / AZ-14: prompt values and combinations.
    #[test]
    fn prompt_none_stands_alone() {
        assert!(parse_prompt(&params(&[("prompt", "none login")])).is_err());
        assert!(parse_prompt(&params(&[("prompt", "foo")])).is_err());
        let p = parse_prompt(&params(&[("prompt", "login consent")])).unwrap();
        assert!(p.login && p.consent && !p.none);
        assert!(
            parse_prompt(&params(&[("prompt", "select_account")]))
                .unwrap()
                .login
        );
        assert!(parse_prompt(&params(&[("prompt", "none")])).unwrap().none);
    }

    /// BI-11: max_age must be a sane non-negative integer.
    #[test]
    fn max_age_rejects_negative_and_huge_values() {
        for bad in ["-1", "99999999999999999999", "1e3", "", " 5", "400000000"] {
            assert!(
                parse_max_age(&params(&[("max_age", bad)])).is_err(),
                "{bad}"
            );
        }
        assert_eq!(parse_max_age(&params(&[("max_age", "0")])), Ok(Some(0)));
        assert_eq!(parse_max_age(&params(&[])), Ok(None));
    }
}
