//! Rendering of every node kind and group, escaping, identity-svc's answers, and the QR code.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tera::Context;

use super::fetch::{Fetched, interpret};
use super::{qr, view};
use crate::pages::Pages;

fn input(group: &str, name: &str, kind: &str, value: Value, label: Option<(i64, &str)>) -> Value {
    let meta = match label {
        Some((id, text)) => json!({"label": {"id": id, "text": text, "type": "info"}}),
        None => json!({}),
    };
    json!({"type": "input", "group": group, "attributes": {"name": name, "type": kind, "value": value, "disabled": false, "node_type": "input"}, "messages": [], "meta": meta})
}

fn login_ui() -> Value {
    json!({"action": "http://id.test/self-service/login?flow=f1", "method": "POST", "nodes": [
        input("default", "csrf_token", "hidden", json!("csrf-value"), None),
        input("default", "identifier", "text", json!("ada@example.com"), Some((1070004, "ID"))),
        input("password", "password", "password", json!("secret-typed"), Some((1070001, "Password"))),
        input("password", "method", "submit", json!("password"), Some((1010001, "Sign in"))),
        input("oidc", "provider", "submit", json!("github"), Some((1010002, "Sign in with GitHub"))),
        input("passkey", "passkey_challenge", "hidden", json!("{\"publicKey\":{}}"), None),
        input("passkey", "passkey_login", "hidden", json!(""), None),
        input("passkey", "passkey_login_trigger", "button", json!(""), Some((1010021, "Sign in with passkey"))),
        {"type": "script", "group": "webauthn", "attributes": {"src": "http://id.test/.well-known/ory/webauthn.js", "id": "webauthn_script", "node_type": "script"}, "messages": [], "meta": {}}
    ]})
}

fn render(ui: &Value, kind: &str, lang: &str) -> String {
    let pages = Pages::bundled().unwrap();
    let forms = view::forms(ui, kind == "settings");
    let mut context = Context::new();
    context.insert("lang", lang);
    context.insert("csp_nonce", "nonce-123");
    context.insert("flow_kind", kind);
    context.insert("title_key", &format!("flow.{kind}.title"));
    context.insert("flow_state", "show_form");
    context.insert("action", ui["action"].as_str().unwrap());
    context.insert("method", "POST");
    context.insert("messages", &view::ui_texts(&ui["messages"]));
    context.insert("webauthn", &view::needs_webauthn(&forms));
    context.insert("forms", &forms);
    context.insert("links", &Vec::<Value>::new());
    context.insert("sessions", &super::sessions::sample());
    pages.render("flow.html", &context).unwrap()
}

#[test]
fn default_inputs_join_the_password_form_and_hidden_ones_every_form() {
    let forms = view::forms(&login_ui(), false);
    let groups: Vec<&str> = forms.iter().map(|f| f.group.as_str()).collect();
    assert_eq!(groups, ["password", "oidc", "passkey"]);
    let names =
        |i: usize| -> Vec<String> { forms[i].nodes.iter().map(|n| n.name.clone()).collect() };
    assert_eq!(names(0), ["csrf_token", "identifier", "password", "method"]);
    assert_eq!(names(1), ["csrf_token", "provider"]);
    assert!(names(2).contains(&"csrf_token".to_string()));
    assert!(!names(2).contains(&"identifier".to_string()));
    // The script node is replaced by login-ui's own script.
    assert!(
        forms
            .iter()
            .flat_map(|f| &f.nodes)
            .all(|n| !n.kind.is_empty())
    );
    assert!(view::needs_webauthn(&forms));
}

