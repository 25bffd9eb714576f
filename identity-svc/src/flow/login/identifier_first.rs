//! Identifier-first login (`selfservice.flows.login.style: identifier_first`): a first-factor
//! login flow first asks only for the identifier; submitting it (`method=identifier_first`)
//! keeps the same flow and shows the first-factor methods with the identifier fixed.
//!
//! No account enumeration: the identifier is never looked up at that step, and the second
//! screen offers every enabled first-factor method (password, passkey, upstream providers)
//! whoever the identifier names, so known and unknown identifiers get the same flow and the same
//! timing. Step-up (`aal=aal2`) and `refresh=true` flows are unaffected.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared_types::flow::{LoginFlow, UiNode, UiNodeAttributes, UiNodeMeta};

use super::store::LoginFlowRow;
use crate::error::ApiError;
use crate::flow::messages::FlowMessages;
use crate::flow::submit::Submission;
use crate::flow::text;
use crate::state::AppState;

/// The method name, the node group, and the flow's `internal_context` key.
pub const METHOD: &str = "identifier_first";

/// `selfservice.flows.login.style` (Kratos' values).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LoginStyle {
    #[default]
    Unified,
    IdentifierFirst,
}

/// Whether this flow runs in two steps: the style is on, and it is a first-factor sign-in
/// (step-up and refresh flows already know the identity).
pub fn applies(state: &AppState, row: &LoginFlowRow) -> bool {
    state.settings.flows.login_style == LoginStyle::IdentifierFirst
        && row.requested_aal != "aal2"
        && !row.refresh
}

/// The identifier chosen in the first step, if any.
pub fn chosen(row: &LoginFlowRow) -> Option<&str> {
    row.internal_context.0[METHOD]["identifier"]
        .as_str()
        .filter(|s| !s.is_empty())
}

/// Reshapes the unified node list: the first screen shows only the CSRF token, the identifier
/// and a continue button; the second shows the identifier hidden and the first-factor methods.
pub fn shape(state: &AppState, row: &LoginFlowRow, flow: &mut LoginFlow) {
    if !applies(state, row) {
        return;
    }
    let nodes = std::mem::take(&mut flow.ui.nodes);
    flow.ui.nodes = match chosen(row) {
        None => first_screen(nodes),
        Some(identifier) => second_screen(nodes, identifier),
    };
}

fn is_identifier(node: &UiNode) -> bool {
    node.attributes.name.as_deref() == Some("identifier")
}

fn first_screen(nodes: Vec<UiNode>) -> Vec<UiNode> {
    let mut kept: Vec<UiNode> = nodes
        .into_iter()
        .filter(|n| n.group == "default")
        .map(|mut n| {
            if is_identifier(&n) {
                n.group = METHOD.into();
                n.attributes.autocomplete = Some("username webauthn".into());
            }
            n
        })
        .collect();
    kept.push(UiNode {
        node_type: "input".into(),
        group: METHOD.into(),
        attributes: UiNodeAttributes {
            name: Some("method".into()),
            input_type: Some("submit".into()),
            value: Some(Value::String(METHOD.into())),
            disabled: false,
            node_type: "input".into(),
            ..Default::default()
        },
        messages: Vec::new(),
        meta: UiNodeMeta {
            label: Some(text::label_continue()),
        },
    });
    kept
}

fn second_screen(nodes: Vec<UiNode>, identifier: &str) -> Vec<UiNode> {
    nodes
        .into_iter()
        .map(|mut n| {
            if is_identifier(&n) {
                n.group = METHOD.into();
                n.attributes.input_type = Some("hidden".into());
                n.attributes.value = Some(Value::String(identifier.into()));
                n.attributes.autocomplete = None;
                n.meta.label = None;
            }
            n
        })
        .collect()
}

/// `method=identifier_first`: stores the identifier on the flow (no lookup) and clears the
/// messages. `Err` carries the messages of a refused submission.
pub async fn submit(
    state: &AppState,
    row: &mut LoginFlowRow,
    submission: &Submission,
) -> Result<Result<(), FlowMessages>, ApiError> {
    if !applies(state, row) {
        return Ok(Err(FlowMessages::form(text::unsupported_method(METHOD))));
    }
    let Some(identifier) = submission.non_empty("identifier").map(str::trim) else {
        return Ok(Err(FlowMessages::field(
            "identifier",
            text::missing("identifier"),
        )));
    };
    if identifier.is_empty() || identifier.len() > 1024 {
        return Ok(Err(FlowMessages::form(text::invalid_credentials())));
    }
    let value = json!({ "identifier": identifier });
    let now = state.settings.settings.clock.now().naive_utc();
    let (id, stored) = (row.id, value.clone());
    let cleared = FlowMessages::default().to_json();
    state
        .db
        .write(move |c| {
            crate::webauthn::store::swap_login_context(c, id, None, METHOD, stored, now)
                .and_then(|_| super::store::update_ui(c, id, None, cleared, now))
                .map_err(ApiError::from)
        })
        .await?;
    if let Some(object) = row.internal_context.0.as_object_mut() {
        object.insert(METHOD.into(), value);
    } else {
        row.internal_context.0 = json!({ METHOD: value });
    }
    row.ui_messages = FlowMessages::default().to_json();
    row.identifier = None;
    row.updated_at = now;
    Ok(Ok(()))
}

/// The identifier a password submission signs in with: the submitted one, else the one chosen
/// in the first step. A submitted identifier other than the chosen one is refused with the one
/// failed-login answer (4000006), never a hint that the two differ.
pub fn password_identifier(
    row: &LoginFlowRow,
    submission: &mut Submission,
) -> Result<(), FlowMessages> {
    let Some(chosen) = chosen(row) else {
        return Ok(());
    };
    match submission.non_empty("identifier") {
        None => {
            submission.set("identifier", chosen);
            Ok(())
        }
        Some(given) if same(given, chosen) => Ok(()),
        Some(_) => Err(FlowMessages::form(text::invalid_credentials())),
    }
}

fn same(a: &str, b: &str) -> bool {
    a.trim() == b.trim()
        || crate::identity::normalize_identifier(a) == crate::identity::normalize_identifier(b)
}
