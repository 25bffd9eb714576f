//! Identity schemas: JSON Schemas for traits, loaded once at start from `identity.schemas`.
//! A schema validates an identity's traits and, through Kratos' `ory.sh/kratos` extension,
//! says which trait values are login identifiers and which are verification or recovery addresses.

pub mod handlers;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use jsonschema::error::ValidationErrorKind;
use serde_json::Value;
use service_kit::settings::SettingsError;
use unicode_normalization::UnicodeNormalization;
use url::Url;

use crate::config::{IdentitySettings, SchemaSource};
use crate::error::FieldMessage;

const DEFAULT_SCHEMA: &str = include_str!("../../schemas/default.schema.json");
const EXTENSION: &str = "ory.sh/kratos";

/// The configured schemas, in configuration order.
pub struct Registry {
    schemas: Vec<IdentitySchema>,
}

pub struct IdentitySchema {
    pub id: String,
    /// The schema as configured, served by `GET /schemas/{id}`.
    pub document: Value,
    validator: jsonschema::Validator,
    marked: Vec<MarkedTrait>,
}

/// A trait the `ory.sh/kratos` extension marks, located by its path inside `traits`.
#[derive(Debug, Default)]
struct MarkedTrait {
    path: Vec<Step>,
    password_identifier: bool,
    verification_via: Option<String>,
    recovery_via: Option<String>,
    /// `format: email`: such values compare case-insensitively.
    email: bool,
}

#[derive(Debug, Clone)]
enum Step {
    Property(String),
    /// Every element of an array (a list of e-mail addresses, say).
    Items,
}

/// What an identity's traits yield under its schema, normalised for storage and lookup.
#[derive(Debug, Default, PartialEq, Clone)]
pub struct Marked {
    pub password_identifiers: Vec<String>,
    /// `(via, value)` pairs.
    pub verifiable_addresses: Vec<(String, String)>,
    pub recovery_addresses: Vec<(String, String)>,
}

impl Registry {
    /// Loads every configured schema (or the built-in default); errors name the setting.
    pub fn load(settings: &IdentitySettings) -> Result<Registry, SettingsError> {
        let schemas = if settings.schemas.is_empty() {
            let document =
                serde_json::from_str(DEFAULT_SCHEMA).expect("the built-in schema is valid JSON");
            vec![
                IdentitySchema::compile("default".into(), document)
                    .expect("the built-in schema compiles"),
            ]
        } else {
            settings
                .schemas
                .iter()
                .enumerate()
                .map(|(i, source)| load_one(i, source))
                .collect::<Result<_, _>>()?
        };
        for (i, schema) in schemas.iter().enumerate() {
            if schemas[..i].iter().any(|s| s.id == schema.id) {
                return Err(SettingsError::invalid(
                    format!("identity.schemas[{i}].id"),
                    "is used by an earlier schema",
                ));
            }
        }
        let registry = Registry { schemas };
        if registry.get(&settings.default_schema_id).is_none() {
            return Err(SettingsError::invalid(
                "identity.default_schema_id",
                "names no schema in identity.schemas",
            ));
        }
        Ok(registry)
    }

    pub fn all(&self) -> &[IdentitySchema] {
        &self.schemas
    }

    pub fn get(&self, id: &str) -> Option<&IdentitySchema> {
        self.schemas.iter().find(|s| s.id == id)
    }

    /// By id, or by the base64url form that `schema_url` carries.
    pub fn find(&self, id_or_encoded: &str) -> Option<&IdentitySchema> {
        self.get(id_or_encoded).or_else(|| {
            let decoded = URL_SAFE_NO_PAD
                .decode(id_or_encoded.trim_end_matches('='))
                .ok()?;
            self.get(std::str::from_utf8(&decoded).ok()?)
        })
    }
}

/// Kratos' `schema_url`: `<public>/schemas/<base64url(id)>`.
pub fn schema_url(public: &Url, id: &str) -> String {
    format!(
        "{}/schemas/{}",
        public.as_str().trim_end_matches('/'),
        URL_SAFE_NO_PAD.encode(id)
    )
}

fn load_one(i: usize, source: &SchemaSource) -> Result<IdentitySchema, SettingsError> {
    if source.id.is_empty() {
        return Err(SettingsError::invalid(
            format!("identity.schemas[{i}].id"),
            "must not be empty",
        ));
    }
    let key = format!("identity.schemas[{i}].url");
    let bytes = read_source(&source.url).map_err(|e| SettingsError::invalid(&key, e))?;
    let document = serde_json::from_slice(&bytes)
        .map_err(|e| SettingsError::invalid(&key, format!("is not JSON: {e}")))?;
    IdentitySchema::compile(source.id.clone(), document)
        .map_err(|e| SettingsError::invalid(&key, e))
}

