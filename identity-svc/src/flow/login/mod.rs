//! The login flow: a browser flow holds the anti-CSRF binding, the `return_to` target and the
//! messages of its last submission; its UI is a password form described by nodes.

pub mod handlers;
pub mod identifier_first;
pub mod store;

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use service_kit::db::{AnyConnection, Id, Json};
use shared_types::flow::{LoginFlow, UiNode, UiNodeAttributes, UiNodeMeta, UiText};
use url::Url;

use super::lifecycle::{Columns, FlowRow, NewFlow};
use super::messages::FlowMessages;
use super::text;
use crate::state::AppState;
use store::LoginFlowRow;

pub const STATE_OPEN: &str = "choose_method";
pub const STATE_DONE: &str = "passed_challenge";

impl FlowRow for LoginFlowRow {
    const NAME: &'static str = "login";
    /// `refresh`: sign in again although a session exists.
    type Extra = bool;

    fn open(new: NewFlow, refresh: bool, now: DateTime<Utc>, lifespan: Duration) -> Self {
        let o = new.open(now, lifespan);
        LoginFlowRow {
            id: o.id,
            flow_type: o.flow_type,
            request_url: o.request_url,
            return_to: o.return_to,
            csrf_token_hash: o.csrf_token_hash,
            state: STATE_OPEN.into(),
            requested_aal: "aal1".into(),
            refresh,
            identifier: None,
            ui_messages: o.ui_messages,
            issued_at: o.at,
            expires_at: o.expires_at,
            created_at: o.at,
            updated_at: o.at,
            internal_context: Json(serde_json::json!({})),
        }
    }

    fn extra(&self) -> bool {
        self.refresh
    }

    fn columns(&self) -> Columns<'_> {
        Columns {
            id: self.id,
            flow_type: &self.flow_type,
            request_url: &self.request_url,
            return_to: self.return_to.as_deref(),
            csrf_token_hash: self.csrf_token_hash.as_deref(),
            expires_at: self.expires_at,
        }
    }

    /// A flow signs in at most once.
    fn used_since(&self) -> Option<DateTime<Utc>> {
        (self.state != STATE_OPEN).then(|| self.updated_at.and_utc())
    }

    fn restart_params(&self) -> Vec<(&'static str, &str)> {
        if self.requested_aal == "aal2" {
            vec![("aal", "aal2")]
        } else {
            Vec::new()
        }
    }

    fn ui(state: &AppState) -> &Url {
        &state.settings.flows.login_ui
    }

    fn lifespan(state: &AppState) -> Duration {
        state.settings.flows.login_lifespan
    }

    fn expired_message(minutes: f64) -> UiText {
        text::login_flow_expired(minutes)
    }

    fn insert(conn: &mut AnyConnection, row: &Self) -> QueryResult<()> {
        store::insert(conn, row)
    }

    fn find(conn: &mut AnyConnection, id: Id) -> QueryResult<Self> {
        store::find(conn, id)
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
                "password" => Some("current-password".into()),
                _ => None,
            },
            disabled: false,
            node_type: "input".into(),
            ..Default::default()
        },
        messages: Vec::new(),
        meta: UiNodeMeta { label },
    }
}

/// The flow as Kratos shows it; `masked_csrf` is the form token for this render.
pub fn to_wire(row: &LoginFlowRow, public: &Url, masked_csrf: Option<String>) -> LoginFlow {
    if row.requested_aal == "aal2" {
        return crate::mfa::login::to_wire(row, public, masked_csrf);
    }
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
    nodes.extend(crate::webauthn::nodes::login(&row.internal_context.0));
    let ui = messages.into_ui(public, "login", row.id, nodes);
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
        ui,
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
    }
}
