//! Verification of an ID token a native app submits (Kratos' `id_token` of the `oidc` method):
//! the signature against the provider's key set (from discovery, fetched again once when the
//! token names a key not seen yet), `iss`, `aud`/`azp` (the client id or one of
//! `additional_id_token_audiences`), `exp` and `iat` with a small leeway, and the nonce.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier};
use openidconnect::{
    ClaimsVerificationError, ClientId, JwsSigningAlgorithm, Nonce, SignatureVerificationError,
};

use super::ProviderSettings;
use super::upstream::{Discovered, Upstreams, payload};

/// Clock difference tolerated between the provider and us.
pub const LEEWAY: chrono::Duration = chrono::Duration::seconds(30);

/// A verified ID token.
pub struct Checked {
    pub subject: String,
    pub claims: serde_json::Value,
    pub expires_at: DateTime<Utc>,
}

/// Why a token was refused. The text is for the log; it never holds the token.
pub enum Refused {
    /// The provider's discovery document could not be fetched.
    Unavailable(String),
    /// Signature, issuer, audience or times.
    Invalid(String),
    /// Kratos: the token has a nonce and none was submitted, none but the provider needs one,
    /// or it differs from the submitted one.
    Nonce(&'static str),
}

/// Verifies `token` for `provider` at `now`; `nonce` is the submitted `id_token_nonce`.
pub async fn verify(
    upstreams: &Upstreams,
    provider: &ProviderSettings,
    token: &str,
    nonce: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Checked, Refused> {
    let parsed = CoreIdToken::from_str(token)
        .map_err(|_| Refused::Invalid("the ID token is not a signed JWT".into()))?;
    let discovered = upstreams
        .discovered(provider)
        .await
        .map_err(|e| Refused::Unavailable(e.to_string()))?;
    let outcome = check_signature(&parsed, provider, &discovered, now);
    let subject = match outcome {
        Err(ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        )) => {
            // Perhaps the provider rotated its keys: fetch them again (rate-limited), once.
            match upstreams.refresh(provider).await {
                Ok(fresh) => check_signature(&parsed, provider, &fresh, now),
                Err(e) => return Err(Refused::Unavailable(e.to_string())),
            }
        }
        other => other,
    }
    .map_err(|e| Refused::Invalid(e.to_string()))?;
    let claims =
        payload(token).map_err(|_| Refused::Invalid("the ID token payload is not JSON".into()))?;
    check_audience(provider, &claims)?;
    check_nonce(&claims, nonce)?;
    let expires_at = claims["exp"]
        .as_i64()
        .and_then(|exp| DateTime::from_timestamp(exp, 0))
        .ok_or_else(|| Refused::Invalid("the ID token has no valid exp".into()))?;
    Ok(Checked {
        subject,
        claims,
        expires_at,
    })
}

/// Signature, issuer, expiry and issue time (the crate's checks); answers the subject.
fn check_signature(
    token: &CoreIdToken,
    provider: &ProviderSettings,
    discovered: &Discovered,
    now: DateTime<Utc>,
) -> Result<String, ClaimsVerificationError> {
    let metadata = &discovered.metadata;
    // Only the provider's asymmetric algorithms: a MAC keyed with our client secret proves
    // nothing about who made a token a native app hands us.
    let algs: Vec<_> = metadata
        .id_token_signing_alg_values_supported()
        .iter()
        .filter(|alg| !alg.uses_shared_secret())
        .cloned()
        .collect();
    let latest = now + LEEWAY;
    let verifier = CoreIdTokenVerifier::new_public_client(
        ClientId::new(provider.client_id.clone()),
        metadata.issuer().clone(),
        metadata.jwks().clone(),
    )
    .set_allowed_algs(algs)
    // The audience is checked below, with the additional audiences and `azp`.
    .require_audience_match(false)
    .set_time_fn(move || now - LEEWAY)
    .set_issue_time_verifier_fn(move |iat| {
        if iat > latest {
            Err("the ID token was issued in the future".into())
        } else {
            Ok(())
        }
    });
    let any_nonce = |_: Option<&Nonce>| Ok(());
    let claims = token.claims(&verifier, any_nonce)?;
    Ok(claims.subject().as_str().to_string())
}

/// `aud` names the client or an additional audience; with several audiences, `azp` must be
/// present and name one of them.
fn check_audience(provider: &ProviderSettings, claims: &serde_json::Value) -> Result<(), Refused> {
    let accepted = |aud: &str| {
        aud == provider.client_id
            || provider
                .additional_id_token_audiences
                .iter()
                .any(|a| a == aud)
    };
    let audiences: Vec<&str> = match &claims["aud"] {
        serde_json::Value::String(one) => vec![one.as_str()],
        serde_json::Value::Array(many) => many.iter().filter_map(|a| a.as_str()).collect(),
        _ => Vec::new(),
    };
    if !audiences.iter().any(|a| accepted(a)) {
        return Err(Refused::Invalid(
            "the ID token is for another audience".into(),
        ));
    }
    if audiences.len() > 1 && !claims["azp"].as_str().is_some_and(accepted) {
        return Err(Refused::Invalid(
            "the ID token has several audiences and no accepted azp".into(),
        ));
    }
    Ok(())
}

/// Kratos' rule: a token with a nonce needs the same `id_token_nonce` (compared as given: an app
/// whose SDK hashes the nonce submits what the token holds); a token without one is refused
/// (Kratos lets only Apple skip it).
fn check_nonce(claims: &serde_json::Value, submitted: Option<&str>) -> Result<(), Refused> {
    let Some(inside) = claims["nonce"].as_str().filter(|n| !n.is_empty()) else {
        return Err(Refused::Nonce("the ID token has no nonce"));
    };
    match submitted {
        None => Err(Refused::Nonce("no id_token_nonce was submitted")),
        Some(given) if constant_time_eq(given.as_bytes(), inside.as_bytes()) => Ok(()),
        Some(_) => Err(Refused::Nonce("the id_token_nonce does not match")),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::{Hmac, Mac};

    use super::super::upstream::test_provider::{TestProvider, es256, jwk, new_key};
    use super::*;

    fn claims(up: &TestProvider, now: DateTime<Utc>) -> serde_json::Value {
        serde_json::json!({
            "iss": up.issuer, "sub": "user-1", "aud": "web", "nonce": "n-1",
            "iat": now.timestamp(), "exp": (now + chrono::Duration::minutes(10)).timestamp(),
        })
    }

    fn signed(up: &TestProvider, claims: serde_json::Value) -> String {
        es256(
            &up.key,
            serde_json::json!({"alg": "ES256", "kid": "k1", "typ": "JWT"}),
            claims,
        )
    }

    async fn check(
        upstreams: &Upstreams,
        up: &TestProvider,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Checked, String> {
        verify(
            upstreams,
            &up.settings(serde_json::json!({})),
            token,
            Some("n-1"),
            now,
        )
        .await
        .map_err(|e| match e {
            Refused::Unavailable(e) => format!("unavailable: {e}"),
            Refused::Invalid(e) => format!("invalid: {e}"),
            Refused::Nonce(e) => format!("nonce: {e}"),
        })
    }

    #[tokio::test]
    async fn forged_and_mismatched_tokens_are_refused() {
        let up = TestProvider::start(serde_json::Value::Null).await;
        let upstreams = Upstreams::new();
        let now = Utc::now();
        let good = signed(&up, claims(&up, now));
        let checked = check(&upstreams, &up, &good, now).await.unwrap();
        assert_eq!(checked.subject, "user-1");

        let refused = |r: Result<Checked, String>| match r {
            Ok(_) => panic!("the token was accepted"),
            Err(e) => assert!(e.starts_with("invalid: "), "{e}"),
        };
        let body = |c: &serde_json::Value| URL_SAFE_NO_PAD.encode(c.to_string());

        // `alg: none`, with and without a kid.
        for header in [
            serde_json::json!({"alg": "none"}),
            serde_json::json!({"alg": "none", "kid": "k1"}),
        ] {
            let none = format!("{}.{}.", body(&header), body(&claims(&up, now)));
            refused(check(&upstreams, &up, &none, now).await);
        }

        // HS256 keyed with the provider's public key (its SEC1 point and its JWK text).
        let point = up.key.verifying_key().to_encoded_point(false);
        let jwk_text = jwk(&up.key, "k1").to_string();
        for secret in [point.as_bytes(), jwk_text.as_bytes()] {
            let input = format!(
                "{}.{}",
                body(&serde_json::json!({"alg": "HS256", "kid": "k1"})),
                body(&claims(&up, now))
            );
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
            mac.update(input.as_bytes());
            let hs = format!(
                "{input}.{}",
                URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
            );
            refused(check(&upstreams, &up, &hs, now).await);
        }

        // Another issuer.
        let mut other = claims(&up, now);
        other["iss"] = serde_json::json!(format!("{}/other", up.issuer));
        refused(check(&upstreams, &up, &signed(&up, other), now).await);

        // Issued in the future beyond the leeway (within it is fine).
        let mut future = claims(&up, now);
        future["iat"] = serde_json::json!((now + chrono::Duration::seconds(120)).timestamp());
        refused(check(&upstreams, &up, &signed(&up, future), now).await);
        let mut skewed = claims(&up, now);
        skewed["iat"] = serde_json::json!((now + chrono::Duration::seconds(10)).timestamp());
        assert!(
            check(&upstreams, &up, &signed(&up, skewed), now)
                .await
                .is_ok()
        );

        // Expired beyond the leeway.
        let mut expired = claims(&up, now);
        expired["exp"] = serde_json::json!((now - chrono::Duration::seconds(120)).timestamp());
        refused(check(&upstreams, &up, &signed(&up, expired), now).await);

        // Several audiences without `azp`, then with an accepted one.
        let mut several = claims(&up, now);
        several["aud"] = serde_json::json!(["web", "other"]);
        refused(check(&upstreams, &up, &signed(&up, several.clone()), now).await);
        several["azp"] = serde_json::json!("web");
        assert!(
            check(&upstreams, &up, &signed(&up, several), now)
                .await
                .is_ok()
        );

        // A bad signature (a token signed with another key under the known kid).
        let stranger = es256(
            &new_key(),
            serde_json::json!({"alg": "ES256", "kid": "k1"}),
            claims(&up, now),
        );
        refused(check(&upstreams, &up, &stranger, now).await);

        // None of these refetched the keys: one discovery, one key set.
        assert_eq!((up.discoveries(), up.key_sets()), (1, 1));
    }

    #[tokio::test]
    async fn an_unknown_kid_refreshes_the_keys_once() {
        let up = TestProvider::start(serde_json::Value::Null).await;
        let provider = up.settings(serde_json::json!({}));
        let upstreams = Upstreams::new();
        let now = Utc::now();
        assert!(
            check(&upstreams, &up, &signed(&up, claims(&up, now)), now)
                .await
                .is_ok()
        );
        assert_eq!((up.discoveries(), up.key_sets()), (1, 1));

        // The provider rotates to k2. Right after a fetch an unknown kid refetches nothing.
        let rotated = new_key();
        *up.jwks.lock().unwrap() = serde_json::json!({"keys": [jwk(&rotated, "k2")]});
        let header = serde_json::json!({"alg": "ES256", "kid": "k2"});
        let token = es256(&rotated, header, claims(&up, now));
        assert!(check(&upstreams, &up, &token, now).await.is_err());
        assert_eq!((up.discoveries(), up.key_sets()), (1, 1));

        // Later, the unknown kid causes exactly one refetch, and the token verifies.
        upstreams.age(&provider, Duration::from_secs(60)).await;
        assert!(check(&upstreams, &up, &token, now).await.is_ok());
        assert_eq!((up.discoveries(), up.key_sets()), (2, 2));

        // A kid the provider does not have either: one refetch, then refused.
        upstreams.age(&provider, Duration::from_secs(60)).await;
        let header = serde_json::json!({"alg": "ES256", "kid": "k3"});
        let unknown = es256(&new_key(), header, claims(&up, now));
        assert!(check(&upstreams, &up, &unknown, now).await.is_err());
        assert_eq!((up.discoveries(), up.key_sets()), (3, 3));
        // And again at once: no further fetch.
        assert!(check(&upstreams, &up, &unknown, now).await.is_err());
        assert_eq!((up.discoveries(), up.key_sets()), (3, 3));
    }

    fn provider() -> ProviderSettings {
        serde_json::from_value(serde_json::json!({
            "id": "p", "client_id": "web", "client_secret": "s", "issuer_url": "https://p.test",
            "additional_id_token_audiences": ["ios"]
        }))
        .unwrap()
    }

    #[test]
    fn audiences_and_azp() {
        let p = provider();
        let ok = |claims: serde_json::Value| check_audience(&p, &claims).is_ok();
        assert!(ok(serde_json::json!({"aud": "web"})));
        assert!(ok(serde_json::json!({"aud": ["ios"]})));
        assert!(!ok(serde_json::json!({"aud": "android"})));
        assert!(!ok(serde_json::json!({"aud": ["web", "other"]})));
        assert!(ok(
            serde_json::json!({"aud": ["web", "other"], "azp": "web"})
        ));
        assert!(!ok(
            serde_json::json!({"aud": ["web", "other"], "azp": "other"})
        ));
    }

    #[test]
    fn nonce_rules() {
        let with = serde_json::json!({"nonce": "n-1"});
        assert!(check_nonce(&with, Some("n-1")).is_ok());
        assert!(check_nonce(&with, Some("n-2")).is_err());
        assert!(check_nonce(&with, None).is_err());
        assert!(check_nonce(&serde_json::json!({}), Some("n-1")).is_err());
    }
}