/// Checks one schema document as [`Registry::load`] checks each configured schema (the
/// operator CLI's `schemas validate`); the error says what is wrong with it.
pub(crate) fn check(bytes: &[u8]) -> Result<(), String> {
    let document = serde_json::from_slice(bytes).map_err(|e| format!("is not JSON: {e}"))?;
    IdentitySchema::compile(String::new(), document).map(drop)
}

fn read_source(url: &str) -> Result<Vec<u8>, String> {
    if let Some(path) = url.strip_prefix("file://") {
        return std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"));
    }
    if let Some(data) = url.strip_prefix("base64://") {
        // Operators paste both alphabets, with and without padding.
        let config =
            GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
        let standard = GeneralPurpose::new(&base64::alphabet::STANDARD, config);
        let url_safe = GeneralPurpose::new(&base64::alphabet::URL_SAFE, config);
        return standard
            .decode(data)
            .or_else(|_| url_safe.decode(data))
            .map_err(|e| format!("is not valid base64: {e}"));
    }
    // No network fetch at start: a schema server that is down must not keep identities down.
    Err("must be a file:// or base64:// URL".into())
}

impl IdentitySchema {
    fn compile(id: String, document: Value) -> Result<IdentitySchema, String> {
        let traits = document
            .pointer("/properties/traits")
            .filter(|t| t.is_object());
        let Some(traits) = traits else {
            return Err("is not an identity schema: it must define properties.traits".into());
        };
        let mut marked = Vec::new();
        collect_marked(traits, &mut Vec::new(), &mut marked);
        let mut options = jsonschema::options().should_validate_formats(true);
        if document.get("$schema").is_none() {
            // Kratos reads identity schemas as draft-07 unless they say otherwise.
            options = options.with_draft(jsonschema::Draft::Draft7);
        }
        let validator = options
            .build(&document)
            .map_err(|e| format!("is not a valid JSON Schema: {e}"))?;
        Ok(IdentitySchema {
            id,
            document,
            validator,
            marked,
        })
    }

    /// Validates traits as Kratos does, as the `traits` of an identity document, so that
    /// messages point at `#/traits/…`. Returns every problem, not just the first.
    pub fn validate(&self, traits: &Value) -> Result<(), Vec<FieldMessage>> {
        if !traits.is_object() {
            let message = "traits must be a JSON object".to_string();
            return Err(vec![FieldMessage {
                instance_ptr: "#/traits".into(),
                message,
            }]);
        }
        let instance = serde_json::json!({ "traits": traits });
        let messages: Vec<FieldMessage> = self
            .validator
            .iter_errors(&instance)
            .map(|e| FieldMessage {
                instance_ptr: format!("#{}", e.instance_path().as_str()),
                message: e.to_string(),
            })
            .collect();
        if messages.is_empty() {
            Ok(())
        } else {
            Err(messages)
        }
    }

    /// Like [`Self::validate`], but each problem names the form field it belongs to
    /// (`traits.name.first`, or `traits` for the object as a whole) and its kind, so that a
    /// self-service flow can show it on the right node with Kratos' message id.
    pub fn problems(&self, traits: &Value) -> Vec<TraitProblem> {
        let instance = serde_json::json!({ "traits": traits });
        self.validator
            .iter_errors(&instance)
            .map(|e| {
                let mut field = pointer_to_field(e.instance_path().as_str());
                let kind = match e.kind() {
                    ValidationErrorKind::Required { property } => {
                        let property = property.as_str().unwrap_or_default();
                        field = format!("{field}.{property}");
                        ProblemKind::Required
                    }
                    ValidationErrorKind::MinLength { limit } => ProblemKind::MinLength {
                        limit: *limit,
                        actual: e.instance().as_str().map_or(0, |s| s.chars().count()),
                    },
                    ValidationErrorKind::MaxLength { limit } => ProblemKind::MaxLength {
                        limit: *limit,
                        actual: e.instance().as_str().map_or(0, |s| s.chars().count()),
                    },
                    ValidationErrorKind::Format { .. } | ValidationErrorKind::Pattern { .. } => {
                        ProblemKind::Format
                    }
                    _ => ProblemKind::Other,
                };
                TraitProblem {
                    field,
                    kind,
                    message: e.to_string(),
                }
            })
            .collect()
    }

