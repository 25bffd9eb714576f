//! identity-svc's self-service browser flows as pages: `/login?flow=`, `/registration`,
//! `/recovery`, `/verification` and `/settings`, all rendered by one generic `flow.html` from the
//! flow's `ui.nodes` and `ui.messages`, so that a new method needs no new template. Without
//! `flow`, a page starts a new browser flow at identity-svc; a flow that expired, is unknown or
//! belongs to another browser starts again instead of dead-ending.

mod fetch;
mod qr;
mod restart;
mod sessions;
mod view;

#[cfg(test)]
mod tests;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use service_kit::http::RequestId;
use tera::Context;

use crate::pages::ErrorPage;
use crate::render;
use crate::state::AppState;
use fetch::Fetched;

/// login-ui's own WebAuthn script: reads the options identity-svc puts in the nodes.
const WEBAUTHN_JS: &str = include_str!("../../static/webauthn.js");

/// The self-service flows of identity-svc, by the name in their URLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowKind {
    Login,
    Registration,
    Recovery,
    Verification,
    Settings,
}

impl FlowKind {
    pub fn name(self) -> &'static str {
        match self {
            FlowKind::Login => "login",
            FlowKind::Registration => "registration",
            FlowKind::Recovery => "recovery",
            FlowKind::Verification => "verification",
            FlowKind::Settings => "settings",
        }
    }
}

/// What a flow page's query may carry: the flow, or how to start one.
#[derive(Debug, Default, Deserialize)]
pub struct FlowQuery {
    pub flow: Option<String>,
    pub return_to: Option<String>,
    /// Login only: `aal2` asks for the second factor, `refresh=true` for a new sign-in.
    pub aal: Option<String>,
    pub refresh: Option<String>,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/registration", web::get().to(get_registration))
        .route("/recovery", web::get().to(get_recovery))
        .route("/verification", web::get().to(get_verification))
        .route("/settings", web::get().to(get_settings))
        .route(
            "/settings/sessions/revoke",
            web::post().to(sessions::post_revoke_session),
        )
        .route("/static/webauthn.js", web::get().to(get_webauthn_js));
}

async fn get_registration(
    state: web::Data<AppState>,
    req: HttpRequest,
    rid: RequestId,
    query: web::Query<FlowQuery>,
) -> HttpResponse {
    page(&state, &req, &rid, FlowKind::Registration, &query).await
}

async fn get_recovery(
    state: web::Data<AppState>,
    req: HttpRequest,
    rid: RequestId,
    query: web::Query<FlowQuery>,
) -> HttpResponse {
    page(&state, &req, &rid, FlowKind::Recovery, &query).await
}

async fn get_verification(
    state: web::Data<AppState>,
    req: HttpRequest,
    rid: RequestId,
    query: web::Query<FlowQuery>,
) -> HttpResponse {
    page(&state, &req, &rid, FlowKind::Verification, &query).await
}

async fn get_settings(
    state: web::Data<AppState>,
    req: HttpRequest,
    rid: RequestId,
    query: web::Query<FlowQuery>,
) -> HttpResponse {
    page(&state, &req, &rid, FlowKind::Settings, &query).await
}

/// Static and identical for everyone: cached briefly, like the stylesheet.
async fn get_webauthn_js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("cache-control", "public, max-age=3600"))
        .body(WEBAUTHN_JS)
}

/// The flow page for `query`: the flow named, or a new one.
pub async fn page(
    state: &AppState,
    req: &HttpRequest,
    rid: &RequestId,
    kind: FlowKind,
    query: &FlowQuery,
) -> HttpResponse {
    let Some(id) = query.flow.as_deref() else {
        return see_other(start_url(state, kind, query).as_str());
    };
    let cookie = cookies(req);
    match fetch::flow(&state.upstreams, kind, id, cookie, rid).await {
        Ok(Fetched::Flow(flow)) => {
            let mut response = show(state, req, rid, kind, &flow).await;
            restart::forget(req, kind, &mut response);
            response
        }
        Ok(Fetched::Follow(to)) => restart::follow(state, req, &to),
        Ok(Fetched::Restart(to)) => restart::again(state, req, kind, query, to.as_deref()),
        Ok(Fetched::Unusable(status)) => {
            let status = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_REQUEST);
            restart::refused(state, req, kind, query, status)
        }
        Ok(Fetched::Home) => see_other("/"),
        Err(e) => {
            tracing::error!(error = %e, "an upstream call failed");
            let page = ErrorPage::new(502, "error.unavailable.title", "error.unavailable.message");
            render::error_page(state, req, StatusCode::BAD_GATEWAY, &page)
        }
    }
}

/// identity-svc's `/self-service/<flow>/browser`, keeping `return_to` (and `aal`/`refresh`
/// for login); identity-svc checks `return_to` against its allow-list.
pub fn start_url(state: &AppState, kind: FlowKind, query: &FlowQuery) -> url::Url {
    let mut url = state
        .upstreams
        .identity_public()
        .join(&format!("self-service/{}/browser", kind.name()))
        .expect("a fixed relative path joins");
    {
        let mut pairs = url.query_pairs_mut();
        if let Some(to) = query.return_to.as_deref().filter(|t| !t.is_empty()) {
            pairs.append_pair("return_to", to);
        }
        if kind == FlowKind::Login {
            if let Some(aal) = query
                .aal
                .as_deref()
                .filter(|a| *a == "aal1" || *a == "aal2")
            {
                pairs.append_pair("aal", aal);
            }
            if query.refresh.as_deref() == Some("true") {
                pairs.append_pair("refresh", "true");
            }
        }
    }
    if url.query() == Some("") {
        url.set_query(None);
    }
    url
}

