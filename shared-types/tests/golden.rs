//! Golden fixtures for the wire types, written by hand in Ory's documented shapes.
//!
//! For each fixture: it survives a round trip through its DTO, and both the fixture and our
//! serialisation of it satisfy the matching component schema of Ory's OpenAPI documents
//! (`../shared/reference/openapi/`; without them the schema checks fail under `CI=true` and are
//! skipped, with a notice, otherwise). Negative tests prove the schema checks can fail.
//!
//! Where Ory's servers and Ory's documents disagree, the fixtures follow the documents: Hydra writes
//! `null` for an unset `skip_logout_consent`, unset token lifespans and (before the first database
//! round trip) unset lists, which its document does not declare nullable, so the client fixtures
//! set those fields. The one contradiction we cannot avoid, Kratos' free-form error `details`, is
//! an erratum in `support/openapi.rs`.

mod support;

use serde_json::json;
use shared_types::client::OAuth2Client;
use shared_types::code_flow::CodeFlow;
use shared_types::courier::Message;
use shared_types::error::{ErrorEnvelope, OAuth2ErrorBody};
use shared_types::flow::{
    LoginFlow, LogoutFlow, PerformNativeLogoutBody, RegistrationFlow, Session, SettingsFlow,
    SuccessfulLogin, SuccessfulNativeRegistration, UiContainer, UiNode, UiText,
};
use shared_types::identity::{
    BatchPatchIdentitiesResponse, CreateIdentityBody, Identity, IdentityCredentials,
    IdentitySchemaContainer, PatchIdentitiesBody, RecoveryAddress, UpdateIdentityBody,
    VerifiableAddress,
};
use shared_types::session::{DeleteMySessionsCount, ManagedSession};

use support::openapi::{self, Api, OpenApi};
use support::{Break, Negative, assert_matches_schema, assert_round_trip, fixture};

/// `module: Dto, "fixture.json", Kratos|Hydra "componentSchema", unmodelled pointers;` makes
/// `module::round_trips` and `module::matches_openapi_schema`.
macro_rules! golden {
    ($($module:ident: $dto:ty, $fixture:literal, $api:ident $schema:literal, $unmodelled:expr;)+) => {$(
        mod $module {
            use super::*;

            #[test]
            fn round_trips() {
                let unmodelled: &[&str] = $unmodelled;
                assert_round_trip::<$dto>($fixture, unmodelled);
            }

            #[test]
            fn matches_openapi_schema() {
                assert_matches_schema::<$dto>($fixture, Api::$api, $schema);
            }
        }
    )+};
}

