//! Identity schemas: JSON Schemas for traits, loaded once at start from `identity.schemas`.
//! A schema validates an identity's traits and, through Kratos' `ory.sh/kratos` extension,
//! says which trait values are login identifiers and which are verification or recovery addresses.

pub mod handlers;
mod marks;
mod registry;

use jsonschema::error::ValidationErrorKind;
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use crate::error::FieldMessage;
use marks::{MarkedTrait, collect_marked, visit, visit_mut};
pub(crate) use registry::check;
pub use registry::{Registry, schema_url};

pub struct IdentitySchema {
    pub id: String,
    /// The schema as configured, served by `GET /schemas/{id}`.
    pub document: Value,
    validator: jsonschema::Validator,
    marked: Vec<MarkedTrait>,
}

/// What an identity's traits yield under its schema, normalised for storage and lookup.
#[derive(Debug, Default, PartialEq, Clone)]
pub struct Marked {
    pub password_identifiers: Vec<String>,
    /// `(via, value)` pairs.
    pub verifiable_addresses: Vec<(String, String)>,
    pub recovery_addresses: Vec<(String, String)>,
}

impl IdentitySchema {
    pub(super) fn compile(id: String, document: Value) -> Result<IdentitySchema, String> {
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

#[cfg(test)]
mod tests {
    use serde_json::json;
    use url::Url;

    use super::*;
    use crate::config::IdentitySettings;

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
