//! The UI nodes of the two methods (Kratos' node names). The options a browser hands to
//! `navigator.credentials` travel as JSON strings in node values; `/.well-known/ory/webauthn.js`
//! finds the nodes by name, runs the ceremony and posts its result in the method's field.

use serde_json::{Value, json};
use shared_types::flow::{UiNode, UiNodeAttributes, UiNodeMeta, UiText};

use super::Method;

fn text(id: i64, kind: &str, text: &str, context: Option<Value>) -> UiText {
    UiText {
        id,
        text: text.into(),
        kind: kind.into(),
        context,
    }
}

pub fn label_sign_in_with_passkey() -> UiText {
    text(1010021, "info", "Sign in with passkey", None)
}

pub fn label_use_security_key() -> UiText {
    text(1010008, "info", "Use security key", None)
}

/// The assertion or attestation did not verify (Kratos' generic invalid-credentials answer).
pub fn invalid_credentials() -> UiText {
    text(
        4000006,
        "error",
        "The provided credentials are invalid, check for spelling mistakes in your password or username, email address, or phone number.",
        None,
    )
}

/// Kratos' generic validation message with our reason.
pub fn validation(reason: &str) -> UiText {
    text(4000001, "error", reason, Some(json!({ "reason": reason })))
}

fn input(group: &str, name: &str, kind: &str, value: String, label: Option<UiText>) -> UiNode {
    UiNode {
        node_type: "input".into(),
        group: group.into(),
        attributes: UiNodeAttributes {
            name: Some(name.into()),
            input_type: Some(kind.into()),
            value: Some(Value::String(value)),
            required: None,
            autocomplete: None,
            disabled: false,
            node_type: "input".into(),
            ..Default::default()
        },
        messages: Vec::new(),
        meta: UiNodeMeta { label },
    }
}

/// The options stored for this method in a flow's `internal_context`, as a JSON string.
fn options(context: &Value, method: Method) -> Option<String> {
    let options = context.get(method.name())?.get("options")?;
    serde_json::to_string(options).ok()
}

/// Login: the passkey challenge (aal1 flows) or the security-key challenge (aal2 flows).
pub fn login(context: &Value) -> Vec<UiNode> {
    let mut nodes = Vec::new();
    if let Some(options) = options(context, Method::Passkey) {
        nodes.push(input(
            "passkey",
            "passkey_challenge",
            "hidden",
            options,
            None,
        ));
        nodes.push(input(
            "passkey",
            "passkey_login",
            "hidden",
            String::new(),
            None,
        ));
        let trigger = label_sign_in_with_passkey();
        nodes.push(input(
            "passkey",
            "passkey_login_trigger",
            "button",
            String::new(),
            Some(trigger),
        ));
    }
    if let Some(options) = options(context, Method::Webauthn) {
        nodes.push(input(
            "webauthn",
            "webauthn_login",
            "hidden",
            String::new(),
            None,
        ));
        let label = label_use_security_key();
        nodes.push(input(
            "webauthn",
            "webauthn_login_trigger",
            "button",
            options,
            Some(label),
        ));
    }
    nodes
}

/// Settings: register a new key, and one remove button per key the identity has.
pub fn settings(context: &Value) -> Vec<UiNode> {
    let mut nodes = Vec::new();
    if let Some(options) = options(context, Method::Passkey) {
        let data = json!({"credentialOptions": serde_json::from_str::<Value>(&options).unwrap_or_default()});
        nodes.push(input(
            "passkey",
            "passkey_create_data",
            "hidden",
            data.to_string(),
            None,
        ));
        nodes.push(input(
            "passkey",
            "passkey_register",
            "hidden",
            String::new(),
            None,
        ));
        let label = text(1050019, "info", "Add passkey", None);
        let trigger = input(
            "passkey",
            "passkey_register_trigger",
            "button",
            String::new(),
            Some(label),
        );
        nodes.push(trigger);
        nodes.extend(removals(context, Method::Passkey));
    }
    if let Some(options) = options(context, Method::Webauthn) {
        let name_label = text(1050013, "info", "Name of the security key", None);
        nodes.push(input(
            "webauthn",
            "webauthn_register_displayname",
            "text",
            String::new(),
            Some(name_label),
        ));
        nodes.push(input(
            "webauthn",
            "webauthn_register",
            "hidden",
            String::new(),
            None,
        ));
        let label = text(1050012, "info", "Add security key", None);
        nodes.push(input(
            "webauthn",
            "webauthn_register_trigger",
            "button",
            options,
            Some(label),
        ));
        nodes.extend(removals(context, Method::Webauthn));
    }
    nodes
}

fn removals(context: &Value, method: Method) -> Vec<UiNode> {
    let existing = context[method.name()]["existing"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    existing
        .iter()
        .filter_map(|key| {
            let id = key["id"].as_str()?.to_string();
            let name = key["display_name"].as_str().unwrap_or_default();
            let context = Some(json!({"display_name": name, "added_at": key["added_at"]}));
            let label = match method {
                Method::Passkey => text(
                    1050020,
                    "info",
                    &format!("Remove passkey \"{name}\""),
                    context,
                ),
                Method::Webauthn => text(
                    1050018,
                    "info",
                    &format!("Remove security key \"{name}\""),
                    context,
                ),
            };
            let field = format!("{}_remove", method.name());
            Some(input(method.name(), &field, "submit", id, Some(label)))
        })
        .collect()
}