    /// Trims surrounding whitespace from marked trait values and brings them to Unicode NFKC:
    /// an identifier typed with a stray space or in full-width letters must neither fail
    /// `format: email` nor become a second account (IF-21). Case is kept in the traits; the
    /// derived identifiers are lowercased by [`normalise`].
    pub fn trim_marked(&self, traits: &mut Value) {
        for mark in &self.marked {
            visit_mut(traits, &mark.path, &mut |v| {
                if let Value::String(s) = v {
                    let composed: String = s.nfkc().collect();
                    if composed.trim() != s.as_str() {
                        *s = composed.trim().to_string();
                    }
                }
            });
        }
    }

    /// The identifiers and addresses the marked traits hold, normalised and de-duplicated.
    pub fn marked(&self, traits: &Value) -> Marked {
        let mut out = Marked::default();
        for mark in &self.marked {
            let mut values = Vec::new();
            visit(traits, &mark.path, &mut |v| {
                values.extend(v.as_str().map(str::to_string))
            });
            for value in values.iter().filter(|v| !v.trim().is_empty()) {
                if mark.password_identifier {
                    push_unique(&mut out.password_identifiers, normalise(value, mark.email));
                }
                if let Some(via) = &mark.verification_via {
                    push_unique(
                        &mut out.verifiable_addresses,
                        (via.clone(), normalise(value, via == "email")),
                    );
                }
                if let Some(via) = &mark.recovery_via {
                    push_unique(
                        &mut out.recovery_addresses,
                        (via.clone(), normalise(value, via == "email")),
                    );
                }
            }
        }
        out
    }
}

/// The one normal form of identifiers and addresses, for storage and lookup alike: Unicode
/// NFKC (so full-width, ligature and composed/decomposed spellings of one address are one
/// value), trimmed, and e-mail addresses also lowercased (mailbox case is ignored in practice,
/// and Kratos lowercases identifiers too).
pub fn normalise(value: &str, email: bool) -> String {
    let composed: String = value.nfkc().collect();
    let trimmed = composed.trim();
    if email {
        trimmed.to_lowercase()
    } else {
        trimmed.to_string()
    }
}

/// One validation problem of submitted traits (see [`IdentitySchema::problems`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TraitProblem {
    /// The form field: `traits.email`, `traits.name.first`, or `traits` for the whole object.
    pub field: String,
    pub kind: ProblemKind,
    /// The validator's English text.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ProblemKind {
    Required,
    MinLength { limit: u64, actual: usize },
    MaxLength { limit: u64, actual: usize },
    Format,
    Other,
}

/// `/traits/name/first` → `traits.name.first` (JSON pointer escapes undone).
fn pointer_to_field(pointer: &str) -> String {
    pointer
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}

fn push_unique<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

