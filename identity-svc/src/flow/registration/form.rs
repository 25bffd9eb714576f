//! The registration form: ui nodes from the identity schema's traits (names `traits.<path>`,
//! types, `required` and labels from the schema), the submitted fields back into traits, and
//! validation problems as messages on those nodes.

use serde_json::{Map, Value};
use shared_types::flow::{UiNode, UiNodeAttributes, UiNodeMeta, UiText};

use crate::error::ApiError;
use crate::flow::messages::FlowMessages;
use crate::flow::submit::Submission;
use crate::flow::text;
use crate::schema::{IdentitySchema, ProblemKind, TraitProblem};

/// Deeper trait paths are refused before any object is built from them.
const MAX_DEPTH: usize = 16;

/// A leaf of the traits object the form shows as one input.
struct Leaf {
    name: String,
    json_type: String,
    format: Option<String>,
    title: Option<String>,
    required: bool,
}

/// Every input of the form: the CSRF token (browsers), the traits, the password and the submit
/// button. `values` refills the traits of the last submission (never the password).
pub fn nodes(schema: &IdentitySchema, values: Option<&Value>, csrf: Option<String>) -> Vec<UiNode> {
    let mut nodes = Vec::new();
    if let Some(token) = csrf {
        nodes.push(input(
            "default",
            "csrf_token",
            "hidden",
            Some(token.into()),
            None,
            true,
        ));
    }
    nodes.extend(trait_nodes(schema, values, "default"));
    let mut password = input(
        "password",
        "password",
        "password",
        None,
        Some(text::label_password()),
        true,
    );
    password.attributes.autocomplete = Some("new-password".into());
    nodes.push(password);
    nodes.push(input(
        "password",
        "method",
        "submit",
        Some("password".into()),
        Some(text::label_sign_up()),
        false,
    ));
    nodes
}

/// One input per trait leaf, in `group`, filled from `values`. Settings shows the same inputs
/// in the `profile` group.
pub fn trait_nodes(schema: &IdentitySchema, values: Option<&Value>, group: &str) -> Vec<UiNode> {
    let mut nodes = Vec::new();
    for leaf in leaves(schema) {
        let path: Vec<&str> = leaf.name.split('.').skip(1).collect();
        let value = values.and_then(|v| lookup(v, &path)).cloned();
        let label = text::label_generated(leaf.title.as_deref().unwrap_or(path.join(".").as_str()));
        let mut node = input(
            group,
            &leaf.name,
            input_type(&leaf),
            value,
            Some(label),
            leaf.required,
        );
        if leaf.format.as_deref() == Some("email") {
            node.attributes.autocomplete = Some("email".into());
        }
        nodes.push(node);
    }
    nodes
}

pub fn input(
    group: &str,
    name: &str,
    kind: &str,
    value: Option<Value>,
    label: Option<UiText>,
    required: bool,
) -> UiNode {
    UiNode {
        node_type: "input".into(),
        group: group.into(),
        attributes: UiNodeAttributes {
            name: Some(name.into()),
            input_type: Some(kind.into()),
            value,
            required: required.then_some(true),
            autocomplete: None,
            disabled: false,
            node_type: "input".into(),
            ..Default::default()
        },
        messages: Vec::new(),
        meta: UiNodeMeta { label },
    }
}

fn input_type(leaf: &Leaf) -> &'static str {
    match (leaf.json_type.as_str(), leaf.format.as_deref()) {
        ("number" | "integer", _) => "number",
        ("boolean", _) => "checkbox",
        (_, Some("email")) => "email",
        (_, Some("tel")) => "tel",
        (_, Some("uri" | "url")) => "url",
        (_, Some("date")) => "date",
        (_, Some("date-time")) => "datetime-local",
        _ => "text",
    }
}

/// The schema's trait leaves in document order, with dotted names (`traits.name.first`).
fn leaves(schema: &IdentitySchema) -> Vec<Leaf> {
    let mut out = Vec::new();
    if let Some(traits) = schema.document.pointer("/properties/traits") {
        walk(traits, "traits", true, &mut out);
    }
    out
}

