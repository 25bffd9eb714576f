//! Golden fixtures: loading them, the round trip through a DTO, and the schema checks.

pub mod openapi;

use std::fmt::Debug;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use openapi::{Api, OpenApi};

/// A fixture from `tests/fixtures/`, written by hand in Ory's documented shape.
pub fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"))
}

fn parse<T: DeserializeOwned>(value: Value, what: &str) -> T {
    serde_json::from_value(value)
        .unwrap_or_else(|e| panic!("{what} does not deserialise into {}: {e}", type_name::<T>()))
}

fn type_name<T>() -> &'static str {
    std::any::type_name::<T>()
        .rsplit("::")
        .next()
        .unwrap_or("?")
}

/// Removes the member at a JSON pointer; panics when it is not there.
fn remove(value: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').expect("pointer starts with /");
    value
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .and_then(|object| object.remove(key))
        .unwrap_or_else(|| panic!("{pointer} is not in the fixture"));
}

/// Fixture → `T` → JSON must give back the fixture exactly (as `serde_json::Value`, so key order
/// and whitespace do not matter; timestamps and numbers are compared as written).
///
/// The one documented exception is `unmodelled`: JSON pointers to members Ory sends that `T` does
/// not carry (it tolerates and drops them). Each must be present in the fixture and absent from
/// our output, and nothing else may differ. Our output must then parse back into an equal `T`.
/// Returns our serialisation.
pub fn assert_round_trip<T>(name: &str, unmodelled: &[&str]) -> Value
where
    T: DeserializeOwned + Serialize + PartialEq + Debug,
{
    let fixture = fixture(name);
    let dto: T = parse(fixture.clone(), name);
    let ours = serde_json::to_value(&dto).expect("DTOs serialise");

    let mut expected = fixture;
    for pointer in unmodelled {
        remove(&mut expected, pointer);
        assert!(
            ours.pointer(pointer).is_none(),
            "{pointer} is listed as unmodelled but {} now emits it; update the list",
            type_name::<T>()
        );
    }
    assert!(
        ours == expected,
        "{name} does not survive a round trip through {}\nexpected: {}\n     got: {}",
        type_name::<T>(),
        serde_json::to_string_pretty(&expected).unwrap(),
        serde_json::to_string_pretty(&ours).unwrap()
    );

    let reparsed: T = parse(ours.clone(), "our serialisation");
    assert_eq!(
        reparsed, dto,
        "our serialisation of {name} parses into a different value"
    );
    ours
}

/// The fixture, and our serialisation of it, both satisfy `schema` in `api`'s OpenAPI document.
pub fn assert_matches_schema<T>(name: &str, api: Api, schema: &str)
where
    T: DeserializeOwned + Serialize,
{
    let Some(documents) = openapi::documents() else {
        return;
    };
    let fixture = fixture(name);
    documents.assert_valid(api, schema, &fixture, name);
    let dto: T = parse(fixture, name);
    let ours = serde_json::to_value(&dto).expect("DTOs serialise");
    let what = format!("our serialisation of {name}");
    documents.assert_valid(api, schema, &ours, &what);
}

/// How a negative test breaks a valid fixture.
pub enum Break {
    /// Remove the member at this pointer.
    Remove(&'static str),
    /// Replace the member at this pointer ("" is the whole document).
    Set(&'static str, Value),
}

/// A valid fixture and the schema it satisfies, to be broken by negative tests.
pub struct Negative<'a> {
    pub documents: &'a OpenApi,
    pub fixture: &'static str,
    pub api: Api,
    pub schema: &'static str,
}

impl Negative<'_> {
    /// The fixture satisfies the schema; after `breakage` it does not, and a violation is
    /// reported at `expected_at` (a JSON pointer into the instance, "" for the root). This proves
    /// that the check can fail at all and that it fails for the reason we broke.
    pub fn rejects(&self, breakage: Break, expected_at: &str) {
        let (name, api, schema) = (self.fixture, self.api, self.schema);
        let mut instance = fixture(name);
        self.documents.assert_valid(api, schema, &instance, name);
        match &breakage {
            Break::Remove(pointer) => remove(&mut instance, pointer),
            Break::Set(pointer, value) => {
                *instance
                    .pointer_mut(pointer)
                    .unwrap_or_else(|| panic!("{pointer} is not in {name}")) = value.clone();
            }
        }
        let violations = self.documents.violations(api, schema, &instance);
        assert!(
            violations.iter().any(|(at, _)| at == expected_at),
            "broken {name} should violate {schema} at {expected_at:?}; violations: {violations:#?}"
        );
    }
}
