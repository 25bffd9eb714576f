//! The `oidc` method's UI texts, with Kratos' message ids.

use shared_types::flow::UiText;

fn text(id: i64, kind: &str, text: String, context: serde_json::Value) -> UiText {
    UiText {
        id,
        text,
        kind: kind.into(),
        context: Some(context),
    }
}

fn provider_context(label: &str, id: &str) -> serde_json::Value {
    serde_json::json!({ "provider": label, "provider_id": id })
}

pub fn sign_in_with(label: &str, id: &str) -> UiText {
    text(
        1010002,
        "info",
        format!("Sign in with {label}"),
        provider_context(label, id),
    )
}

pub fn sign_up_with(label: &str, id: &str) -> UiText {
    text(
        1040002,
        "info",
        format!("Sign up with {label}"),
        provider_context(label, id),
    )
}

pub fn link(label: &str, id: &str) -> UiText {
    text(
        1050002,
        "info",
        format!("Link {label}"),
        provider_context(label, id),
    )
}

pub fn unlink(label: &str, id: &str) -> UiText {
    text(
        1050003,
        "info",
        format!("Unlink {label}"),
        provider_context(label, id),
    )
}

/// The upstream account's address belongs to an existing identity: sign in to link.
pub fn sign_in_to_link(duplicate: &str, provider: &str) -> UiText {
    text(
        1010016,
        "info",
        format!(
            "You tried to sign in with \"{duplicate}\", but that email is already used by another \
             account. Sign in to your account with one of the options below to add your account \
             \"{duplicate}\" at \"{provider}\" as another way to sign in."
        ),
        serde_json::json!({ "duplicateIdentifier": duplicate, "provider": provider }),
    )
}

/// The same situation as an error on the form (Kratos' 4000027).
pub fn account_exists() -> UiText {
    text(
        4000027,
        "error",
        "An account with the same identifier (email, phone, username, ...) exists already. \
         Please sign in to your existing account to link your social profile."
            .into(),
        serde_json::json!({}),
    )
}

/// A failure of the upstream round trip (Kratos' generic validation error, 4000001). Only the
/// OAuth2 error code is shown, never the provider's free text.
pub fn upstream_failed(reason: &str) -> UiText {
    text(
        4000001,
        "error",
        reason.to_string(),
        serde_json::json!({ "reason": reason }),
    )
}

/// Unlinking the only credential would lock the identity out. Kratos' own id for this is not
/// pinned down in our reference, so the generic validation message (4000001) carries it.
pub fn unlink_last() -> UiText {
    upstream_failed("This sign-in method cannot be removed: it is the only one the account has.")
}

pub fn unknown_provider(id: &str) -> UiText {
    upstream_failed(&format!(
        "The OpenID Connect provider {id:?} is not configured."
    ))
}
