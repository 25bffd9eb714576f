//! The `ory.sh/kratos` extension of a schema: which traits are login identifiers and
//! verification or recovery addresses, and how to reach their values inside `traits`.

use serde_json::Value;

const EXTENSION: &str = "ory.sh/kratos";

/// A trait the `ory.sh/kratos` extension marks, located by its path inside `traits`.
#[derive(Debug, Default)]
pub(super) struct MarkedTrait {
    pub(super) path: Vec<Step>,
    pub(super) password_identifier: bool,
    pub(super) verification_via: Option<String>,
    pub(super) recovery_via: Option<String>,
    /// `format: email`: such values compare case-insensitively.
    pub(super) email: bool,
}

#[derive(Debug, Clone)]
pub(super) enum Step {
    Property(String),
    /// Every element of an array (a list of e-mail addresses, say).
    Items,
}

pub(super) fn collect_marked(node: &Value, path: &mut Vec<Step>, out: &mut Vec<MarkedTrait>) {
    if let Some(ext) = node.get(EXTENSION) {
        let via = |pointer: &str| {
            ext.pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        out.push(MarkedTrait {
            path: path.clone(),
            password_identifier: ext.pointer("/credentials/password/identifier")
                == Some(&Value::Bool(true)),
            verification_via: via("/verification/via"),
            recovery_via: via("/recovery/via"),
            email: node.get("format").and_then(Value::as_str) == Some("email"),
        });
    }
    if let Some(Value::Object(properties)) = node.get("properties") {
        for (name, child) in properties {
            path.push(Step::Property(name.clone()));
            collect_marked(child, path, out);
            path.pop();
        }
    }
    if let Some(items) = node.get("items").filter(|i| i.is_object()) {
        path.push(Step::Items);
        collect_marked(items, path, out);
        path.pop();
    }
}

pub(super) fn visit(value: &Value, path: &[Step], f: &mut impl FnMut(&Value)) {
    match path.split_first() {
        None => f(value),
        Some((Step::Property(name), rest)) => {
            if let Some(child) = value.get(name) {
                visit(child, rest, f);
            }
        }
        Some((Step::Items, rest)) => value
            .as_array()
            .into_iter()
            .flatten()
            .for_each(|v| visit(v, rest, f)),
    }
}

pub(super) fn visit_mut(value: &mut Value, path: &[Step], f: &mut impl FnMut(&mut Value)) {
    match path.split_first() {
        None => f(value),
        Some((Step::Property(name), rest)) => {
            if let Some(child) = value.get_mut(name) {
                visit_mut(child, rest, f);
            }
        }
        Some((Step::Items, rest)) => value
            .as_array_mut()
            .into_iter()
            .flatten()
            .for_each(|v| visit_mut(v, rest, f)),
    }
}
