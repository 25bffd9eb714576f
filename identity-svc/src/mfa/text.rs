//! The UI texts of the second factors, with Kratos' message ids (`text/id.go`); the English text
//! is a fallback, UIs translate by id.

use serde_json::json;
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

fn info(id: i64, words: &str) -> UiText {
    text(id, "info", words, None)
}

/// 1010004: shown on an aal2 login flow.
pub fn login_mfa() -> UiText {
    info(
        1010004,
        "Please complete the second authentication challenge.",
    )
}

/// 1010006: the label of the TOTP code input at login.
pub fn totp_code_label() -> UiText {
    info(1010006, "Authentication code")
}

/// 1010007: the label of the recovery code input at login.
pub fn lookup_code_label() -> UiText {
    info(1010007, "Backup recovery code")
}

/// 1010009: the TOTP submit button at login.
pub fn use_authenticator() -> UiText {
    info(1010009, "Use Authenticator")
}

/// 1010010: the recovery code submit button at login.
pub fn use_lookup() -> UiText {
    info(1010010, "Use backup recovery code")
}

/// 1050004: the button that removes the TOTP app.
pub fn unlink_totp() -> UiText {
    info(1050004, "Unlink TOTP Authenticator App")
}

/// 1050005: the label of the QR code.
pub fn totp_qr() -> UiText {
    info(1050005, "Authenticator app QR code")
}

/// 1050006: the secret (base32) for typing into an app.
pub fn totp_secret(secret: &str) -> UiText {
    text(1050006, "info", secret, Some(json!({ "secret": secret })))
}

/// 1050017: the label of the secret.
pub fn totp_secret_label() -> UiText {
    info(
        1050017,
        "This is your authenticator app secret. Use it if you can not scan the QR code.",
    )
}

/// 1070006: the label of the TOTP code input in settings.
pub fn verify_code_label() -> UiText {
    info(1070006, "Verify code")
}

/// 1050007.
pub fn reveal_lookup() -> UiText {
    info(1050007, "Reveal backup recovery codes")
}

/// 1050008.
pub fn regenerate_lookup() -> UiText {
    info(1050008, "Generate new backup recovery codes")
}

/// 1050009: one unused code.
pub fn lookup_secret(code: &str) -> UiText {
    text(1050009, "info", code, Some(json!({ "secret": code })))
}

/// 1050010: the label of the list of codes.
pub fn lookup_secret_label() -> UiText {
    info(
        1050010,
        "These are your back up recovery codes. Please keep them in a safe place!",
    )
}

/// 1050011.
pub fn confirm_lookup() -> UiText {
    info(1050011, "Confirm backup recovery codes")
}

/// 1050014: a code used before.
pub fn lookup_secret_used(used_at: chrono::DateTime<chrono::Utc>) -> UiText {
    let at = used_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    text(
        1050014,
        "info",
        format!("Secret was used at {at}"),
        Some(json!({ "used_at": at })),
    )
}

/// 1050015: the list of codes, each a 1050009 or 1050014 text in `context.secrets`.
pub fn lookup_secret_list(shown: &[String], secrets: Vec<UiText>) -> UiText {
    text(
        1050015,
        "info",
        shown.join(", "),
        Some(json!({ "secrets": secrets })),
    )
}

/// 1050016.
pub fn disable_lookup() -> UiText {
    info(1050016, "Disable this method")
}

/// 4000008: a wrong TOTP code.
pub fn totp_invalid() -> UiText {
    text(
        4000008,
        "error",
        "The provided authentication code is invalid, please try again.",
        None,
    )
}

/// 4000011: TOTP asked for but not set up.
pub fn no_totp() -> UiText {
    text(4000011, "error", "You have no TOTP device set up.", None)
}

/// 4000012: a recovery code used before.
pub fn lookup_used() -> UiText {
    text(
        4000012,
        "error",
        "This backup recovery code has already been used.",
        None,
    )
}

/// 4000001: the stored recovery codes open under no configured `secrets.cipher`.
pub fn lookup_unreadable() -> UiText {
    let reason = "Your recovery codes can no longer be shown: the key that protected them was \
                  retired. Generate new recovery codes.";
    text(4000001, "error", reason, Some(json!({ "reason": reason })))
}

/// 4000014: recovery codes asked for but not set up.
pub fn no_lookup() -> UiText {
    text(
        4000014,
        "error",
        "You have no backup recovery codes set up.",
        None,
    )
}

/// 4000016: a code that is not one of the identity's.
pub fn lookup_invalid() -> UiText {
    text(
        4000016,
        "error",
        "The backup recovery code is not valid.",
        None,
    )
}
