//! The identity lifecycle web hook: when an identity ends (it is deleted, or deactivated),
//! identity-svc POSTs a signed JSON notice to `hooks.identity_lifecycle.url`, so that other
//! systems can forget the identity too. identity-svc does not know what the receiver does with
//! it; in an Olympus domain the receiver is login-ui's admin listener (see
//! docs/architecture.md).
//!
//! The body is [`IdentityLifecycleEvent`] (`{"event":"identity.deleted","identity_id":…,
//! "occurred_at":…}`, or `identity.deactivated`), signed in `X-Olympus-Signature:
//! sha256=<hex>` with HMAC-SHA256 under the first `hooks.identity_lifecycle.secret`, and
//! `X-Request-Id` is the outbox message's id. Any 2xx answer is a delivery; anything else is
//! retried (see [`crate::outbox`]). The notice is an outbox message of topic [`TOPIC`] written
//! in the transaction of the deletion (or state change), so it survives an outage of the
//! receiver and a restart of identity-svc.

use chrono::NaiveDateTime;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use service_kit::db::{Db, Id};
use service_kit::server::Application;
use service_kit::settings::{Secret, SecretList, SettingsError, endpoint_url};
use sha2::Sha256;
use shared_types::hooks::{IdentityLifecycleEvent, SIGNATURE_HEADER, SIGNATURE_PREFIX};
use url::Url;

use crate::config::Validated;
use crate::outbox::{CALL_TIMEOUT, Counters, MessageRow, Waker, Worker};

pub const TOPIC: &str = "identity.lifecycle";

/// `hooks.*`: web hooks identity-svc calls.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct HooksSettings {
    pub identity_lifecycle: LifecycleHookSettings,
}

/// `hooks.identity_lifecycle.*`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct LifecycleHookSettings {
    /// The receiver's URL, used as it is; unset turns the hook off.
    pub url: Option<String>,
    /// Signs each body (the first value; the receiver may accept several while rotating).
    pub secret: SecretList,
}

/// Where the hook sends, once validated.
#[derive(Clone, Debug)]
pub struct LifecycleHook {
    pub url: Url,
    pub secret: Secret,
}

impl HooksSettings {
    /// The lifecycle hook when it is on; a URL needs a secret.
    pub fn validate(&self) -> Result<Option<LifecycleHook>, SettingsError> {
        let hook = &self.identity_lifecycle;
        let Some(raw) = hook.url.as_deref() else {
            if !hook.secret.all().is_empty() {
                hook.secret.validate("hooks.identity_lifecycle.secret")?;
            }
            return Ok(None);
        };
        let url = endpoint_url("hooks.identity_lifecycle.url", Some(raw))?;
        hook.secret.validate("hooks.identity_lifecycle.secret")?;
        Ok(Some(LifecycleHook {
            url,
            secret: hook.secret.current().clone(),
        }))
    }
}

/// What happened to an identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Deleted,
    /// The identity's state became `inactive` (its sessions were revoked with it).
    Deactivated,
}

impl Event {
    fn name(self) -> &'static str {
        match self {
            Event::Deleted => shared_types::hooks::IDENTITY_DELETED,
            Event::Deactivated => shared_types::hooks::IDENTITY_DEACTIVATED,
        }
    }
}

/// The notice that `event` happened to `identity` at `now`; its payload is the body to send.
pub fn notice(event: Event, identity: Id, now: NaiveDateTime) -> MessageRow {
    let body = IdentityLifecycleEvent {
        event: event.name().to_string(),
        identity_id: identity.0,
        occurred_at: now.and_utc(),
    };
    let payload = serde_json::to_value(body).expect("the event serialises");
    crate::outbox::message(TOPIC, payload, now)
}

/// Starts the hook's worker, tied to `app`, when the hook is on; `waker` is the one the deleting
/// handler wakes.
pub fn attach(
    app: &mut Application,
    db: Db,
    settings: &Validated,
    counters: Counters,
    waker: Waker,
) -> anyhow::Result<()> {
    let Some(hook) = settings.lifecycle_hook.clone() else {
        return Ok(());
    };
    let sender = Sender::new(hook)?;
    tracing::info!("identity lifecycle hook on");
    let s = &settings.settings;
    let deliver = move |message| {
        let sender = sender.clone();
        async move { sender.deliver(message).await }
    };
    Worker::new(
        crate::outbox::Topic(TOPIC),
        db,
        s.outbox.clone(),
        s.clock.clone(),
        counters,
        waker,
        deliver,
    )
    .attach(app);
    Ok(())
}

/// Sends notices to the hook's receiver.
#[derive(Clone)]
pub struct Sender {
    http: reqwest::Client,
    hook: LifecycleHook,
}

/// Names the call in errors without its URL (which may carry credentials).
const WHAT: &str = "POST hooks.identity_lifecycle.url";

impl Sender {
    pub fn new(hook: LifecycleHook) -> anyhow::Result<Sender> {
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("olympus-identity-svc/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Sender { http, hook })
    }

    /// One POST; a 2xx answer delivers the message, anything else fails the attempt.
    pub async fn deliver(&self, message: MessageRow) -> Result<(), String> {
        let body = serde_json::to_vec(&message.payload.0)
            .map_err(|e| format!("the message does not serialise: {e}"))?;
        let signature = sign(self.hook.secret.expose().as_bytes(), &body);
        let response = self
            .http
            .post(self.hook.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                service_kit::http::REQUEST_ID_HEADER,
                message.id.0.to_string(),
            )
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .map_err(|e| format!("{WHAT}: {}", describe(e.without_url())))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("{WHAT}: the receiver answered {status}"))
        }
    }
}

/// The signature header's value for `body`.
pub fn sign(key: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{SIGNATURE_PREFIX}{hex}")
}

/// The error with its causes (`error sending request: connection refused`).
fn describe(error: reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hex_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_url_needs_a_long_enough_secret() {
        let mut hooks = HooksSettings::default();
        assert!(hooks.validate().unwrap().is_none());
        hooks.identity_lifecycle.url = Some("http://ui:4456/hooks/identity-lifecycle".into());
        let err = hooks.validate().unwrap_err().to_string();
        assert!(err.contains("hooks.identity_lifecycle.secret"), "{err}");
        hooks.identity_lifecycle.secret = SecretList::new([Secret::new("short")]);
        let err = hooks.validate().unwrap_err().to_string();
        assert!(err.contains("hooks.identity_lifecycle.secret[0]"), "{err}");
        hooks.identity_lifecycle.secret = SecretList::new([Secret::new("s".repeat(32))]);
        let hook = hooks.validate().unwrap().unwrap();
        assert_eq!(hook.url.as_str(), "http://ui:4456/hooks/identity-lifecycle");
        hooks.identity_lifecycle.url = Some("ftp://ui/hook".into());
        let err = hooks.validate().unwrap_err().to_string();
        assert!(err.contains("hooks.identity_lifecycle.url"), "{err}");
    }
}
