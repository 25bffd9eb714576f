//! UI texts with Kratos' message ids; the English text is a fallback, UIs translate by id.

use shared_types::flow::UiText;

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

pub fn label_id() -> UiText {
    text(1070004, "info", "ID", None)
}

pub fn label_password() -> UiText {
    text(1070001, "info", "Password", None)
}

pub fn label_sign_in_with_password() -> UiText {
    text(1010022, "info", "Sign in with password", None)
}

pub fn missing(property: &str) -> UiText {
    text(
        4000002,
        "error",
        format!("Property {property} is missing."),
        Some(serde_json::json!({ "property": property })),
    )
}

/// The one answer to a failed login, whatever failed (IF-01).
pub fn invalid_credentials() -> UiText {
    text(
        4000006,
        "error",
        "The provided credentials are invalid, check for spelling mistakes in your password or username, email address, or phone number.",
        None,
    )
}

pub fn login_flow_expired(minutes_ago: f64) -> UiText {
    text(
        4010001,
        "error",
        format!("The login flow expired {minutes_ago:.2} minutes ago, please try again."),
        Some(serde_json::json!({ "expired_minutes_ago": minutes_ago })),
    )
}

pub fn unsupported_method(method: &str) -> UiText {
    text(
        4010002,
        "error",
        "Could not find a strategy to log you in with. Did you fill out the form correctly?",
        Some(serde_json::json!({ "method": method })),
    )
}