golden! {
    // Kratos sends `organization_id: null` on every identity; Olympus has no organizations.
    identity: Identity, "identity.json", Kratos "identity", &["/organization_id"];
    verifiable_address: VerifiableAddress, "verifiable_address.json",
        Kratos "verifiableIdentityAddress", &[];
    recovery_address: RecoveryAddress, "recovery_address.json",
        Kratos "recoveryIdentityAddress", &[];
    identity_credentials: IdentityCredentials, "identity_credentials.json",
        Kratos "identityCredentials", &[];
    create_identity_body: CreateIdentityBody, "create_identity_body.json",
        Kratos "createIdentityBody", &[];
    identity_schema_container: IdentitySchemaContainer, "identity_schema_container.json",
        Kratos "identitySchemaContainer", &[];
    kratos_error_csrf: ErrorEnvelope, "kratos_error_csrf.json", Kratos "errorGeneric", &[];
    kratos_error_not_found: ErrorEnvelope, "kratos_error_not_found.json",
        Kratos "errorGeneric", &[];
    oauth2_error: OAuth2ErrorBody, "oauth2_error.json", Hydra "errorOAuth2", &[];
    oauth2_error_token_endpoint: OAuth2ErrorBody, "oauth2_error_token_endpoint.json",
        Hydra "errorOAuth2", &[];
    // Hydra's create response (here a dynamic registration's, with its RFC 7592 fields).
    oauth2_client_confidential: OAuth2Client, "oauth2_client_confidential.json",
        Hydra "oAuth2Client", &[];
    oauth2_client_public: OAuth2Client, "oauth2_client_public.json", Hydra "oAuth2Client", &[];
    // A fresh browser password login flow; Olympus has no organizations.
    login_flow: LoginFlow, "login_flow.json", Kratos "loginFlow", &["/organization_id"];
    // The form after a failed submission: identifier kept, a form-level error.
    ui_container: UiContainer, "ui_container.json", Kratos "uiContainer", &[];
    ui_node: UiNode, "ui_node.json", Kratos "uiNode", &[];
    ui_text: UiText, "ui_text.json", Kratos "uiText", &[];
    // `/sessions/whoami`; Olympus does not record devices yet.
    session: Session, "session.json", Kratos "session",
        &["/devices", "/identity/organization_id"];
    // Kratos answers a browser login submitted as JSON with the same Go type as an API login
    // (`successfulNativeLogin`), leaving out `session_token`: browsers get the cookie instead.
    successful_login: SuccessfulLogin, "successful_login.json", Kratos "successfulNativeLogin",
        &["/session/devices", "/session/identity/organization_id"];
    logout_flow: LogoutFlow, "logout_flow.json", Kratos "logoutFlow", &[];
    // updateIdentity deactivating an identity (credentials are optional and left out).
    update_identity_body: UpdateIdentityBody, "update_identity_body.json",
        Kratos "updateIdentityBody", &[];
    // batchPatchIdentities importing a bcrypt hash.
    patch_identities_body: PatchIdentitiesBody, "patch_identities_body.json",
        Kratos "patchIdentitiesBody", &[];
    batch_patch_identities_response: BatchPatchIdentitiesResponse,
        "batch_patch_identities_response.json", Kratos "batchPatchIdentitiesResponse", &[];
    // listSessions without `expand`: no identity; an ended session.
    managed_session: ManagedSession, "managed_session.json", Kratos "session", &[];
    delete_my_sessions_count: DeleteMySessionsCount, "delete_my_sessions_count.json",
        Kratos "deleteMySessionsCount", &[];
    // An API recovery that signed in; Olympus adds no `show_settings_ui` (the page starts a flow).
    recovery_flow: CodeFlow, "recovery_flow.json", Kratos "recoveryFlow", &[];
    // A browser verification flow after the address was submitted.
    verification_flow: CodeFlow, "verification_flow.json", Kratos "verificationFlow", &[];
    // getCourierMessage: a message sent on the second attempt.
    courier_message: Message, "courier_message.json", Kratos "message", &[];
    // An API login: the token in the body and in `continue_with`.
    successful_native_login: SuccessfulLogin, "successful_native_login.json",
        Kratos "successfulNativeLogin",
        &["/session/devices", "/session/identity/organization_id"];
    // A browser registration re-rendered after a failed submission: typed traits kept, a
    // message on the failing trait, labels from the schema's titles.
    registration_flow: RegistrationFlow, "registration_flow.json", Kratos "registrationFlow",
        &["/organization_id"];
    // An API registration with the `session` hook.
    successful_native_registration: SuccessfulNativeRegistration,
        "successful_native_registration.json", Kratos "successfulNativeRegistration",
        &["/identity/organization_id", "/session/devices", "/session/identity/organization_id"];
    // A browser settings flow after a saved profile change: the identity as it now is (the new
    // address unverified), the success message 1050001.
    settings_flow: SettingsFlow, "settings_flow.json", Kratos "settingsFlow",
        &["/organization_id", "/identity/organization_id"];
    perform_native_logout_body: PerformNativeLogoutBody, "perform_native_logout_body.json",
        Kratos "performNativeLogoutBody", &[];
}

#[test]
fn create_identity_body_reads_kratos_password_credentials() {
    // Kratos' two documented ways to give a password: plaintext, or a PHC hash to import.
    let mut body = fixture("create_identity_body.json");
    body["credentials"] = json!({ "password": { "config": { "password": "c0rrect-h0rse" } } });
    if let Some(documents) = openapi::documents() {
        documents.assert_valid(
            Api::Kratos,
            "createIdentityBody",
            &body,
            "plaintext password",
        );
    }
    let parsed: CreateIdentityBody = serde_json::from_value(body).unwrap();
    let config = parsed
        .credentials
        .unwrap()
        .password
        .unwrap()
        .config
        .unwrap();
    assert_eq!(config.password.as_deref(), Some("c0rrect-h0rse"));
    assert_eq!(config.hashed_password, None);
    assert!(
        !format!("{config:?}").contains("c0rrect"),
        "Debug must not print the password"
    );
}

#[test]
fn create_identity_body_keeps_other_credential_types_so_they_can_be_refused() {
    // Valid for Kratos; Olympus does not import OIDC links yet, and must see them to say so
    // instead of creating the identity without them.
    let mut body = fixture("create_identity_body.json");
    body["credentials"] = json!({ "oidc": { "config": { "providers": [
        { "provider": "google", "subject": "108914393729416187433" }
    ] } } });
    if let Some(documents) = openapi::documents() {
        documents.assert_valid(Api::Kratos, "createIdentityBody", &body, "oidc import");
    }
    let parsed: CreateIdentityBody = serde_json::from_value(body).unwrap();
    assert_eq!(parsed.credentials.unwrap().unsupported_types(), ["oidc"]);
}