#[test]
fn login_page_renders_fields_buttons_and_the_webauthn_script() {
    let html = render(&login_ui(), "login", "en");
    assert_eq!(html.matches("<form ").count(), 3);
    assert!(html.contains(r#"<input type="hidden" name="csrf_token" value="csrf-value">"#));
    assert!(
        html.contains(r#"<label for="f0-identifier">ID</label>"#),
        "{html}"
    );
    assert!(
        html.contains(
            r#"id="f0-identifier" type="text" name="identifier" value="ada@example.com""#
        )
    );
    assert!(html.contains(r#"autocomplete="username""#));
    // A typed password never comes back.
    assert!(!html.contains("secret-typed"));
    assert!(html.contains(r#"name="method" value="password">Sign in</button>"#));
    assert!(html.contains(r#"name="provider" value="github">Sign in with GitHub</button>"#));
    assert!(
        html.contains(
            r#"type="button" id="f2-passkey_login_trigger" name="passkey_login_trigger""#
        )
    );
    assert!(html.contains(r#"data-webauthn-trigger="passkey_login_trigger""#));
    assert!(
        html.contains(r#"<script nonce="nonce-123" src="/static/webauthn.js" defer></script>"#)
    );
    assert!(!html.contains("well-known/ory/webauthn.js"));
    assert!(!html.contains("onclick") && !html.contains("onload"));
}

#[test]
fn pages_without_webauthn_nodes_load_no_script() {
    let ui = json!({"action": "http://id.test/self-service/recovery?flow=f", "method": "POST", "nodes": [
        input("default", "csrf_token", "hidden", json!("c"), None),
        input("code", "email", "email", json!(""), Some((1070007, "Email"))),
        input("code", "method", "submit", json!("code"), Some((1070005, "Submit"))),
    ]});
    let html = render(&ui, "recovery", "en");
    assert!(!html.contains("<script"));
    assert!(html.contains("Recover your account"));
    assert!(html.contains(r#"autocomplete="email""#));
}

#[test]
fn messages_are_announced_and_linked_to_their_field() {
    let mut ui = login_ui();
    ui["messages"] =
        json!([{"id": 4000006, "text": "The provided credentials are invalid.", "type": "error"}]);
    ui["nodes"][1]["messages"] = json!([{"id": 4000002, "text": "Property identifier is missing.", "type": "error", "context": {"property": "identifier"}}]);
    let html = render(&ui, "login", "en");
    assert!(html.contains(r#"<div class="messages" role="alert" id="flow-messages">"#));
    assert!(html.contains("These credentials are not valid."));
    assert!(html.contains(r#"aria-invalid="true" aria-describedby="f0-identifier-messages""#));
    assert!(
        html.contains(r#"<div class="field-messages" id="f0-identifier-messages" role="alert">"#)
    );
    assert!(html.contains("Please fill in identifier."));
}

#[test]
fn everything_from_identity_svc_is_escaped() {
    let evil = "\"><script>alert(1)</script>";
    let ui = json!({"action": "http://id.test/x?a=1&b=\"><script>", "method": "POST", "nodes": [
        input("default", "csrf_token", "hidden", json!(evil), None),
        input("profile", "traits.name", "text", json!(evil), Some((9999999, evil))),
        {"type": "text", "group": "totp", "attributes": {"id": "totp_secret_key", "text": {"id": 9999998, "text": evil, "type": "info"}, "node_type": "text"}, "messages": [], "meta": {}},
        {"type": "a", "group": "default", "attributes": {"id": "x", "href": "javascript:alert(1)\"", "title": {"id": 9999997, "text": evil, "type": "info"}, "node_type": "a"}, "messages": [], "meta": {}},
    ], "messages": [{"id": 9999996, "text": evil, "type": "error"}]});
    let html = render(&ui, "settings", "en");
    assert!(!html.contains("<script>alert(1)"), "{html}");
    assert!(!html.contains("\"><script"), "{html}");
    assert!(!html.contains("javascript:"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;"));
}

#[test]
fn settings_render_totp_qr_codes_triggers_checkboxes_and_sessions() {
    let otpauth = "otpauth://totp/Olympus:ada%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Olympus";
    let ui = json!({"action": "http://id.test/self-service/settings?flow=s", "method": "POST", "nodes": [
        input("default", "csrf_token", "hidden", json!("c"), None),
        input("profile", "traits.email", "email", json!("ada@example.com"), Some((1070002, "E-Mail"))),
        input("profile", "traits.newsletter", "checkbox", json!(true), Some((1, "Newsletter"))),
        input("profile", "method", "submit", json!("profile"), Some((1070003, "Save"))),
        {"type": "text", "group": "totp", "attributes": {"id": "totp_qr", "text": {"id": 1050005, "text": otpauth, "type": "info", "context": {"url": otpauth}}, "node_type": "text"}, "messages": [], "meta": {"label": {"id": 1050011, "text": "Authenticator app QR code", "type": "info"}}},
        {"type": "text", "group": "totp", "attributes": {"id": "totp_secret_key", "text": {"id": 1050006, "text": "JBSWY3DPEHPK3PXP", "type": "info", "context": {"secret": "JBSWY3DPEHPK3PXP"}}, "node_type": "text"}, "messages": [], "meta": {"label": {"id": 1050017, "text": "This is your authenticator app secret.", "type": "info"}}},
        input("totp", "totp_code", "text", json!(null), Some((1070006, "Verify code"))),
        input("totp", "method", "submit", json!("totp"), Some((1070003, "Save"))),
        {"type": "text", "group": "lookup_secret", "attributes": {"id": "lookup_secret_codes", "text": {"id": 1050015, "text": "abcd1234, efgh5678", "type": "info", "context": {"secrets": [
            {"id": 1050009, "text": "abcd1234", "type": "info", "context": {"secret": "abcd1234"}},
            {"id": 1050014, "text": "Secret was used at 2026-01-01", "type": "info", "context": {"used_at": "2026-01-01"}}]}}, "node_type": "text"}, "messages": [], "meta": {}},
        input("lookup_secret", "lookup_secret_confirm", "submit", json!("true"), Some((1050011, "Confirm"))),
        input("webauthn", "webauthn_register_displayname", "text", json!(""), Some((1050013, "Name of the security key"))),
        input("webauthn", "webauthn_register", "hidden", json!(""), None),
        input("webauthn", "webauthn_register_trigger", "button", json!("{\"publicKey\":{\"challenge\":\"AA\"}}"), Some((1050012, "Add security key"))),
        input("oidc", "unlink", "submit", json!("github"), Some((1050003, "Unlink GitHub"))),
    ]});
    let html = render(&ui, "settings", "en");
    let forms: Vec<&str> = html
        .match_indices("<form class=\"flow-form flow-group-")
        .map(|(i, _)| &html[i + 34..i + 44])
        .collect();
    assert_eq!(forms.len(), 5, "{forms:?}");
    assert!(html.contains(r#"<h2 id="f0-heading">Profile</h2>"#));
    // Autoescaping writes `/` as `&#x2F;`, which the browser reads back in the attribute.
    assert!(
        html.contains(r#"<img src="data:image&#x2F;svg+xml;base64,"#),
        "{html}"
    );
    assert!(html.contains(r#"alt="QR code to scan with your authenticator app""#));
    assert!(
        !html.contains("otpauth://"),
        "the secret URL is drawn, not printed"
    );
    assert!(html.contains("<code>JBSWY3DPEHPK3PXP</code>"));
    assert!(html.contains("<li><code>abcd1234</code></li>"));
    assert!(html.contains("<li><code>Used at 2026-01-01</code></li>"));
    assert!(html.contains(r#"type="checkbox" name="traits.newsletter" value="true" checked"#));
    assert!(html.contains(r#"name="lookup_secret_confirm" value="true""#));
    assert!(html.contains(r#"name="unlink" value="github""#));
    assert!(html.contains(r#"data-webauthn-trigger="webauthn_register_trigger""#));
    assert!(html.contains(r#"autocomplete="one-time-code""#));
    // Other sessions, each with login-ui's own CSRF-protected revoke form.
    assert!(html.contains(r#"action="/settings/sessions/revoke""#));
    assert!(html.contains(r#"name="session_id" value="00000000-0000-0000-0000-000000000000""#));
    // Its time and methods, readable and linked to the revoke button.
    assert!(html.contains(r#"<time datetime="2026-01-01T00:00:00Z">1 Jan 2026, 00:00 UTC</time>"#));
    assert!(html.contains(r#"<dl class="details session-info" id="session-1-info">"#));
    assert!(html.contains(r#"aria-describedby="session-1-info">Sign out this session</button>"#));
    assert!(html.contains("<span>Password</span>"));
    // The WebAuthn script's status texts, in the page's language.
    assert!(html.contains(
        r#"role="status" aria-live="polite" data-unsupported="This browser cannot use passkeys or security keys" data-failed="That did not work, please try again""#
    ));
}

#[test]
fn texts_follow_the_language_and_fall_back_to_identity_svc() {
    let html = render(&login_ui(), "settings", "de");
    assert!(html.contains("Kontoeinstellungen"), "{html}");
    // An id login-ui has no text for shows identity-svc's English text.
    let ui = json!({"action": "a", "method": "POST", "nodes": [], "messages": [{"id": 1234567, "text": "Upstream words", "type": "info"}]});
    let html = render(&ui, "verification", "de");
    // …marked as English on the German page; translated texts are not marked.
    assert!(
        html.contains(r#"data-message-id="1234567" lang="en">Upstream words</p>"#),
        "{html}"
    );
    assert!(!render(&ui, "verification", "en").contains(r#"lang="en">Upstream"#));
    let html = render(&login_ui(), "login", "de");
    assert!(html.contains(r#"<label for="f0-identifier">"#), "{html}");
    // A German text whose `{provider}` the label cannot fill gives way to the English one.
    assert!(html.contains(r#"value="github" lang="en">Sign in with GitHub</button>"#));
    assert!(html.contains("Dieser Browser kann keine Passkeys"));
    let ui = json!({"action": "a", "method": "POST", "nodes": [
        input("password", "method", "submit", json!("password"), Some((1234568, "Go on")))
    ]});
    assert!(render(&ui, "login", "de").contains(r#"lang="en">Go on</button>"#));
}

#[test]
fn qr_codes_are_svg_data_urls() {
    let url = qr::data_url("otpauth://totp/Olympus:ada?secret=JBSWY3DPEHPK3PXP").unwrap();
    let encoded = url.strip_prefix("data:image/svg+xml;base64,").unwrap();
    let svg = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
    assert!(svg.contains("<svg") && svg.contains("<path"), "{svg}");
    assert_ne!(
        qr::data_url("otpauth://totp/a?secret=A").unwrap(),
        qr::data_url("otpauth://totp/b?secret=A").unwrap()
    );
    assert_eq!(qr::data_url(&"x".repeat(5000)), None);
}

#[test]
fn identity_svc_answers_map_to_restart_follow_or_home() {
    let flow = json!({"id": "f", "ui": {"action": "a", "method": "POST", "nodes": []}});
    assert_eq!(
        interpret(StatusCode::OK, &flow),
        Fetched::Flow(flow.clone())
    );
    let expired = json!({"error": {"id": "self_service_flow_expired", "code": 410, "details": {"redirect_to": "http://id.test/self-service/login/browser?return_to=x"}}});
    assert_eq!(
        interpret(StatusCode::GONE, &expired),
        Fetched::Restart(Some(
            "http://id.test/self-service/login/browser?return_to=x".into()
        ))
    );
    assert_eq!(
        interpret(StatusCode::NOT_FOUND, &json!({"error": {"code": 404}})),
        Fetched::Restart(None)
    );
    let csrf = json!({"error": {"id": "security_csrf_violation", "code": 403}});
    assert_eq!(
        interpret(StatusCode::FORBIDDEN, &csrf),
        Fetched::Unusable(StatusCode::FORBIDDEN)
    );
    assert_eq!(
        interpret(StatusCode::BAD_REQUEST, &json!({"error": {"code": 400}})),
        Fetched::Unusable(StatusCode::BAD_REQUEST)
    );
    let aal2 = json!({"error": {"id": "session_aal2_required", "code": 403}, "redirect_browser_to": "http://id.test/self-service/login/browser?aal=aal2"});
    assert_eq!(
        interpret(StatusCode::FORBIDDEN, &aal2),
        Fetched::Follow("http://id.test/self-service/login/browser?aal=aal2".into())
    );
    let signed_in = json!({"error": {"id": "session_already_available", "code": 400}});
    assert_eq!(
        interpret(StatusCode::BAD_REQUEST, &signed_in),
        Fetched::Home
    );
}

#[test]
fn identifier_first_and_provider_buttons_render_generically() {
    let ui = json!({"action": "http://id.test/self-service/login?flow=f", "method": "POST", "nodes": [
        input("default", "csrf_token", "hidden", json!("c"), None),
        input("oidc", "provider", "submit", json!("google"), Some((1010002, "Sign in with Google"))),
        input("identifier_first", "identifier", "text", json!(""), Some((1070004, "ID"))),
        input("identifier_first", "method", "submit", json!("identifier_first"), Some((1070009, "Continue"))),
    ]});
    let forms = view::forms(&ui, false);
    assert_eq!(forms[0].group, "identifier_first");
    assert_eq!(forms[0].heading, None);
    assert_eq!(forms[1].heading.as_deref(), Some("flow.group.oidc"));
    let html = render(&ui, "login", "en");
    assert!(html.contains(r#"name="method" value="identifier_first">Continue</button>"#));
    assert!(html.contains(r#"name="provider" value="google">Sign in with Google</button>"#));
    assert!(html.contains("Other sign-in providers"));
    assert!(html.find("identifier_first").unwrap() < html.find("google").unwrap());
}
