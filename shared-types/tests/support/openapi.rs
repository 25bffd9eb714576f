//! Ory's OpenAPI documents as JSON Schema validators.
//!
//! The documents are OpenAPI 3.0: their schemas are JSON Schema draft 4 plus `nullable`. We turn
//! `nullable: true` into a `"null"` member of `type` (and of `enum`), apply the few errata listed
//! below, and validate against a root `{"$ref": "#/components/schemas/X", "components": …}` so
//! that every `#/components/schemas/…` reference resolves inside the same document.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use jsonschema::{Draft, Validator};
use serde_json::{Value, json};

/// Which of Ory's documents a schema comes from.
#[derive(Debug, Clone, Copy)]
pub enum Api {
    Kratos,
    Hydra,
}

impl Api {
    fn file(self) -> &'static str {
        match self {
            Api::Kratos => "kratos-api.json",
            Api::Hydra => "hydra-api.json",
        }
    }
}

/// A place where an Ory document contradicts what the Ory server sends. The offending keyword is
/// removed, but only while the document still says `documented`: once Ory corrects it, loading
/// fails and the erratum must be dropped from this list.
struct Erratum {
    api: Api,
    pointer: &'static str,
    documented: &'static str,
    why: &'static str,
}

const ERRATA: &[Erratum] = &[Erratum {
    api: Api::Kratos,
    pointer: "/components/schemas/genericError/properties/details/additionalProperties",
    documented: "false",
    why: "Kratos sends `details` as a free-form object (herodot's map[string]interface{}), e.g. \
          {\"docs\": …, \"hint\": …} on security_csrf_violation; `additionalProperties: false` \
          would admit only {}",
}];

/// The two documents, converted to JSON Schema and patched.
pub struct OpenApi {
    kratos: Value,
    hydra: Value,
}

/// `../shared/reference/openapi` relative to the workspace root.
pub fn folder() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    workspace.join("../shared/reference/openapi")
}

/// The documents, or `None` (after saying so) when the folder is absent outside CI.
///
/// Under `CI=true` an absent folder is a failure: CI must not pass by skipping the checks.
pub fn documents() -> Option<&'static OpenApi> {
    let folder = folder();
    if !folder.is_dir() {
        let test = std::thread::current().name().unwrap_or("?").to_owned();
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "{test}: Ory's OpenAPI documents are missing: expected them in {} (CI=true, so \
                 the OpenAPI checks may not be skipped)",
                folder.display()
            );
        }
        // Straight to stderr, not `eprintln!`, so that the notice survives libtest's capture.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: OpenAPI checks skipped, {} not found",
            folder.display()
        );
        return None;
    }
    static DOCUMENTS: OnceLock<OpenApi> = OnceLock::new();
    Some(DOCUMENTS.get_or_init(|| OpenApi {
        kratos: load(&folder, Api::Kratos),
        hydra: load(&folder, Api::Hydra),
    }))
}

fn load(folder: &Path, api: Api) -> Value {
    let path = folder.join(api.file());
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut document: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    for erratum in ERRATA.iter().filter(|e| e.api.file() == api.file()) {
        apply(&mut document, erratum);
    }
    nullable_to_json_schema(&mut document);
    document
}

fn apply(document: &mut Value, erratum: &Erratum) {
    let (parent, key) = erratum.pointer.rsplit_once('/').expect("erratum pointer");
    let documented: Value = serde_json::from_str(erratum.documented).expect("erratum JSON");
    let found = document.pointer(erratum.pointer);
    assert_eq!(
        found,
        Some(&documented),
        "erratum {} no longer matches the document (it was: {}); drop it if Ory fixed it",
        erratum.pointer,
        erratum.why
    );
    document
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .and_then(|object| object.remove(key));
}

/// OpenAPI 3.0 `nullable: true` → JSON Schema: `"null"` joins `type` and `enum`. Without a `type`
/// the schema already admits null. Only boolean `nullable` is a keyword; a property that happens
/// to be named `nullable` (an object) is left alone.
pub fn nullable_to_json_schema(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if let Some(Value::Bool(nullable)) = object.get("nullable") {
                let nullable = *nullable;
                object.remove("nullable");
                if nullable {
                    if let Some(Value::String(kind)) = object.get("type") {
                        let kind = kind.clone();
                        object.insert("type".to_owned(), json!([kind, "null"]));
                    }
                    if let Some(Value::Array(members)) = object.get_mut("enum")
                        && !members.contains(&Value::Null)
                    {
                        members.push(Value::Null);
                    }
                }
            }
            object.values_mut().for_each(nullable_to_json_schema);
        }
        Value::Array(items) => items.iter_mut().for_each(nullable_to_json_schema),
        _ => {}
    }
}

/// `uuid` (and Ory's `uuid4`, which it uses for any gofrs UUID) in the hyphenated form.
fn is_uuid(text: &str) -> bool {
    text.len() == 36 && uuid::Uuid::try_parse(text).is_ok()
}

impl OpenApi {
    pub fn document(&self, api: Api) -> &Value {
        match api {
            Api::Kratos => &self.kratos,
            Api::Hydra => &self.hydra,
        }
    }

    /// A validator for `#/components/schemas/{schema}` of `api`'s document.
    pub fn validator(&self, api: Api, schema: &str) -> Validator {
        let components = &self.document(api)["components"];
        assert!(
            components["schemas"].get(schema).is_some(),
            "{} has no component schema {schema:?}",
            api.file()
        );
        let root =
            json!({ "$ref": format!("#/components/schemas/{schema}"), "components": components });
        jsonschema::options()
            .with_draft(Draft::Draft4)
            .should_validate_formats(true)
            .with_format("uuid", is_uuid)
            .with_format("uuid4", is_uuid)
            .build(&root)
            .unwrap_or_else(|e| panic!("{}#{schema} does not compile: {e}", api.file()))
    }

    /// Every violation of `schema` by `instance`, as `instance path: message`.
    pub fn violations(&self, api: Api, schema: &str, instance: &Value) -> Vec<(String, String)> {
        self.validator(api, schema)
            .iter_errors(instance)
            .map(|e| (e.instance_path().to_string(), e.to_string()))
            .collect()
    }

    pub fn assert_valid(&self, api: Api, schema: &str, instance: &Value, what: &str) {
        let violations = self.violations(api, schema, instance);
        assert!(
            violations.is_empty(),
            "{what} violates {}#/components/schemas/{schema}:\n{violations:#?}\n{}",
            api.file(),
            serde_json::to_string_pretty(instance).unwrap()
        );
    }
}
