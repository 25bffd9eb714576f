//! The texts of the verification and recovery flows (Kratos' message ids).

use shared_types::flow::UiText;

use super::Kind;

fn text(
    id: i64,
    kind: &str,
    text: impl Into<String>,
    context: Option<serde_json::Value>,
) -> UiText {
    UiText {
        id,
        text: text.into(),
        kind: kind.into(),
        context,
    }
}

pub fn label_email() -> UiText {
    text(1070007, "info", "Email", None)
}

pub fn label_code() -> UiText {
    text(1070006, "info", "Verify code", None)
}

pub fn label_submit() -> UiText {
    text(1070005, "info", "Submit", None)
}

pub fn label_resend() -> UiText {
    text(1070008, "info", "Resend code", None)
}

/// The same answer whether or not the address belongs to an account (no enumeration).
pub fn code_sent(kind: Kind) -> UiText {
    let (id, what) = match kind {
        Kind::Verification => (1080003, "verification"),
        Kind::Recovery => (1060003, "recovery"),
    };
    text(
        id,
        "info",
        format!(
            "An email containing a {what} code has been sent to the email address you provided. \
             If you have not received an email, check the spelling of the address and make sure \
             to use the address you registered with."
        ),
        None,
    )
}

pub fn success(kind: Kind) -> UiText {
    match kind {
        Kind::Verification => text(
            1080002,
            "success",
            "You successfully verified your email address.",
            None,
        ),
        Kind::Recovery => text(
            1060001,
            "success",
            "You successfully recovered your account. Please change your password or set up an \
             alternative login method (e.g. social sign in).",
            None,
        ),
    }
}

pub fn code_invalid(kind: Kind) -> UiText {
    let (id, what) = match kind {
        Kind::Verification => (4070006, "verification"),
        Kind::Recovery => (4060006, "recovery"),
    };
    text(
        id,
        "error",
        format!("The {what} code is invalid or has already been used. Please try again."),
        None,
    )
}

/// The code's attempts are used up (Kratos' `ErrCodeSubmittedTooOften`).
pub fn too_many_attempts() -> UiText {
    text(
        4000001,
        "error",
        "The request was submitted too often. Please request another code.",
        None,
    )
}

pub fn flow_expired(kind: Kind, minutes_ago: f64) -> UiText {
    let (id, what) = match kind {
        Kind::Verification => (4070005, "verification"),
        Kind::Recovery => (4060005, "recovery"),
    };
    text(
        id,
        "error",
        format!("The {what} flow expired {minutes_ago:.2} minutes ago, please try again."),
        Some(serde_json::json!({ "expired_minutes_ago": minutes_ago })),
    )
}

pub fn missing(property: &str) -> UiText {
    text(
        4000002,
        "error",
        format!("Property {property} is missing."),
        Some(serde_json::json!({ "property": property })),
    )
}

pub fn invalid_email(value: &str) -> UiText {
    text(
        4000004,
        "error",
        format!("{value:?} is not valid \"email\""),
        Some(serde_json::json!({ "reason": "not an email address" })),
    )
}

pub fn unsupported_method(kind: Kind, method: &str) -> UiText {
    let (id, what) = match kind {
        Kind::Verification => (4010006, "verify your account"),
        Kind::Recovery => (4010005, "recover your account"),
    };
    text(
        id,
        "error",
        format!("Could not find a strategy to {what} with. Did you fill out the form correctly?"),
        Some(serde_json::json!({ "method": method })),
    )
}
