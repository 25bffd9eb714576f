//! The settings form's second-factor nodes, rendered from the flow's `internal_context`
//! (`{"totp": …, "lookup_secret": …}`, written by `settings`): enrolment (the secret and a code
//! input) or removal of the TOTP app; recovery codes to confirm, reveal, regenerate or disable.

use serde_json::Value;
use shared_types::flow::{UiNode, UiNodeAttributes, UiNodeMeta, UiText};

use super::{LOOKUP, TOTP, lookup, text, totp};
use crate::flow::settings::store::SettingsFlowRow;
use crate::state::AppState;

fn node(kind: &str, group: &str, attributes: UiNodeAttributes, label: Option<UiText>) -> UiNode {
    UiNode {
        node_type: kind.into(),
        group: group.into(),
        attributes: UiNodeAttributes {
            node_type: kind.into(),
            ..attributes
        },
        messages: Vec::new(),
        meta: UiNodeMeta { label },
    }
}

fn input(group: &str, name: &str, kind: &str, value: Option<&str>, label: UiText) -> UiNode {
    let attributes = UiNodeAttributes {
        name: Some(name.into()),
        input_type: Some(kind.into()),
        value: value.map(|v| Value::String(v.into())),
        required: (kind == "text").then_some(true),
        autocomplete: (name == "totp_code").then(|| "one-time-code".into()),
        ..Default::default()
    };
    node("input", group, attributes, Some(label))
}

fn text_node(group: &str, id: &str, shown: UiText, label: Option<UiText>) -> UiNode {
    let attributes = UiNodeAttributes {
        id: Some(id.into()),
        text: Some(shown),
        ..Default::default()
    };
    node("text", group, attributes, label)
}

/// Appends the second factors' nodes of `row` (none for disabled methods).
pub fn extend(state: &AppState, row: &SettingsFlowRow, nodes: &mut Vec<UiNode>) {
    let context = &row.internal_context.0;
    let mut added = Vec::new();
    if state.mfa.totp.is_some() {
        totp_nodes(state, row, &context[TOTP], &mut added);
    }
    if state.mfa.lookup {
        lookup_nodes(state, row, &context[LOOKUP], &mut added);
    }
    // The form was rendered before these nodes joined it: give them their fields' messages.
    let messages = crate::flow::messages::FlowMessages::from_json(&row.ui_messages);
    for node in &mut added {
        if let Some(name) = &node.attributes.name {
            node.messages = messages.fields.get(name).cloned().unwrap_or_default();
        }
    }
    nodes.extend(added);
}

fn totp_nodes(state: &AppState, row: &SettingsFlowRow, context: &Value, nodes: &mut Vec<UiNode>) {
    if context["enrolled"] == true {
        nodes.push(input(
            TOTP,
            "totp_unlink",
            "submit",
            Some("true"),
            text::unlink_totp(),
        ));
        return;
    }
    let Some(url) = context
        .get("pending")
        .and_then(|p| totp::open(&state.mfa.totp_cipher, p, row.id).ok())
    else {
        return;
    };
    let Ok(secret) = totp::secret_of(&url) else {
        return;
    };
    // The otpauth:// URL for the UI to draw as a QR code (Olympus draws no image itself).
    let qr = UiText {
        id: 1050005,
        text: url.clone(),
        kind: "info".into(),
        context: Some(serde_json::json!({ "url": url })),
    };
    nodes.push(text_node(TOTP, "totp_qr", qr, Some(text::totp_qr())));
    nodes.push(text_node(
        TOTP,
        "totp_secret_key",
        text::totp_secret(&secret),
        Some(text::totp_secret_label()),
    ));
    nodes.push(input(
        TOTP,
        "totp_code",
        "text",
        None,
        text::verify_code_label(),
    ));
    nodes.push(input(
        TOTP,
        "method",
        "submit",
        Some(TOTP),
        crate::flow::text::label_save(),
    ));
}

fn lookup_nodes(state: &AppState, row: &SettingsFlowRow, context: &Value, nodes: &mut Vec<UiNode>) {
    let open = |key: &str| {
        context
            .get(key)
            .and_then(|sealed| lookup::open_pending(&state.mfa.lookup_cipher, sealed, row.id))
    };
    if let Some(codes) = open("pending") {
        nodes.push(codes_node(&codes));
        let confirm = text::confirm_lookup();
        nodes.push(input(
            LOOKUP,
            "lookup_secret_confirm",
            "submit",
            Some("true"),
            confirm,
        ));
        return;
    }
    if let Some(codes) = open("revealed") {
        nodes.push(codes_node(&codes));
    }
    if context["enrolled"] == true {
        if context.get("revealed").is_none() {
            let reveal = text::reveal_lookup();
            nodes.push(input(
                LOOKUP,
                "lookup_secret_reveal",
                "submit",
                Some("true"),
                reveal,
            ));
        }
        let regenerate = text::regenerate_lookup();
        nodes.push(input(
            LOOKUP,
            "lookup_secret_regenerate",
            "submit",
            Some("true"),
            regenerate,
        ));
        let disable = text::disable_lookup();
        nodes.push(input(
            LOOKUP,
            "lookup_secret_disable",
            "submit",
            Some("true"),
            disable,
        ));
    } else {
        let regenerate = text::regenerate_lookup();
        nodes.push(input(
            LOOKUP,
            "lookup_secret_regenerate",
            "submit",
            Some("true"),
            regenerate,
        ));
    }
}

/// The codes as one text node; a used code is stored as `code|used_at` and shown as used.
fn codes_node(codes: &[String]) -> UiNode {
    let mut shown = Vec::new();
    let mut secrets = Vec::new();
    for entry in codes {
        match entry.split_once('|') {
            Some((_, used_at)) => {
                let at = chrono::DateTime::parse_from_rfc3339(used_at)
                    .map(|t| t.to_utc())
                    .unwrap_or_default();
                let used = text::lookup_secret_used(at);
                shown.push(used.text.clone());
                secrets.push(used);
            }
            None => {
                shown.push(entry.clone());
                secrets.push(text::lookup_secret(entry));
            }
        }
    }
    text_node(
        LOOKUP,
        "lookup_secret_codes",
        text::lookup_secret_list(&shown, secrets),
        Some(text::lookup_secret_label()),
    )
}
