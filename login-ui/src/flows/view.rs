//! Turns a flow's `ui` (Kratos' `uiContainer`) into what `flow.html` renders: one form per
//! node group, each node classified once (hidden, input, checkbox, submit, WebAuthn trigger,
//! text, recovery codes, QR code, image, link) with its html id, label and messages.
//!
//! Hidden nodes of the `default` group (`csrf_token`) go into every form; its visible nodes
//! (`identifier`, traits) into the form of the group that collects them (identifier-first,
//! password, code or profile), so that every form posts what identity-svc needs.

use serde::Serialize;
use serde_json::Value;

use super::qr;

/// Groups that own the `default` group's visible inputs, by preference.
const PRIMARY_GROUPS: [&str; 4] = ["identifier_first", "password", "code", "profile"];

#[derive(Debug, Serialize)]
pub struct FormView {
    /// `f0`, `f1`…: the prefix of the form's html ids.
    pub id: String,
    pub group: String,
    /// The text key of the form's heading (`flow.group.<group>`), if it has one.
    pub heading: Option<String>,
    pub nodes: Vec<NodeView>,
}

#[derive(Debug, Default, Serialize)]
pub struct NodeView {
    /// hidden, input, checkbox, submit, trigger, text, codes, qr, img, anchor.
    pub kind: &'static str,
    pub id: String,
    pub group: String,
    pub name: String,
    pub input_type: String,
    pub value: String,
    pub checked: bool,
    pub required: bool,
    pub disabled: bool,
    pub autocomplete: String,
    /// The label or shown text as identity-svc sent it (`id`, `text`, `context`), for `t()`.
    pub label: Option<Value>,
    pub text: Option<Value>,
    pub messages: Vec<Value>,
    /// Recovery codes, each identity-svc's text (`id`, `text`, `context`).
    pub codes: Vec<Value>,
    pub src: String,
    pub href: String,
    pub width: Option<i64>,
    pub height: Option<i64>,
}

