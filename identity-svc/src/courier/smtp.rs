//! SMTP delivery with lettre. `courier.smtp.connection_uri` follows Kratos: `smtp://` requires
//! STARTTLS unless `?disable_starttls=true`, `smtps://` is TLS from the start, and
//! `?skip_ssl_verify=true` accepts any certificate (for test servers only).

use std::fmt;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use percent_encoding::percent_decode_str;

use super::CourierMessageRow;
use crate::outbox::CALL_TIMEOUT;

/// How the connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// `smtp://`: STARTTLS, required.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Implicit,
    /// `smtp://…?disable_starttls=true`: cleartext (a local relay or a test sink).
    Cleartext,
}

/// The SMTP server and sender, parsed from the settings. `Debug` leaves out the password.
#[derive(Clone)]
pub struct SmtpTarget {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub accept_invalid_certs: bool,
    credentials: Option<(String, String)>,
    pub from: Mailbox,
    pub local_name: String,
}

impl fmt::Debug for SmtpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("accept_invalid_certs", &self.accept_invalid_certs)
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .field("from", &self.from.to_string())
            .finish()
    }
}

/// Which setting is wrong, and why (never the URI itself: it may hold a password).
#[derive(Debug)]
pub struct InvalidTarget {
    pub key: &'static str,
    pub message: String,
}

impl SmtpTarget {
    pub fn parse(
        uri: &str,
        from_address: &str,
        from_name: Option<&str>,
        local_name: &str,
    ) -> Result<SmtpTarget, InvalidTarget> {
        let bad = |message: &str| InvalidTarget {
            key: "courier.smtp.connection_uri",
            message: message.to_string(),
        };
        let url = url::Url::parse(uri).map_err(|e| bad(&format!("is not a URL ({e})")))?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let flag = |name: &str| {
            url.query_pairs()
                .any(|(k, v)| k == name && v.eq_ignore_ascii_case("true"))
        };
        let (security, default_port) = match url.scheme() {
            "smtp" if flag("disable_starttls") => (Security::Cleartext, 25),
            "smtp" => (Security::StartTls, 587),
            "smtps" => (Security::Implicit, 465),
            _ => return Err(bad("must start with smtp:// or smtps://")),
        };
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let credentials = (!url.username().is_empty()).then(|| {
            (
                decode(url.username()),
                decode(url.password().unwrap_or_default()),
            )
        });
        let address = from_address.parse().map_err(|e| InvalidTarget {
            key: "courier.smtp.from_address",
            message: format!("is not an email address ({e})"),
        })?;
        let from = Mailbox::new(from_name.map(str::to_string), address);
        if local_name.is_empty() || local_name.contains(char::is_whitespace) {
            return Err(InvalidTarget {
                key: "courier.smtp.local_name",
                message: "must be a host name".into(),
            });
        }
        Ok(SmtpTarget {
            host,
            port: url.port().unwrap_or(default_port),
            security,
            accept_invalid_certs: flag("skip_ssl_verify"),
            credentials,
            from,
            local_name: local_name.to_string(),
        })
    }
}

/// Sends courier messages; cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    pub fn new(target: SmtpTarget) -> anyhow::Result<Mailer> {
        let tls = || {
            TlsParameters::builder(target.host.clone())
                .dangerous_accept_invalid_certs(target.accept_invalid_certs)
                .build_rustls()
        };
        let tls = match target.security {
            Security::StartTls => Tls::Required(tls()?),
            Security::Implicit => Tls::Wrapper(tls()?),
            Security::Cleartext => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&target.host)
            .port(target.port)
            .tls(tls)
            .timeout(Some(CALL_TIMEOUT))
            .hello_name(ClientId::Domain(target.local_name.clone()));
        if let Some((user, password)) = target.credentials {
            builder = builder.credentials(Credentials::new(user, password));
        }
        Ok(Mailer {
            transport: builder.build(),
            from: target.from,
        })
    }

    /// One delivery: a `multipart/alternative` mail with the plain-text and HTML bodies. The
    /// error names what failed, never the body.
    pub async fn send(&self, message: CourierMessageRow) -> Result<(), String> {
        let to: Mailbox = message
            .recipient
            .parse()
            .map_err(|e| format!("the recipient is not an email address: {e}"))?;
        let mail = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject)
            .message_id(Some(format!(
                "<{}@{}>",
                message.id.0,
                self.from.email.domain()
            )))
            .multipart(MultiPart::alternative_plain_html(
                message.body,
                message.html_body,
            ))
            .map_err(|e| format!("the mail could not be built: {e}"))?;
        self.transport
            .send(mail)
            .await
            .map(|_| ())
            .map_err(|e| format!("SMTP delivery failed: {}", describe(&e)))
    }
}

/// The error with its causes (`Connection error: connection refused`).
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
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

    fn parse(uri: &str) -> Result<SmtpTarget, InvalidTarget> {
        SmtpTarget::parse(uri, "no-reply@example.com", Some("Olympus"), "localhost")
    }

    #[test]
    fn connection_uris_follow_kratos() {
        let t = parse("smtp://user%40x:p%40ss@mail.test:2525/").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.security),
            ("mail.test", 2525, Security::StartTls)
        );
        assert_eq!(t.credentials, Some(("user@x".into(), "p@ss".into())));
        assert!(
            !format!("{t:?}").contains("p@ss"),
            "Debug hides the password"
        );
        let t = parse("smtps://mail.test/?skip_ssl_verify=true").unwrap();
        assert_eq!(
            (t.port, t.security, t.accept_invalid_certs),
            (465, Security::Implicit, true)
        );
        let t = parse("smtp://127.0.0.1:1025/?disable_starttls=true").unwrap();
        assert_eq!(
            (t.port, t.security, t.credentials),
            (1025, Security::Cleartext, None)
        );
        assert_eq!(parse("smtp://mail.test").unwrap().port, 587);
        for bad in ["http://mail.test", "smtp://", "not a url"] {
            assert_eq!(
                parse(bad).unwrap_err().key,
                "courier.smtp.connection_uri",
                "{bad}"
            );
        }
        let err = SmtpTarget::parse("smtp://m.test", "nope", None, "localhost").unwrap_err();
        assert_eq!(err.key, "courier.smtp.from_address");
    }
}
