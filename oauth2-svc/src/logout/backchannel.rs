//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): a `logout_token` (a JWT signed
//! by the ID-token key) POSTed to each client's `backchannel_logout_uri`. Delivery runs in the
//! background so that the browser never waits for a relying party: each POST has a timeout,
//! failures are retried a bounded number of times with backoff, and a delivery that never
//! succeeds is logged and counted (`olympus_oauth2_backchannel_logout_failures_total`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus::{IntCounter, Opts, Registry};
use serde_json::{Value, json};

use crate::jwk::KeyRing;

const TIMEOUT: Duration = Duration::from_secs(10);
const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// How long a logout token is valid for its receiver.
const TOKEN_LIFETIME_SECS: i64 = 120;
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The sender: an HTTP client without redirects and the delivery counters.
pub struct BackChannel {
    http: reqwest::Client,
    failures: IntCounter,
    deliveries: IntCounter,
}

impl BackChannel {
    /// Registers the counters on the service's metrics registry.
    pub fn new(registry: &Registry) -> anyhow::Result<BackChannel> {
        let failures = IntCounter::with_opts(Opts::new(
            "oauth2_backchannel_logout_failures_total",
            "Back-channel logout deliveries that failed after every retry",
        ))?;
        let deliveries = IntCounter::with_opts(Opts::new(
            "oauth2_backchannel_logout_deliveries_total",
            "Back-channel logout tokens delivered",
        ))?;
        registry.register(Box::new(failures.clone()))?;
        registry.register(Box::new(deliveries.clone()))?;
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(BackChannel {
            http,
            failures,
            deliveries,
        })
    }

    /// Signs a logout token for each `(client_id, backchannel_logout_uri)` and sends them in the
    /// background.
    pub fn notify(
        &self,
        keys: &KeyRing,
        issuer: &str,
        subject: &str,
        sid: uuid::Uuid,
        receivers: Vec<(String, String)>,
        now: DateTime<Utc>,
    ) {
        for (client_id, uri) in receivers {
            let claims = logout_claims(issuer, &client_id, subject, sid, now);
            let token = match keys.sign_jwt(&claims) {
                Ok(token) => token,
                Err(error) => {
                    self.failures.inc();
                    tracing::error!(%client_id, ?error, "could not sign a logout token");
                    continue;
                }
            };
            let (http, failures, deliveries) = (
                self.http.clone(),
                self.failures.clone(),
                self.deliveries.clone(),
            );
            tokio::spawn(async move {
                if deliver(&http, &uri, &token, &client_id).await {
                    deliveries.inc();
                } else {
                    failures.inc();
                    tracing::warn!(%client_id, attempts = ATTEMPTS, "back-channel logout failed");
                }
            });
        }
    }
}

/// The claims of a logout token (Back-Channel Logout §2.4): never a nonce.
pub fn logout_claims(
    issuer: &str,
    client_id: &str,
    subject: &str,
    sid: uuid::Uuid,
    now: DateTime<Utc>,
) -> Value {
    let iat = now.timestamp();
    json!({
        "iss": issuer,
        "aud": [client_id],
        "iat": iat,
        "exp": iat + TOKEN_LIFETIME_SECS,
        "jti": uuid::Uuid::new_v4().to_string(),
        "sub": subject,
        "sid": sid.to_string(),
        "events": { EVENT: {} },
    })
}

/// POSTs the token until a 2xx answer or the attempts run out.
async fn deliver(http: &reqwest::Client, uri: &str, token: &str, client_id: &str) -> bool {
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=ATTEMPTS {
        let sent = http.post(uri).form(&[("logout_token", token)]).send().await;
        match sent {
            Ok(res) if res.status().is_success() => return true,
            Ok(res) => {
                tracing::info!(%client_id, attempt, status = res.status().as_u16(), "back-channel logout refused")
            }
            Err(error) => {
                tracing::info!(%client_id, attempt, %error, "back-channel logout not delivered")
            }
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logout_token_claims_follow_the_spec() {
        let sid = uuid::Uuid::now_v7();
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let claims = logout_claims("https://auth.test", "c1", "user-1", sid, now);
        assert_eq!(claims["aud"], json!(["c1"]));
        assert_eq!(claims["sid"], sid.to_string());
        assert_eq!(claims["events"], json!({EVENT: {}}));
        assert_eq!(claims["exp"], 1_700_000_120);
        assert!(claims.get("nonce").is_none());
    }
}