fn walk(node: &Value, name: &str, required: bool, out: &mut Vec<Leaf>) {
    let json_type = node.get("type").and_then(Value::as_str).unwrap_or("string");
    if json_type == "object" || node.get("properties").is_some() {
        let Some(Value::Object(properties)) = node.get("properties") else {
            return;
        };
        let required_here: Vec<&str> = node
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for (key, child) in properties {
            let is_required = required && required_here.contains(&key.as_str());
            walk(child, &format!("{name}.{key}"), is_required, out);
        }
        return;
    }
    if json_type == "array" {
        // Lists have no one-input form; they are set through the admin API or JSON.
        return;
    }
    out.push(Leaf {
        name: name.to_string(),
        json_type: json_type.to_string(),
        format: node
            .get("format")
            .and_then(Value::as_str)
            .map(str::to_string),
        title: node
            .get("title")
            .and_then(Value::as_str)
            .map(str::to_string),
        required,
    });
}

fn lookup<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(key))
}

/// The submitted traits: a JSON body's `traits` object, then any `traits.<path>` fields (forms,
/// or dotted keys in JSON) on top. Form strings become numbers and booleans where the schema
/// says so; empty strings are left out, so that a required trait is reported missing.
pub fn traits(
    schema: &IdentitySchema,
    submission: &Submission,
    body: &[u8],
) -> Result<Value, ApiError> {
    let mut traits = Value::Object(Map::new());
    if submission.json {
        let parsed: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("the JSON body is invalid: {e}")))?;
        match parsed.get("traits") {
            None | Some(Value::Null) => {}
            Some(Value::Object(object)) => traits = Value::Object(object.clone()),
            Some(_) => {
                return Err(ApiError::BadRequest("traits must be a JSON object".into()));
            }
        }
    }
    let leaves = leaves(schema);
    for (name, raw) in submission.with_prefix("traits.") {
        let path: Vec<&str> = name.split('.').skip(1).collect();
        if path.len() > MAX_DEPTH || path.iter().any(|p| p.is_empty()) {
            return Err(ApiError::BadRequest(format!(
                "{:?} is not a valid trait field name",
                name.chars().take(64).collect::<String>()
            )));
        }
        if raw.is_empty() {
            continue;
        }
        let json_type = leaves
            .iter()
            .find(|l| l.name == name)
            .map_or("string", |l| l.json_type.as_str());
        set(&mut traits, &path, typed(raw, json_type));
    }
    Ok(traits)
}

fn typed(raw: &str, json_type: &str) -> Value {
    let parsed = match json_type {
        "integer" => raw.trim().parse::<i64>().ok().map(Value::from),
        "number" => raw
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number)),
        "boolean" => match raw {
            "true" | "on" | "1" => Some(Value::Bool(true)),
            "false" | "off" | "0" => Some(Value::Bool(false)),
            _ => None,
        },
        _ => None,
    };
    // Unparseable values stay strings: the schema then reports the wrong type on the field.
    parsed.unwrap_or_else(|| Value::String(raw.to_string()))
}

fn set(target: &mut Value, path: &[&str], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = target;
    for key in parents {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        node = node
            .as_object_mut()
            .expect("made an object above")
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !node.is_object() {
        *node = Value::Object(Map::new());
    }
    node.as_object_mut()
        .expect("made an object above")
        .insert(last.to_string(), value);
}

/// Problems as messages: on the trait's node when the form has one, else on the form.
pub fn messages(problems: Vec<TraitProblem>, schema: &IdentitySchema) -> FlowMessages {
    let names: Vec<String> = leaves(schema).into_iter().map(|l| l.name).collect();
    let mut messages = FlowMessages::default();
    for problem in problems {
        let property = problem
            .field
            .split('.')
            .skip(1)
            .collect::<Vec<_>>()
            .join(".");
        let message = match problem.kind {
            ProblemKind::Required => text::missing(&property),
            ProblemKind::MinLength { limit, actual } => text::min_length(limit, actual),
            ProblemKind::MaxLength { limit, actual } => text::max_length(limit, actual),
            ProblemKind::Format => text::invalid_format(&problem.message),
            ProblemKind::Other => text::validation_generic(&problem.message),
        };
        if names.contains(&problem.field) {
            messages
                .fields
                .entry(problem.field)
                .or_default()
                .push(message);
        } else {
            messages.form.push(message);
        }
    }
    messages
}