async fn show(
    state: &AppState,
    req: &HttpRequest,
    rid: &RequestId,
    kind: FlowKind,
    flow: &serde_json::Value,
) -> HttpResponse {
    let forms = view::forms(&flow["ui"], kind == FlowKind::Settings);
    let mut context = Context::new();
    context.insert("flow_kind", kind.name());
    context.insert("title_key", &title_key(kind, flow));
    context.insert("flow_state", flow["state"].as_str().unwrap_or_default());
    context.insert("action", flow["ui"]["action"].as_str().unwrap_or_default());
    context.insert("method", flow["ui"]["method"].as_str().unwrap_or("POST"));
    context.insert("messages", &view::ui_texts(&flow["ui"]["messages"]));
    context.insert("webauthn", &view::needs_webauthn(&forms));
    context.insert("forms", &forms);
    context.insert("links", &links(kind, flow));
    if kind != FlowKind::Settings {
        return render::page(state, req, "flow.html", context);
    }
    let lang = render::language(state, req);
    let (list, new_cookie) = sessions::listed(state, req, rid, &lang).await;
    context.insert("sessions", &list);
    let mut response = render::page(state, req, "flow.html", context);
    if let Some(cookie) = new_cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

/// The page heading's text key: a login asking for the second factor or a fresh sign-in says so.
fn title_key(kind: FlowKind, flow: &serde_json::Value) -> String {
    match kind {
        FlowKind::Login if flow["requested_aal"] == "aal2" => "flow.login.title_aal2".into(),
        FlowKind::Login if flow["refresh"] == true => "flow.login.title_refresh".into(),
        other => format!("flow.{}.title", other.name()),
    }
}

/// A link under a flow: where it goes and its text key.
#[derive(Debug, serde::Serialize)]
struct Link {
    href: &'static str,
    key: &'static str,
}

/// The other flows a person may want from here (none once signed in, nor during a step-up).
fn links(kind: FlowKind, flow: &serde_json::Value) -> Vec<Link> {
    let link = |href, key| Link { href, key };
    match kind {
        FlowKind::Login if flow["requested_aal"] == "aal2" || flow["refresh"] == true => vec![],
        FlowKind::Login => vec![
            link("/registration", "flow.link.registration"),
            link("/recovery", "flow.link.recovery"),
        ],
        FlowKind::Registration => vec![link("/login", "flow.link.login")],
        FlowKind::Recovery | FlowKind::Verification => {
            vec![link("/login", "flow.link.back_to_login")]
        }
        FlowKind::Settings => vec![link("/", "flow.link.home")],
    }
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("location", location))
        .insert_header(("cache-control", "no-store"))
        .finish()
}

/// The browser's cookies, forwarded to identity-svc (which set them).
fn cookies(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(actix_web::http::header::COOKIE)
        .and_then(|v| v.to_str().ok())
}

/// A sample context, so that a theme's `flow.html` is checked at start.
pub fn sample() -> Context {
    let ui = serde_json::json!({"action": "https://id.example/self-service/settings?flow=1", "method": "POST", "nodes": [
        {"type": "input", "group": "default", "attributes": {"name": "csrf_token", "type": "hidden", "value": "t", "node_type": "input"}, "messages": [], "meta": {}},
        {"type": "input", "group": "profile", "attributes": {"name": "traits.email", "type": "email", "value": "a@example.com", "required": true, "node_type": "input"},
         "messages": [{"id": 4000002, "text": "missing", "type": "error"}], "meta": {"label": {"id": 1070002, "text": "E-Mail", "type": "info"}}},
        {"type": "input", "group": "profile", "attributes": {"name": "method", "type": "submit", "value": "profile", "node_type": "input"}, "messages": [], "meta": {"label": {"id": 1070003, "text": "Save", "type": "info"}}},
        {"type": "text", "group": "totp", "attributes": {"id": "totp_qr", "text": {"id": 1050005, "text": "otpauth://totp/O:a?secret=JBSWY3DPEHPK3PXP", "type": "info"}, "node_type": "text"}, "messages": [], "meta": {"label": {"id": 1050011, "text": "QR", "type": "info"}}},
        {"type": "text", "group": "lookup_secret", "attributes": {"id": "lookup_secret_codes", "text": {"id": 1050015, "text": "a, b", "type": "info", "context": {"secrets": [{"id": 1050009, "text": "a", "type": "info"}]}}, "node_type": "text"}, "messages": [], "meta": {}},
        {"type": "input", "group": "webauthn", "attributes": {"name": "webauthn_register_trigger", "type": "button", "value": "{}", "node_type": "input"}, "messages": [], "meta": {"label": {"id": 1050012, "text": "Add security key", "type": "info"}}},
        {"type": "a", "group": "default", "attributes": {"id": "link", "href": "/", "title": {"id": 1, "text": "Home", "type": "info"}, "node_type": "a"}, "messages": [], "meta": {}},
        {"type": "img", "group": "default", "attributes": {"id": "img", "src": "data:image/png;base64,AA", "width": 1, "height": 1, "node_type": "img"}, "messages": [], "meta": {}}
    ]});
    let forms = view::forms(&ui, true);
    let mut context = Context::new();
    context.insert("lang", "en");
    context.insert("csp_nonce", "n");
    context.insert("flow_kind", "settings");
    context.insert("title_key", "flow.settings.title");
    context.insert("flow_state", "show_form");
    context.insert("action", ui["action"].as_str().unwrap_or_default());
    context.insert("method", "POST");
    let messages = serde_json::json!([{"id": 1050001, "text": "saved", "type": "success"}]);
    context.insert("messages", &view::ui_texts(&messages));
    context.insert("webauthn", &view::needs_webauthn(&forms));
    context.insert("forms", &forms);
    context.insert("links", &links(FlowKind::Settings, &ui));
    context.insert("sessions", &sessions::sample());
    context
}