/// The forms of `ui`, the form with the `default` group's visible inputs first. Every form gets
/// a heading on the settings page (`headings_for_all`), elsewhere all but the first.
pub fn forms(ui: &Value, headings_for_all: bool) -> Vec<FormView> {
    // Script nodes are left out: login-ui's own `/static/webauthn.js` replaces them.
    let nodes: Vec<&Value> = ui["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| matches!(n["type"].as_str(), Some("input" | "text" | "img" | "a")))
        .collect();
    let group_of = |n: &Value| n["group"].as_str().unwrap_or("default").to_string();
    let mut groups: Vec<String> = Vec::new();
    for node in &nodes {
        let group = group_of(node);
        if group != "default" && !groups.contains(&group) {
            groups.push(group);
        }
    }
    if groups.is_empty() {
        groups.push("default".into());
    }
    let primary = PRIMARY_GROUPS
        .iter()
        .find(|g| groups.iter().any(|have| have == *g))
        .map(|g| g.to_string())
        .unwrap_or_else(|| groups[0].clone());
    if let Some(at) = groups.iter().position(|g| *g == primary) {
        let group = groups.remove(at);
        groups.insert(0, group);
    }
    groups
        .into_iter()
        .enumerate()
        .map(|(index, group)| {
            let prefix = format!("f{index}");
            let nodes = nodes
                .iter()
                .filter(|n| {
                    let own = group_of(n);
                    own == group
                        || (own == "default" && (is_hidden(n) || (group == primary && index == 0)))
                })
                .filter_map(|n| node(n, &prefix))
                .collect();
            let heading = (headings_for_all || index > 0).then(|| format!("flow.group.{group}"));
            FormView {
                id: prefix,
                group,
                heading,
                nodes,
            }
        })
        .collect()
}

/// Whether any form has a node that needs `/static/webauthn.js`.
pub fn needs_webauthn(forms: &[FormView]) -> bool {
    forms
        .iter()
        .flat_map(|f| &f.nodes)
        .any(|n| n.kind == "trigger")
}

fn is_hidden(node: &Value) -> bool {
    node["type"] == "input" && node["attributes"]["type"] == "hidden"
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// An html id from the form's prefix and a node name (`traits.email` stays readable).
fn html_id(prefix: &str, name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{prefix}-{cleaned}")
}

fn node(node: &Value, prefix: &str) -> Option<NodeView> {
    let a = &node["attributes"];
    let mut view = NodeView {
        group: plain(&node["group"]),
        label: ui_text(&node["meta"]["label"]),
        messages: ui_texts(&node["messages"]),
        ..Default::default()
    };
    match node["type"].as_str()? {
        "input" => input(&mut view, a, prefix),
        "text" => text(&mut view, a, prefix),
        "img" => {
            view.kind = "img";
            view.id = html_id(prefix, a["id"].as_str().unwrap_or("img"));
            view.src = plain(&a["src"]);
            view.width = a["width"].as_i64();
            view.height = a["height"].as_i64();
        }
        "a" => {
            view.kind = "anchor";
            view.id = html_id(prefix, a["id"].as_str().unwrap_or("link"));
            // Only web addresses: a `javascript:` or `data:` link is shown as text.
            let href = plain(&a["href"]);
            if href.starts_with("https://") || href.starts_with("http://") || href.starts_with('/')
            {
                view.href = href;
            }
            view.text = ui_text(&a["title"]);
        }
        // identity-svc's own scripts are replaced by login-ui's `/static/webauthn.js`.
        _ => return None,
    }
    Some(view)
}

fn input(view: &mut NodeView, a: &Value, prefix: &str) {
    view.name = plain(&a["name"]);
    view.input_type = a["type"].as_str().unwrap_or("text").to_string();
    view.value = plain(&a["value"]);
    view.required = a["required"] == true;
    view.disabled = a["disabled"] == true;
    view.autocomplete = plain(&a["autocomplete"]);
    view.id = html_id(prefix, &view.name);
    view.kind = match view.input_type.as_str() {
        "hidden" => "hidden",
        "checkbox" => {
            view.checked = a["value"] == true || view.value == "true";
            "checkbox"
        }
        "submit" => "submit",
        // `*_trigger` buttons start a WebAuthn ceremony in the browser; other buttons submit.
        "button" if view.name.ends_with("_trigger") => "trigger",
        "button" => "submit",
        _ => "input",
    };
    if view.kind == "input" && view.input_type == "password" {
        // A password is never sent back to the browser.
        view.value.clear();
    }
    if view.kind == "input" && view.autocomplete.is_empty() {
        view.autocomplete = match view.name.as_str() {
            "identifier" => "username",
            "password" => "current-password",
            "totp_code" | "code" | "lookup_secret" => "one-time-code",
            "traits.email" | "email" => "email",
            _ => "",
        }
        .to_string();
    }
}

fn text(view: &mut NodeView, a: &Value, prefix: &str) {
    let id = a["id"].as_str().unwrap_or("text");
    view.id = html_id(prefix, id);
    let shown = &a["text"];
    view.text = ui_text(shown);
    let url = shown["context"]["url"]
        .as_str()
        .or_else(|| shown["text"].as_str())
        .filter(|u| u.starts_with("otpauth://"));
    if id == "totp_qr"
        && let Some(url) = url
        && let Some(src) = qr::data_url(url)
    {
        view.kind = "qr";
        view.src = src;
        return;
    }
    if let Some(secrets) = shown["context"]["secrets"].as_array() {
        view.kind = "codes";
        view.codes = secrets.iter().filter_map(ui_text).collect();
        return;
    }
    view.kind = "text";
}

/// A Kratos `uiText` with every field the templates read (`id`, `text`, `type`, `context`), so
/// that a text identity-svc sent without `context` still renders; `None` if it is no object.
pub fn ui_text(value: &Value) -> Option<Value> {
    let object = value.as_object()?;
    let mut text = object.clone();
    for key in ["id", "text", "type", "context"] {
        text.entry(key).or_insert(Value::Null);
    }
    Some(Value::Object(text))
}

/// [`ui_text`] of each entry of a list of messages.
pub fn ui_texts(value: &Value) -> Vec<Value> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(ui_text)
        .collect()
}
