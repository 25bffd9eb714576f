//! The courier: outgoing mail (Kratos' courier). A flow that sends mail writes a
//! `courier_messages` row in the same transaction as the change that causes it; a background
//! worker in every replica (the outbox's [`Worker`], through [`store::CourierQueue`]) delivers it
//! over SMTP with retries and exponential backoff, and abandons it after
//! `courier.message_retries` failed deliveries.
//!
//! Mail bodies hold one-time codes. They are stored (the worker needs them, and the admin API
//! shows them as Kratos does) but never logged; the janitor deletes sent mail after
//! `janitor.keep_expired`.

pub mod handlers;
pub mod smtp;
pub mod store;
pub mod template;

use std::time::Duration;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use service_kit::db::{Db, Id};
use service_kit::server::Application;
use service_kit::settings::{Secret, SettingsError, duration};

use crate::outbox::{Counters, OutboxSettings, Waker, Worker};
pub use store::CourierMessageRow;
pub use template::{TemplateType, Templates, Vars};

/// The `topic` label of the courier's delivery counters.
pub const TOPIC: &str = "courier.email";

/// `courier.*` (Kratos' keys, plus the worker's backoff).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CourierSettings {
    pub smtp: SmtpSettings,
    /// A folder of operator templates, laid out as Kratos' (`recovery_code/valid/email.subject.gotmpl`, …).
    pub template_override_path: Option<String>,
    /// Deliveries tried before a message is abandoned.
    pub message_retries: u32,
    pub worker: CourierWorkerSettings,
}

/// `courier.smtp.*`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    /// `smtp://user:pass@host:587/` (STARTTLS required), `smtps://…:465/` (implicit TLS);
    /// `?disable_starttls=true`, `?skip_ssl_verify=true`. Unset: no mail is sent.
    pub connection_uri: Option<Secret>,
    pub from_address: Option<String>,
    pub from_name: Option<String>,
    /// The name this service gives itself in `EHLO`.
    pub local_name: String,
}

/// `courier.worker.*`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CourierWorkerSettings {
    /// Messages claimed per transaction.
    pub pull_count: u32,
    /// How often each replica looks for mail that is due (new mail is sent at once).
    #[serde(with = "duration")]
    pub pull_wait: Duration,
    /// The wait after the first failed delivery; it doubles after each further failure…
    #[serde(with = "duration")]
    pub backoff: Duration,
    /// …up to this.
    #[serde(with = "duration")]
    pub max_backoff: Duration,
}

impl Default for CourierSettings {
    fn default() -> Self {
        CourierSettings {
            smtp: SmtpSettings {
                connection_uri: None,
                from_address: None,
                from_name: None,
                local_name: "localhost".into(),
            },
            template_override_path: None,
            message_retries: 10,
            worker: CourierWorkerSettings {
                pull_count: 10,
                pull_wait: Duration::from_secs(1),
                backoff: Duration::from_secs(10),
                max_backoff: Duration::from_secs(600),
            },
        }
    }
}

/// The courier's validated settings.
#[derive(Clone, Debug)]
pub struct CourierConfig {
    /// Where mail goes; `None` leaves it queued.
    pub smtp: Option<smtp::SmtpTarget>,
    /// The worker's schedule, in the outbox's terms (`lease` is `outbox.lease`).
    pub worker: OutboxSettings,
    pub templates: Templates,
}