fn collect_marked(node: &Value, path: &mut Vec<Step>, out: &mut Vec<MarkedTrait>) {
    if let Some(ext) = node.get(EXTENSION) {
        let via = |pointer: &str| {
            ext.pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        out.push(MarkedTrait {
            path: path.clone(),
            password_identifier: ext.pointer("/credentials/password/identifier")
                == Some(&Value::Bool(true)),
            verification_via: via("/verification/via"),
            recovery_via: via("/recovery/via"),
            email: node.get("format").and_then(Value::as_str) == Some("email"),
        });
    }
    if let Some(Value::Object(properties)) = node.get("properties") {
        for (name, child) in properties {
            path.push(Step::Property(name.clone()));
            collect_marked(child, path, out);
            path.pop();
        }
    }
    if let Some(items) = node.get("items").filter(|i| i.is_object()) {
        path.push(Step::Items);
        collect_marked(items, path, out);
        path.pop();
    }
}

fn visit(value: &Value, path: &[Step], f: &mut impl FnMut(&Value)) {
    match path.split_first() {
        None => f(value),
        Some((Step::Property(name), rest)) => {
            if let Some(child) = value.get(name) {
                visit(child, rest, f);
            }
        }
        Some((Step::Items, rest)) => value
            .as_array()
            .into_iter()
            .flatten()
            .for_each(|v| visit(v, rest, f)),
    }
}

fn visit_mut(value: &mut Value, path: &[Step], f: &mut impl FnMut(&mut Value)) {
    match path.split_first() {
        None => f(value),
        Some((Step::Property(name), rest)) => {
            if let Some(child) = value.get_mut(name) {
                visit_mut(child, rest, f);
            }
        }
        Some((Step::Items, rest)) => value
            .as_array_mut()
            .into_iter()
            .flatten()
            .for_each(|v| visit_mut(v, rest, f)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn default_schema() -> Registry {
        Registry::load(&IdentitySettings::default()).unwrap()
    }

    #[test]
    fn the_default_schema_marks_email_as_identifier_and_address() {
        let registry = default_schema();
        let schema = registry.get("default").unwrap();
        let mut traits = json!({"email": "  Ann@Example.COM ", "name": {"first": "Ann"}});
        schema.trim_marked(&mut traits);
        assert_eq!(traits["email"], "Ann@Example.COM");
        assert!(schema.validate(&traits).is_ok());
        let marked = schema.marked(&traits);
        assert_eq!(marked.password_identifiers, ["ann@example.com"]);
        assert_eq!(
            marked.verifiable_addresses,
            [("email".to_string(), "ann@example.com".to_string())]
        );
        assert_eq!(marked.recovery_addresses, marked.verifiable_addresses);
    }

    #[test]
    fn identifiers_are_nfkc_normalised_trimmed_and_emails_lowercased() {
        // Full-width letters, a decomposed accent and an ideographic space.
        assert_eq!(
            normalise("\u{3000}Ａｄａ@Example.COM ", true),
            "ada@example.com"
        );
        assert_eq!(normalise("jose\u{301}@x.io", true), "jos\u{e9}@x.io");
        assert_eq!(normalise(" ＵｓｅｒＮａｍｅ ", false), "UserName");
        // Marked traits are stored in NFKC too, so the full-width form passes `format: email`.
        let registry = default_schema();
        let schema = registry.get("default").unwrap();
        let mut traits = json!({"email": " Ａｄａ@example.com", "name": {"first": "Ａｄａ"}});
        schema.trim_marked(&mut traits);
        assert_eq!(traits["email"], "Ada@example.com");
        assert_eq!(
            traits["name"]["first"], "Ａｄａ",
            "unmarked traits are kept as typed"
        );
        assert!(schema.validate(&traits).is_ok());
    }

    #[test]
    fn problems_name_their_form_field() {
        let registry = default_schema();
        let schema = registry.get("default").unwrap();
        let problems = schema.problems(&json!({"name": {"first": 7}}));
        let fields: Vec<_> = problems.iter().map(|p| p.field.as_str()).collect();
        assert!(fields.contains(&"traits.email"), "{problems:?}");
        assert!(fields.contains(&"traits.name.first"), "{problems:?}");
        let required = problems.iter().find(|p| p.field == "traits.email").unwrap();
        assert_eq!(required.kind, ProblemKind::Required);
        let short = schema.problems(&json!({"email": "a@"}));
        assert!(
            short.iter().any(|p| p.kind
                == ProblemKind::MinLength {
                    limit: 3,
                    actual: 2
                }),
            "{short:?}"
        );
    }

    #[test]
    fn reports_every_failing_field() {
        let registry = default_schema();
        let errors = registry
            .get("default")
            .unwrap()
            .validate(&json!({"email": "nope", "name": {"first": 7}}))
            .unwrap_err();
        let pointers: Vec<_> = errors.iter().map(|e| e.instance_ptr.as_str()).collect();
        assert!(pointers.contains(&"#/traits/email"), "{errors:?}");
        assert!(pointers.contains(&"#/traits/name/first"), "{errors:?}");
    }

    #[test]
    fn finds_schemas_by_id_or_base64url() {
        let registry = default_schema();
        assert!(registry.find("default").is_some());
        assert!(registry.find("ZGVmYXVsdA").is_some());
        assert!(registry.find("other").is_none());
        let public = Url::parse("https://id.example.com/").unwrap();
        assert_eq!(
            schema_url(&public, "default"),
            "https://id.example.com/schemas/ZGVmYXVsdA"
        );
    }

    #[test]
    fn arrays_of_addresses_are_marked_per_element() {
        let document = json!({"properties": {"traits": {"type": "object", "properties": {"emails": {
            "type": "array",
            "items": {"type": "string", "format": "email", "ory.sh/kratos": {"recovery": {"via": "email"}}}
        }}}}});
        let schema = IdentitySchema::compile("multi".into(), document).unwrap();
        let marked = schema.marked(&json!({"emails": ["A@x.io", "b@x.io", "a@X.io"]}));
        assert!(marked.password_identifiers.is_empty());
        assert_eq!(marked.recovery_addresses.len(), 2);
    }
}
