//! What the verification and recovery flows share: both send a one-time code to an email
//! address and take it back (Kratos' `code` method). One code per flow, stored as a keyed hash
//! bound to the flow; at most [`MAX_SUBMISSIONS`] submissions per code; consumed by one
//! conditional update; valid while the flow is (`selfservice.flows.<flow>.lifespan`).
//!
//! An address that belongs to no account gets exactly the answer a known one gets, after the
//! same lookups, code generation, hashing and writes; only the mail differs (none, or Kratos'
//! "invalid" mail when `notify_unknown_recipients` is on).

pub mod handlers;
pub mod limits;
mod settings;
pub mod steps;
pub mod store;
pub mod text;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use service_kit::db::Id;
use service_kit::settings::SecretList;
use sha2::Sha256;
use shared_types::code_flow::CodeFlow;
use shared_types::flow::{UiNode, UiNodeAttributes, UiNodeMeta, UiText};
use url::Url;

use super::messages::FlowMessages;
use crate::courier::TemplateType;
pub use settings::{CodeFlowConfig, CodeFlowSettings};
pub use store::CodeFlowRow;

pub const STATE_CHOOSE: &str = "choose_method";
pub const STATE_SENT: &str = "sent_email";
pub const STATE_PASSED: &str = "passed_challenge";
/// Submissions a code allows (Kratos' `selfservice.methods.code.config.max_submissions`).
pub const MAX_SUBMISSIONS: i32 = 5;
const CODE_DIGITS: usize = 6;

/// Which flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Verification,
    Recovery,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Verification => "verification",
            Kind::Recovery => "recovery",
        }
    }

    pub fn template(self, known: bool) -> TemplateType {
        match (self, known) {
            (Kind::Verification, true) => TemplateType::VerificationCodeValid,
            (Kind::Verification, false) => TemplateType::VerificationCodeInvalid,
            (Kind::Recovery, true) => TemplateType::RecoveryCodeValid,
            (Kind::Recovery, false) => TemplateType::RecoveryCodeInvalid,
        }
    }

    /// The template variable that carries the code.
    pub fn code_variable(self) -> &'static str {
        match self {
            Kind::Verification => "VerificationCode",
            Kind::Recovery => "RecoveryCode",
        }
    }
}

/// A new flow in `choose_method`; browser flows are bound to `csrf_token_hash`.
pub fn new_flow(
    browser: bool,
    request_url: String,
    return_to: Option<Url>,
    csrf_token_hash: Option<String>,
    messages: FlowMessages,
    now: DateTime<Utc>,
    lifespan: Duration,
) -> CodeFlowRow {
    let at = now.naive_utc();
    CodeFlowRow {
        id: Id::new_v7(),
        flow_type: if browser { "browser" } else { "api" }.into(),
        request_url,
        return_to: return_to.map(String::from),
        csrf_token_hash,
        state: STATE_CHOOSE.into(),
        active: None,
        address: None,
        address_id: None,
        code_hash: None,
        code_attempts: 0,
        ui_messages: messages.to_json(),
        issued_at: at,
        expires_at: (now + lifespan).naive_utc(),
        created_at: at,
        updated_at: at,
    }
}

/// A fresh code: [`CODE_DIGITS`] decimal digits.
pub fn new_code() -> String {
    let n: u32 = rand::rng().random_range(0..10u32.pow(CODE_DIGITS as u32));
    format!("{n:0width$}", width = CODE_DIGITS)
}

/// Keyed hashes of codes, bound to their flow: a database reader learns nothing, and a code
/// works only in the flow it was sent for.
pub struct CodeHasher {
    keys: Vec<Vec<u8>>,
}

impl CodeHasher {
    pub fn new(secrets: &SecretList) -> Self {
        CodeHasher {
            keys: secrets
                .all()
                .iter()
                .map(|s| s.expose().as_bytes().to_vec())
                .collect(),
        }
    }

    fn mac(key: &[u8], kind: Kind, flow: Id, code: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
        mac.update(b"flow-code:");
        mac.update(kind.name().as_bytes());
        mac.update(flow.0.as_bytes());
        mac.update(code.as_bytes());
        mac
    }

    pub fn hash(&self, kind: Kind, flow: Id, code: &str) -> String {
        URL_SAFE_NO_PAD.encode(
            Self::mac(&self.keys[0], kind, flow, code)
                .finalize()
                .into_bytes(),
        )
    }

    /// Whether `code` is the one `stored` was made from, under any configured secret; compared
    /// in constant time. Every key is tried, so the work does not depend on the answer.
    pub fn matches(&self, kind: Kind, flow: Id, code: &str, stored: Option<&str>) -> bool {
        let stored = stored
            .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
            .unwrap_or_default();
        self.keys.iter().fold(false, |found, key| {
            Self::mac(key, kind, flow, code.trim())
                .verify_slice(&stored)
                .is_ok()
                | found
        })
    }
}