#[test]
fn create_identity_body_refuses_unknown_credential_fields() {
    let mut body = fixture("create_identity_body.json");
    body["credentials"] = json!({ "password": { "config": { "pasword": "typo" } } });
    let error = serde_json::from_value::<CreateIdentityBody>(body).unwrap_err();
    assert!(
        error.to_string().contains("unknown field `pasword`"),
        "{error}"
    );
    let mut body = fixture("create_identity_body.json");
    body["credentials"] = json!({ "magic": {} });
    let error = serde_json::from_value::<CreateIdentityBody>(body).unwrap_err();
    assert!(
        error.to_string().contains("unknown field `magic`"),
        "{error}"
    );
}

#[test]
fn successful_login_reads_kratos_null_continue_with() {
    // Kratos writes `"continue_with": null` when there is nothing to continue with; its document
    // does not declare that nullable, so the fixture has a list and this test has the null.
    let mut body = fixture("successful_login.json");
    body["continue_with"] = json!(null);
    let parsed: SuccessfulLogin = serde_json::from_value(body).unwrap();
    assert!(parsed.continue_with.is_empty());
    let ours = serde_json::to_value(&parsed).unwrap();
    assert_eq!(ours["continue_with"], json!([]));
}

#[test]
fn openapi_nullable_becomes_a_null_type() {
    let mut enumerated = json!({ "type": "string", "enum": ["a"], "nullable": true });
    openapi::nullable_to_json_schema(&mut enumerated);
    assert_eq!(
        enumerated,
        json!({ "type": ["string", "null"], "enum": ["a", null] })
    );
    let mut property_named_nullable = json!({ "properties": { "nullable": { "type": "string" } } });
    let untouched = property_named_nullable.clone();
    openapi::nullable_to_json_schema(&mut property_named_nullable);
    assert_eq!(property_named_nullable, untouched);

    let Some(documents) = openapi::documents() else {
        return;
    };
    let schemas = &documents.document(Api::Kratos)["components"]["schemas"];
    assert_eq!(schemas["NullUUID"]["type"], json!(["string", "null"]));
    // `nullTime` (lower case) is not nullable in the document and must stay so.
    assert_eq!(schemas["nullTime"]["type"], json!("string"));
}

// Negative tests: each breaks a valid fixture in one place and expects the violation there.

fn negative<'a>(
    documents: &'a OpenApi,
    fixture: &'static str,
    api: Api,
    schema: &'static str,
) -> Negative<'a> {
    Negative {
        documents,
        fixture,
        api,
        schema,
    }
}

#[test]
fn kratos_identity_schema_rejects_broken_identities() {
    let Some(docs) = openapi::documents() else {
        return;
    };
    let identity = negative(docs, "identity.json", Api::Kratos, "identity");
    identity.rejects(Break::Remove("/traits"), "");
    identity.rejects(Break::Set("/id", json!("42")), "/id");
    identity.rejects(Break::Set("/created_at", json!("yesterday")), "/created_at");
    identity.rejects(Break::Set("/state", json!("deleted")), "/state");
    // Nullable only where documented: NullUUID admits null (the fixture has it), nullTime does not.
    identity.rejects(
        Break::Set("/state_changed_at", json!(null)),
        "/state_changed_at",
    );
    identity.rejects(
        Break::Set("/organization_id", json!("acme")),
        "/organization_id",
    );
    let nested = "/verifiable_addresses/0/verified";
    identity.rejects(Break::Set(nested, json!("yes")), nested);
}

#[test]
fn kratos_address_and_credential_schemas_reject_broken_documents() {
    let Some(docs) = openapi::documents() else {
        return;
    };
    let verifiable = negative(
        docs,
        "verifiable_address.json",
        Api::Kratos,
        "verifiableIdentityAddress",
    );
    verifiable.rejects(Break::Set("/verified", json!("true")), "/verified");
    verifiable.rejects(Break::Set("/via", json!("carrier-pigeon")), "/via");
    let recovery = negative(
        docs,
        "recovery_address.json",
        Api::Kratos,
        "recoveryIdentityAddress",
    );
    recovery.rejects(Break::Remove("/via"), "");
    let credentials = negative(
        docs,
        "identity_credentials.json",
        Api::Kratos,
        "identityCredentials",
    );
    let one_identifier = json!("google:108914393729416187433");
    credentials.rejects(Break::Set("/identifiers", one_identifier), "/identifiers");
    credentials.rejects(Break::Set("/type", json!("magic_link")), "/type");
}

#[test]
fn kratos_create_body_and_schema_container_schemas_reject_broken_documents() {
    let Some(docs) = openapi::documents() else {
        return;
    };
    let body = negative(
        docs,
        "create_identity_body.json",
        Api::Kratos,
        "createIdentityBody",
    );
    body.rejects(Break::Remove("/schema_id"), "");
    body.rejects(Break::Set("/traits", json!("grace@example.org")), "/traits");
    let container = negative(
        docs,
        "identity_schema_container.json",
        Api::Kratos,
        "identitySchemaContainer",
    );
    let by_reference = json!("https://example.org/identity.schema.json");
    container.rejects(Break::Set("/schema", by_reference), "/schema");
}

