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

/// The identifier-first login's continue button.
pub fn label_continue() -> UiText {
    text(1070009, "info", "Continue", None)
}

pub fn label_password() -> UiText {
    text(1070001, "info", "Password", None)
}

pub fn label_sign_in_with_password() -> UiText {
    text(1010022, "info", "Sign in with password", None)
}

/// The submit button of registration (Kratos' "Sign up").
pub fn label_sign_up() -> UiText {
    text(1040001, "info", "Sign up", None)
}

/// A trait's label, from the schema's `title` (Kratos' generated label).
pub fn label_generated(title: &str) -> UiText {
    text(
        1070002,
        "info",
        title,
        Some(serde_json::json!({ "title": title })),
    )
}

pub fn registration_flow_expired(minutes_ago: f64) -> UiText {
    text(
        4040001,
        "error",
        format!("The registration flow expired {minutes_ago:.2} minutes ago, please try again."),
        Some(serde_json::json!({ "expired_minutes_ago": minutes_ago })),
    )
}

pub fn registration_unsupported_method(method: &str) -> UiText {
    text(
        4040002,
        "error",
        "Could not find a strategy to sign you up with. Did you fill out the form correctly?",
        Some(serde_json::json!({ "method": method })),
    )
}

/// The one answer to a taken identifier, naming none (Kratos' generic 4000007).
pub fn duplicate_credentials() -> UiText {
    text(
        4000007,
        "error",
        "An account with the same identifier (email, phone, username, ...) exists already.",
        None,
    )
}

pub fn validation_generic(reason: &str) -> UiText {
    text(
        4000001,
        "error",
        reason,
        Some(serde_json::json!({ "reason": reason })),
    )
}

pub fn min_length(limit: u64, actual: usize) -> UiText {
    text(
        4000003,
        "error",
        format!("Length must be >= {limit}, but got {actual}."),
        Some(serde_json::json!({ "min_length": limit, "actual_length": actual })),
    )
}

pub fn max_length(limit: u64, actual: usize) -> UiText {
    text(
        4000017,
        "error",
        format!("Length must be <= {limit}, but got {actual}."),
        Some(serde_json::json!({ "max_length": limit, "actual_length": actual })),
    )
}

pub fn invalid_format(reason: &str) -> UiText {
    text(
        4000004,
        "error",
        reason,
        Some(serde_json::json!({ "reason": reason })),
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

pub fn password_too_similar() -> UiText {
    text(
        4000031,
        "error",
        "The password can not be used because it is too similar to the identifier.",
        None,
    )
}

pub fn password_too_short(min: usize, actual: usize) -> UiText {
    text(
        4000032,
        "error",
        format!("The password must be at least {min} characters long, but got {actual}."),
        Some(serde_json::json!({ "min_length": min, "actual_length": actual })),
    )
}

/// Kratos' text says characters and counts bytes; Olympus counts, and says, bytes.
pub fn password_too_long(max: usize, actual: usize) -> UiText {
    text(
        4000033,
        "error",
        format!("The password must be at most {max} bytes long, but got {actual}."),
        Some(serde_json::json!({ "max_length": max, "actual_length": actual })),
    )
}

/// Found on the bundled list of common passwords (Olympus checks offline, so there is no count).
pub fn password_breached() -> UiText {
    text(
        4000034,
        "error",
        "The password has been found in data breaches and must no longer be used.",
        None,
    )
}

/// Olympus' own id (Kratos has no lockout; Olympus' ids start at 4000900): password sign-in is
/// refused for a while after too many failures. The same for every identifier, known or not.
pub fn login_locked(
    until: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> UiText {
    let minutes = ((until - now).num_seconds().max(1) + 59) / 60;
    let unit = if minutes == 1 { "minute" } else { "minutes" };
    text(
        4000900,
        "error",
        format!("Too many failed sign-in attempts; try again in {minutes} {unit}."),
        Some(serde_json::json!({
            "retry_after_minutes": minutes,
            "locked_until": until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        })),
    )
}

/// The submit buttons of the settings form (Kratos' "Save").
pub fn label_save() -> UiText {
    text(1070003, "info", "Save", None)
}

pub fn settings_saved() -> UiText {
    text(1050001, "success", "Your changes have been saved!", None)
}

pub fn settings_flow_expired(minutes_ago: f64) -> UiText {
    text(
        4050001,
        "error",
        format!("The settings flow expired {minutes_ago:.2} minutes ago, please try again."),
        Some(serde_json::json!({ "expired_minutes_ago": minutes_ago })),
    )
}

/// A settings submission whose `method` is neither `profile` nor `password`.
pub fn settings_unsupported_method(method: &str) -> UiText {
    text(
        4000001,
        "error",
        format!("Settings method {method:?} is not supported; use profile or password."),
        Some(serde_json::json!({ "method": method })),
    )
}
