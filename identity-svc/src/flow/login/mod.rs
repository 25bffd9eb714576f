//! The login flow: a browser flow holds the anti-CSRF binding, the `return_to` target and the
//! messages of its last submission; its UI is a password form described by nodes.

pub mod handlers;
pub mod store;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use service_kit::db::{Id, Json};
use shared_types::flow::{LoginFlow, UiContainer, UiNode, UiNodeAttributes, UiNodeMeta, UiText};
use url::Url;

use super::text;
use store::LoginFlowRow;

pub const STATE_OPEN: &str = "choose_method";
pub const STATE_DONE: &str = "passed_challenge";

/// Messages of the last submission: for the whole form and per field.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct FlowMessages {
    #[serde(default)]
    pub form: Vec<UiText>,
    #[serde(default)]
    pub fields: BTreeMap<String, Vec<UiText>>,
}

impl FlowMessages {
    pub fn form(message: UiText) -> Self {
        FlowMessages {
            form: vec![message],
            fields: BTreeMap::new(),
        }
    }

    pub fn to_json(&self) -> Json {
        Json(serde_json::to_value(self).unwrap_or_default())
    }

    fn from_json(json: &Json) -> Self {
        serde_json::from_value(json.0.clone()).unwrap_or_default()
    }
}

/// What a new flow starts with; no CSRF hash makes an API (native) flow.
pub struct NewFlow {
    pub request_url: String,
    pub return_to: Option<Url>,
    pub refresh: bool,
    pub csrf_token_hash: Option<String>,
    pub messages: FlowMessages,
}

pub fn new_flow(new: NewFlow, now: DateTime<Utc>, lifespan: std::time::Duration) -> LoginFlowRow {
    let at = now.naive_utc();
    let flow_type = if new.csrf_token_hash.is_some() {
        "browser"
    } else {
        "api"
    };
    LoginFlowRow {
        id: Id::new_v7(),
        flow_type: flow_type.into(),
        request_url: new.request_url,
        return_to: new.return_to.map(String::from),
        csrf_token_hash: new.csrf_token_hash,
        state: STATE_OPEN.into(),
        requested_aal: "aal1".into(),
        refresh: new.refresh,
        identifier: None,
        ui_messages: new.messages.to_json(),
        issued_at: at,
        expires_at: (now + lifespan).naive_utc(),
        created_at: at,
        updated_at: at,
    }
}

fn input(
    group: &str,
    name: &str,
    kind: &str,
    value: Option<String>,
    label: Option<UiText>,
) -> UiNode {
    UiNode {
        node_type: "input".into(),
        group: group.into(),
        attributes: UiNodeAttributes {
            name: Some(name.into()),
            input_type: Some(kind.into()),
            value: value.map(serde_json::Value::String),
            required: (kind != "submit").then_some(true),
            autocomplete: match name {
                "identifier" => Some("username".into()),
                "password" => Some("current-password".into()),
                _ => None,
            },
            disabled: false,
            node_type: "input".into(),
        },
        messages: Vec::new(),
        meta: UiNodeMeta { label },
    }
}

/// The flow as Kratos shows it; `masked_csrf` is the form token for this render.
pub fn to_wire(row: &LoginFlowRow, public: &Url, masked_csrf: Option<String>) -> LoginFlow {
    let messages = FlowMessages::from_json(&row.ui_messages);
    let mut nodes = Vec::new();
    if let Some(token) = masked_csrf {
        nodes.push(input("default", "csrf_token", "hidden", Some(token), None));
    }
    nodes.push(input(
        "default",
        "identifier",
        "text",
        row.identifier.clone(),
        Some(text::label_id()),
    ));
    nodes.push(input(
        "password",
        "password",
        "password",
        None,
        Some(text::label_password()),
    ));
    nodes.push(input(
        "password",
        "method",
        "submit",
        Some("password".into()),
        Some(text::label_sign_in_with_password()),
    ));
    for node in &mut nodes {
        if let Some(name) = &node.attributes.name {
            node.messages = messages.fields.get(name).cloned().unwrap_or_default();
        }
    }
    let mut action = public
        .join("self-service/login")
        .expect("a fixed relative path joins");
    action
        .query_pairs_mut()
        .append_pair("flow", &row.id.0.to_string());
    LoginFlow {
        id: row.id.0,
        flow_type: row.flow_type.clone(),
        expires_at: row.expires_at.and_utc(),
        issued_at: row.issued_at.and_utc(),
        request_url: row.request_url.clone(),
        return_to: row.return_to.clone(),
        refresh: row.refresh,
        requested_aal: row.requested_aal.clone(),
        state: row.state.clone(),
        ui: UiContainer {
            action: action.into(),
            method: "POST".into(),
            nodes,
            messages: messages.form,
        },
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
    }
}

/// Whether the flow can no longer be submitted, and since when (expired or already used).
pub fn closed_since(row: &LoginFlowRow, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let expires_at = row.expires_at.and_utc();
    if expires_at <= now {
        Some(expires_at)
    } else if row.state != STATE_OPEN {
        Some(row.updated_at.and_utc())
    } else {
        None
    }
}
