//! The configured identity schemas: loaded and compiled once at start from `identity.schemas`
//! (`file://` or `base64://`, or the built-in default), and found by id.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use service_kit::settings::SettingsError;
use url::Url;

use super::IdentitySchema;
use crate::config::{IdentitySettings, SchemaSource};

const DEFAULT_SCHEMA: &str = include_str!("../../schemas/default.schema.json");

/// The configured schemas, in configuration order.
pub struct Registry {
    schemas: Vec<IdentitySchema>,
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
