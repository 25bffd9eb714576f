//! JSON Patch (RFC 6902) over a JSON document, with JSON Pointers (RFC 6901). A patch applies
//! as a whole or not at all: the caller gets the patched copy or the first failing operation.

use serde::Deserialize;
use serde_json::Value;

/// One operation, as Kratos' `jsonPatch` documents it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    pub op: String,
    pub path: String,
    #[serde(default)]
    pub from: Option<String>,
    /// Absent and `null` differ: `{"op":"add","path":"/x","value":null}` adds a null.
    #[serde(default, deserialize_with = "present")]
    pub value: Option<Value>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// Applies `operations` to a copy of `document`. The error names the failing operation by its
/// index and says why.
pub fn apply(document: &Value, operations: &[Operation]) -> Result<Value, String> {
    let mut doc = document.clone();
    for (i, operation) in operations.iter().enumerate() {
        apply_one(&mut doc, operation).map_err(|e| {
            format!(
                "operation {i} ({} {:?}) cannot be applied: {e}",
                operation.op, operation.path
            )
        })?;
    }
    Ok(doc)
}

fn apply_one(doc: &mut Value, operation: &Operation) -> Result<(), String> {
    let path = parse_pointer(&operation.path)?;
    let value = || {
        operation
            .value
            .clone()
            .ok_or_else(|| "it needs a `value`".to_string())
    };
    let from = || {
        operation
            .from
            .as_deref()
            .ok_or_else(|| "it needs a `from`".to_string())
            .and_then(parse_pointer)
    };
    match operation.op.as_str() {
        "add" => add(doc, &path, value()?),
        "remove" => remove(doc, &path).map(|_| ()),
        "replace" => {
            let target = get_mut(doc, &path)?;
            *target = value()?;
            Ok(())
        }
        "move" => {
            let from = from()?;
            if path.len() > from.len() && path[..from.len()] == from[..] {
                return Err("a value cannot be moved into itself".into());
            }
            let moved = remove(doc, &from)?;
            add(doc, &path, moved)
        }
        "copy" => {
            let copied = get_mut(doc, &from()?)?.clone();
            add(doc, &path, copied)
        }
        "test" => {
            if *get_mut(doc, &path)? == value()? {
                Ok(())
            } else {
                Err("the value differs".into())
            }
        }
        other => Err(format!(
            "unknown op {other:?} (add, remove, replace, move, copy or test)"
        )),
    }
}

/// RFC 6901: `""` is the whole document, otherwise `/`-separated tokens with `~1` for `/` and
/// `~0` for `~`.
fn parse_pointer(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let rest = pointer
        .strip_prefix('/')
        .ok_or_else(|| format!("{pointer:?} is not a JSON pointer (it must start with /)"))?;
    rest.split('/')
        .map(|token| {
            let mut out = String::with_capacity(token.len());
            let mut chars = token.chars();
            while let Some(c) = chars.next() {
                if c != '~' {
                    out.push(c);
                    continue;
                }
                match chars.next() {
                    Some('0') => out.push('~'),
                    Some('1') => out.push('/'),
                    _ => return Err(format!("{pointer:?} has an invalid ~ escape")),
                }
            }
            Ok(out)
        })
        .collect()
}

fn array_index(token: &str, len: usize, allow_end: bool) -> Result<usize, String> {
    if allow_end && token == "-" {
        return Ok(len);
    }
    let valid = !token.is_empty()
        && token.chars().all(|c| c.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    let index: usize = token
        .parse()
        .ok()
        .filter(|_| valid)
        .ok_or_else(|| format!("{token:?} is not an array index"))?;
    let bound = if allow_end {
        len
    } else {
        len.saturating_sub(1)
    };
    if index > bound || (!allow_end && len == 0) {
        return Err(format!("index {index} is out of bounds"));
    }
    Ok(index)
}

fn get_mut<'a>(doc: &'a mut Value, path: &[String]) -> Result<&'a mut Value, String> {
    let mut current = doc;
    for token in path {
        current = match current {
            Value::Object(map) => map
                .get_mut(token)
                .ok_or_else(|| format!("{token:?} does not exist"))?,
            Value::Array(items) => {
                let i = array_index(token, items.len(), false)?;
                &mut items[i]
            }
            _ => {
                return Err(format!(
                    "{token:?} is below a value that is not a container"
                ));
            }
        };
    }
    Ok(current)
}

