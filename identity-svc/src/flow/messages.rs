//! The messages a flow stores for its next render (Kratos' UI texts, for the whole form and per
//! field), and the form they are rendered into.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use service_kit::db::{Id, Json};
use shared_types::flow::{UiContainer, UiNode, UiText};
use url::Url;

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

    pub fn field(name: &str, message: UiText) -> Self {
        FlowMessages {
            form: Vec::new(),
            fields: BTreeMap::from([(name.to_string(), vec![message])]),
        }
    }

    pub fn to_json(&self) -> Json {
        Json(serde_json::to_value(self).unwrap_or_default())
    }

    pub fn from_json(json: &Json) -> Self {
        serde_json::from_value(json.0.clone()).unwrap_or_default()
    }

    /// The form of a flow as rendered: `nodes` with their fields' messages, the form's own
    /// messages, posting to `/self-service/<name>?flow=<id>`.
    pub fn into_ui(self, public: &Url, name: &str, id: Id, mut nodes: Vec<UiNode>) -> UiContainer {
        for node in &mut nodes {
            if let Some(name) = &node.attributes.name {
                node.messages = self.fields.get(name).cloned().unwrap_or_default();
            }
        }
        let mut action = public
            .join(&format!("self-service/{name}"))
            .expect("a fixed relative path joins");
        action
            .query_pairs_mut()
            .append_pair("flow", &id.0.to_string());
        UiContainer {
            action: action.into(),
            method: "POST".into(),
            nodes,
            messages: self.form,
        }
    }
}