impl CourierSettings {
    pub fn validate(&self, outbox: &OutboxSettings) -> Result<CourierConfig, SettingsError> {
        let smtp = match &self.smtp.connection_uri {
            None => None,
            Some(uri) => {
                let from = self.smtp.from_address.as_deref().ok_or_else(|| {
                    SettingsError::invalid(
                        "courier.smtp.from_address",
                        "is required with a connection_uri",
                    )
                })?;
                let target = smtp::SmtpTarget::parse(
                    uri.expose(),
                    from,
                    self.smtp.from_name.as_deref(),
                    &self.smtp.local_name,
                )
                .map_err(|reason| SettingsError::invalid(reason.key, reason.message))?;
                Some(target)
            }
        };
        let worker = OutboxSettings {
            interval: self.worker.pull_wait,
            batch_size: self.worker.pull_count,
            max_attempts: self.message_retries,
            backoff: self.worker.backoff,
            max_backoff: self.worker.max_backoff,
            lease: outbox.lease,
        };
        worker.validate().map_err(|e| match e {
            // Name the courier's keys, not the outbox's the check was written for.
            SettingsError::Invalid { key, reason } => {
                let key = match key.as_str() {
                    "outbox.interval" => "courier.worker.pull_wait",
                    "outbox.batch_size" => "courier.worker.pull_count",
                    "outbox.max_attempts" => "courier.message_retries",
                    "outbox.backoff" => "courier.worker.backoff",
                    "outbox.max_backoff" => "courier.worker.max_backoff",
                    other => other,
                };
                SettingsError::invalid(
                    key,
                    reason.replace("outbox.backoff", "courier.worker.backoff"),
                )
            }
            other => other,
        })?;
        let templates = Templates::load(self.template_override_path.as_deref())?;
        Ok(CourierConfig {
            smtp,
            worker,
            templates,
        })
    }
}

/// What flows use to send mail: the templates and the worker's waker.
pub struct Courier {
    pub templates: Templates,
    waker: Waker,
}

impl Courier {
    pub fn new(templates: Templates) -> Self {
        Courier {
            templates,
            waker: Waker::default(),
        }
    }

    /// A queued mail to `to` from `template` with `vars`; the caller inserts it in its
    /// transaction and then calls [`Courier::wake`].
    pub fn compose(
        &self,
        template: TemplateType,
        to: &str,
        vars: &Vars,
        now: NaiveDateTime,
    ) -> CourierMessageRow {
        let rendered = self.templates.render(template, to, vars);
        CourierMessageRow {
            id: Id::new_v7(),
            message_type: "email".into(),
            status: store::QUEUED.into(),
            recipient: to.to_string(),
            subject: rendered.subject,
            body: rendered.text,
            html_body: rendered.html,
            template_type: template.name().into(),
            send_count: 0,
            next_attempt_at: now,
            locked_until: None,
            locked_by: None,
            last_error: None,
            sent_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Sends what was just queued without waiting for `courier.worker.pull_wait`.
    pub fn wake(&self) {
        self.waker.wake();
    }
}

/// Starts the courier's worker, tied to `app`, when SMTP is configured.
pub fn attach(
    app: &mut Application,
    db: Db,
    settings: &crate::config::Validated,
    courier: &Courier,
    counters: Counters,
) -> anyhow::Result<()> {
    let Some(target) = settings.courier.smtp.clone() else {
        tracing::warn!("courier.smtp.connection_uri is not set: mail stays queued");
        return Ok(());
    };
    let mailer = smtp::Mailer::new(target)?;
    let deliver = move |message| {
        let mailer = mailer.clone();
        async move { mailer.send(message).await }
    };
    Worker::new(
        store::CourierQueue,
        db,
        settings.courier.worker.clone(),
        settings.settings.clock.clone(),
        counters,
        courier.waker.clone(),
        deliver,
    )
    .attach(app);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_name_the_courier_keys() {
        let outbox = OutboxSettings::default();
        assert!(CourierSettings::default().validate(&outbox).is_ok());
        let settings = CourierSettings {
            message_retries: 0,
            ..Default::default()
        };
        let err = settings.validate(&outbox).unwrap_err().to_string();
        assert!(err.contains("courier.message_retries"), "{err}");
        let mut settings = CourierSettings::default();
        settings.smtp.connection_uri = Some(Secret::new("smtp://mail.test:587/"));
        let err = settings.validate(&outbox).unwrap_err().to_string();
        assert!(err.contains("courier.smtp.from_address"), "{err}");
        settings.smtp.from_address = Some("no-reply@example.com".into());
        assert!(settings.validate(&outbox).unwrap().smtp.is_some());
    }
}