fn add(doc: &mut Value, path: &[String], value: Value) -> Result<(), String> {
    let Some((last, parent)) = path.split_last() else {
        *doc = value;
        return Ok(());
    };
    match get_mut(doc, parent)? {
        Value::Object(map) => {
            map.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(items) => {
            let i = array_index(last, items.len(), true)?;
            items.insert(i, value);
            Ok(())
        }
        _ => Err("the parent is not an object or an array".into()),
    }
}

fn remove(doc: &mut Value, path: &[String]) -> Result<Value, String> {
    let Some((last, parent)) = path.split_last() else {
        return Err("the whole document cannot be removed".into());
    };
    match get_mut(doc, parent)? {
        Value::Object(map) => map
            .remove(last)
            .ok_or_else(|| format!("{last:?} does not exist")),
        Value::Array(items) => {
            let i = array_index(last, items.len(), false)?;
            Ok(items.remove(i))
        }
        _ => Err("the parent is not an object or an array".into()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(doc: Value, ops: Value) -> Result<Value, String> {
        let ops: Vec<Operation> = serde_json::from_value(ops).unwrap();
        apply(&doc, &ops)
    }

    #[test]
    fn the_rfc_6902_appendix_examples_apply() {
        assert_eq!(
            run(
                json!({"foo": "bar"}),
                json!([{"op": "add", "path": "/baz", "value": "qux"}])
            ),
            Ok(json!({"foo": "bar", "baz": "qux"}))
        );
        assert_eq!(
            run(
                json!({"foo": ["bar", "baz"]}),
                json!([{"op": "add", "path": "/foo/1", "value": "qux"}])
            ),
            Ok(json!({"foo": ["bar", "qux", "baz"]}))
        );
        assert_eq!(
            run(
                json!({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}}),
                json!([{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}])
            ),
            Ok(json!({"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}))
        );
        assert_eq!(
            run(
                json!({"foo": ["all", "grass", "cows", "eat"]}),
                json!([{"op": "move", "from": "/foo/1", "path": "/foo/3"}])
            ),
            Ok(json!({"foo": ["all", "cows", "eat", "grass"]}))
        );
        assert_eq!(
            run(
                json!({"/": 9, "~1": 10}),
                json!([{"op": "test", "path": "/~01", "value": 10}, {"op": "copy", "from": "/~1", "path": "/c"}])
            ),
            Ok(json!({"/": 9, "~1": 10, "c": 9}))
        );
        assert_eq!(
            run(
                json!({"foo": [1]}),
                json!([{"op": "add", "path": "/foo/-", "value": null}, {"op": "remove", "path": "/foo/0"}])
            ),
            Ok(json!({"foo": [null]}))
        );
    }

    #[test]
    fn failing_operations_leave_the_document_alone() {
        let doc = json!({"a": {"b": [1, 2]}});
        for (ops, reason) in [
            (
                json!([{"op": "add", "path": "/x", "value": 1}, {"op": "test", "path": "/a", "value": 2}]),
                "differs",
            ),
            (json!([{"op": "remove", "path": "/nope"}]), "does not exist"),
            (
                json!([{"op": "replace", "path": "/a/b/2", "value": 1}]),
                "out of bounds",
            ),
            (
                json!([{"op": "add", "path": "/a/b/01", "value": 1}]),
                "not an array index",
            ),
            (
                json!([{"op": "add", "path": "/a/c/d", "value": 1}]),
                "does not exist",
            ),
            (
                json!([{"op": "add", "path": "a", "value": 1}]),
                "must start with /",
            ),
            (json!([{"op": "add", "path": "/a"}]), "needs a `value`"),
            (json!([{"op": "copy", "path": "/a"}]), "needs a `from`"),
            (
                json!([{"op": "move", "from": "/a", "path": "/a/c"}]),
                "into itself",
            ),
            (json!([{"op": "frobnicate", "path": "/a"}]), "unknown op"),
            (json!([{"op": "remove", "path": ""}]), "whole document"),
            (
                json!([{"op": "add", "path": "/a/~2", "value": 1}]),
                "~ escape",
            ),
        ] {
            let err = run(doc.clone(), ops.clone()).unwrap_err();
            assert!(err.contains(reason), "{ops}: {err}");
        }
    }
}