#[test]
fn kratos_error_schema_rejects_broken_envelopes() {
    let Some(docs) = openapi::documents() else {
        return;
    };
    let error = negative(docs, "kratos_error_csrf.json", Api::Kratos, "errorGeneric");
    error.rejects(Break::Remove("/error/message"), "/error");
    error.rejects(Break::Set("/error/code", json!("403")), "/error/code");
    let docs_link = json!(["https://www.ory.sh/kratos/docs/debug/csrf"]);
    error.rejects(Break::Set("/error/details", docs_link), "/error/details");
    let unwrapped = json!({ "message": "not wrapped in error" });
    error.rejects(Break::Set("", unwrapped), "");
}

#[test]
fn hydra_client_schema_rejects_broken_clients() {
    let Some(docs) = openapi::documents() else {
        return;
    };
    let confidential = negative(
        docs,
        "oauth2_client_confidential.json",
        Api::Hydra,
        "oAuth2Client",
    );
    let one_uri = json!("https://billing.acme.example/callback");
    confidential.rejects(Break::Set("/redirect_uris", one_uri), "/redirect_uris");
    let never = Break::Set("/client_secret_expires_at", json!("never"));
    confidential.rejects(never, "/client_secret_expires_at");
    let unset = Break::Set("/skip_logout_consent", json!(null));
    confidential.rejects(unset, "/skip_logout_consent");
    let public = negative(
        docs,
        "oauth2_client_public.json",
        Api::Hydra,
        "oAuth2Client",
    );
    let lifespan = "/authorization_code_grant_access_token_lifespan";
    public.rejects(Break::Set(lifespan, json!("half an hour")), lifespan);
}

#[test]
fn hydra_error_schema_rejects_broken_errors() {
    let Some(docs) = openapi::documents() else {
        return;
    };
    let error = negative(docs, "oauth2_error.json", Api::Hydra, "errorOAuth2");
    error.rejects(Break::Set("/status_code", json!("400")), "/status_code");
    let structured = json!({ "code": "invalid_request" });
    error.rejects(Break::Set("/error", structured), "/error");
}

#[test]
fn kratos_login_flow_schemas_reject_broken_flows() {
    let Some(docs) = openapi::documents() else {
        return;
    };
    let flow = negative(docs, "login_flow.json", Api::Kratos, "loginFlow");
    flow.rejects(Break::Remove("/state"), "");
    flow.rejects(
        Break::Set("/requested_aal", json!("aal4")),
        "/requested_aal",
    );
    flow.rejects(
        Break::Set("/ui/nodes/1/type", json!("textarea")),
        "/ui/nodes/1/type",
    );
    // `uiNodeAttributes` is a oneOf over the node types: an input without a name, or input
    // attributes claiming another node type, match none of its variants.
    let attributes = "/ui/nodes/3/attributes";
    flow.rejects(Break::Remove("/ui/nodes/3/attributes/name"), attributes);
    let node_type = "/ui/nodes/3/attributes/node_type";
    flow.rejects(Break::Set(node_type, json!("text")), attributes);
    let node = negative(docs, "ui_node.json", Api::Kratos, "uiNode");
    node.rejects(Break::Remove("/meta"), "");
    let autocomplete = "/attributes/autocomplete";
    node.rejects(Break::Set(autocomplete, json!("password")), "/attributes");
    let text = negative(docs, "ui_text.json", Api::Kratos, "uiText");
    text.rejects(Break::Set("/id", json!("4000002")), "/id");
    text.rejects(Break::Set("/type", json!("warning")), "/type");
    let container = negative(docs, "ui_container.json", Api::Kratos, "uiContainer");
    container.rejects(Break::Remove("/nodes"), "");
}

#[test]
fn kratos_session_schemas_reject_broken_sessions() {
    let Some(docs) = openapi::documents() else {
        return;
    };
    let session = negative(docs, "session.json", Api::Kratos, "session");
    session.rejects(Break::Remove("/id"), "");
    session.rejects(Break::Remove("/identity/id"), "/identity");
    session.rejects(Break::Set("/active", json!("true")), "/active");
    let aal = "/authentication_methods/0/aal";
    session.rejects(Break::Set(aal, json!("aal9")), aal);
    let login = negative(
        docs,
        "successful_login.json",
        Api::Kratos,
        "successfulNativeLogin",
    );
    login.rejects(Break::Remove("/session"), "");
    let action = Break::Set("/continue_with/0/action", json!("redirect"));
    login.rejects(action, "/continue_with/0");
    let logout = negative(docs, "logout_flow.json", Api::Kratos, "logoutFlow");
    logout.rejects(Break::Remove("/logout_token"), "");
}