/// A plain address check: the schema validated stored addresses; this only keeps nonsense out
/// of lookups and mail headers.
pub fn plausible_email(value: &str) -> bool {
    let value = value.trim();
    value.len() <= 320
        && !value.chars().any(|c| c.is_control() || c.is_whitespace())
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        })
}

fn input(name: &str, kind: &str, value: Option<String>, label: Option<UiText>) -> UiNode {
    UiNode {
        node_type: "input".into(),
        group: if name == "csrf_token" {
            "default"
        } else {
            "code"
        }
        .into(),
        attributes: UiNodeAttributes {
            name: Some(name.into()),
            input_type: Some(kind.into()),
            value: value.map(serde_json::Value::String),
            required: matches!(kind, "email" | "text" | "hidden").then_some(true),
            autocomplete: match name {
                "email" if kind == "email" => Some("email".into()),
                "code" => Some("one-time-code".into()),
                _ => None,
            },
            disabled: false,
            node_type: "input".into(),
            ..Default::default()
        },
        messages: Vec::new(),
        meta: UiNodeMeta { label },
    }
}

/// The flow as Kratos shows it. The form depends on the state: the address first, then the code
/// (with a button that sends a new one), then nothing.
pub fn to_wire(
    kind: Kind,
    row: &CodeFlowRow,
    public: &Url,
    masked_csrf: Option<String>,
) -> CodeFlow {
    let messages = FlowMessages::from_json(&row.ui_messages);
    let mut nodes = Vec::new();
    if let Some(token) = masked_csrf {
        nodes.push(input("csrf_token", "hidden", Some(token), None));
    }
    match row.state.as_str() {
        STATE_SENT => {
            nodes.push(input("code", "text", None, Some(text::label_code())));
            nodes.push(input(
                "method",
                "submit",
                Some("code".into()),
                Some(text::label_submit()),
            ));
            nodes.push(input(
                "email",
                "submit",
                row.address.clone(),
                Some(text::label_resend()),
            ));
        }
        STATE_PASSED => {}
        _ => {
            nodes.push(input(
                "email",
                "email",
                row.address.clone(),
                Some(text::label_email()),
            ));
            nodes.push(input(
                "method",
                "submit",
                Some("code".into()),
                Some(text::label_submit()),
            ));
        }
    }
    let ui = messages.into_ui(public, kind.name(), row.id, nodes);
    CodeFlow {
        id: row.id.0,
        flow_type: row.flow_type.clone(),
        expires_at: row.expires_at.and_utc(),
        issued_at: row.issued_at.and_utc(),
        request_url: row.request_url.clone(),
        return_to: row.return_to.clone(),
        active: row.active.clone(),
        state: row.state.clone(),
        ui,
        continue_with: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use service_kit::settings::Secret;

    #[test]
    fn codes_are_six_digits_bound_to_their_flow() {
        let code = new_code();
        assert_eq!(code.len(), 6);
        assert!(code.chars().all(|c| c.is_ascii_digit()));
        let old = Secret::new("o".repeat(32));
        let hasher = CodeHasher::new(&SecretList::new([old.clone()]));
        let (flow, other) = (Id::new_v7(), Id::new_v7());
        let stored = hasher.hash(Kind::Recovery, flow, "123456");
        assert!(hasher.matches(Kind::Recovery, flow, "123456", Some(&stored)));
        assert!(hasher.matches(Kind::Recovery, flow, " 123456 ", Some(&stored)));
        assert!(
            !hasher.matches(Kind::Recovery, other, "123456", Some(&stored)),
            "another flow"
        );
        assert!(
            !hasher.matches(Kind::Verification, flow, "123456", Some(&stored)),
            "another kind"
        );
        assert!(!hasher.matches(Kind::Recovery, flow, "123457", Some(&stored)));
        assert!(!hasher.matches(Kind::Recovery, flow, "123456", None));
        // After a rotation the old secret still verifies.
        let rotated = CodeHasher::new(&SecretList::new([Secret::new("n".repeat(32)), old]));
        assert!(rotated.matches(Kind::Recovery, flow, "123456", Some(&stored)));
    }

    #[test]
    fn plausible_emails() {
        assert!(plausible_email("ada@example.com"));
        for bad in [
            "ada",
            "@example.com",
            "ada@localhost",
            "a b@example.com",
            "a@b@c.d",
            "a\u{0}@x.y",
        ] {
            assert!(!plausible_email(bad), "{bad}");
        }
    }
}
