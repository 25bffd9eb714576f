//! RFC 6902 JSON Patch over a JSON document (the client, for `PATCH /admin/clients/{id}`), with
//! RFC 6901 pointers. The operations apply to a copy: a failing operation leaves nothing changed.

use serde::Deserialize;
use serde_json::Value;

/// One operation of a patch document.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    pub op: String,
    pub path: String,
    #[serde(default)]
    pub from: Option<String>,
    /// `Some(Value::Null)` when the operation carries `"value": null`.
    #[serde(default, deserialize_with = "present")]
    pub value: Option<Value>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// Applies `ops` in order to a copy of `doc`; the error says which operation failed and why.
pub fn apply(doc: &Value, ops: &[Operation]) -> Result<Value, String> {
    let mut doc = doc.clone();
    for (i, op) in ops.iter().enumerate() {
        apply_one(&mut doc, op).map_err(|e| format!("patch operation {i} ({}): {e}", op.op))?;
    }
    Ok(doc)
}

fn apply_one(doc: &mut Value, op: &Operation) -> Result<(), String> {
    let value = || op.value.clone().ok_or("requires a value".to_string());
    let from = || op.from.as_deref().ok_or("requires from".to_string());
    match op.op.as_str() {
        "add" => add(doc, &op.path, value()?),
        "remove" => remove(doc, &op.path).map(drop),
        "replace" => {
            remove(doc, &op.path)?;
            add(doc, &op.path, value()?)
        }
        "move" => {
            let from = from()?;
            if op.path.starts_with(&format!("{from}/")) {
                return Err("cannot move a value into itself".into());
            }
            let moved = remove(doc, from)?;
            add(doc, &op.path, moved)
        }
        "copy" => {
            let copied = get(doc, from()?)?.clone();
            add(doc, &op.path, copied)
        }
        "test" => match *get(doc, &op.path)? == value()? {
            true => Ok(()),
            false => Err(format!("the value at {} differs", op.path)),
        },
        other => Err(format!("unknown operation {other:?}")),
    }
}

/// The unescaped reference tokens of a pointer (`""` is the whole document).
fn tokens(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(vec![]);
    }
    let rest = pointer
        .strip_prefix('/')
        .ok_or_else(|| format!("{pointer:?} is not a JSON pointer"))?;
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn get<'a>(doc: &'a Value, pointer: &str) -> Result<&'a Value, String> {
    doc.pointer(pointer)
        .filter(|_| pointer.is_empty() || pointer.starts_with('/'))
        .ok_or_else(|| format!("no value at {pointer}"))
}

/// The container holding the last token of `pointer`, and that token.
fn parent<'a>(doc: &'a mut Value, pointer: &str) -> Result<(&'a mut Value, String), String> {
    let mut tokens = tokens(pointer)?;
    let last = tokens
        .pop()
        .ok_or("the whole document cannot be the target")?;
    let mut node = doc;
    for token in &tokens {
        node = match node {
            Value::Object(map) => map.get_mut(token),
            Value::Array(list) => token.parse::<usize>().ok().and_then(|i| list.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| format!("no value at {pointer}"))?;
    }
    Ok((node, last))
}

fn index(token: &str, len: usize, appending: bool) -> Result<usize, String> {
    if appending && token == "-" {
        return Ok(len);
    }
    let bad = || format!("{token:?} is not a valid array index");
    if token.len() > 1 && token.starts_with('0') {
        return Err(bad());
    }
    let i: usize = token.parse().map_err(|_| bad())?;
    let limit = if appending {
        len
    } else {
        len.saturating_sub(1)
    };
    match (len, appending) {
        (0, false) => Err(bad()),
        _ if i <= limit => Ok(i),
        _ => Err(bad()),
    }
}

fn add(doc: &mut Value, pointer: &str, value: Value) -> Result<(), String> {
    if pointer.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (node, last) = parent(doc, pointer)?;
    match node {
        Value::Object(map) => {
            map.insert(last, value);
            Ok(())
        }
        Value::Array(list) => {
            let i = index(&last, list.len(), true)?;
            list.insert(i, value);
            Ok(())
        }
        _ => Err(format!("the parent of {pointer} is not a container")),
    }
}

fn remove(doc: &mut Value, pointer: &str) -> Result<Value, String> {
    let (node, last) = parent(doc, pointer)?;
    match node {
        Value::Object(map) => map
            .remove(&last)
            .ok_or_else(|| format!("no value at {pointer}")),
        Value::Array(list) => {
            let i = index(&last, list.len(), false)?;
            Ok(list.remove(i))
        }
        _ => Err(format!("no value at {pointer}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ops(v: Value) -> Vec<Operation> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn applies_the_six_operations() {
        let doc = json!({"a": 1, "list": ["x", "y"], "o": {"k~/": true}});
        let out = apply(
            &doc,
            &ops(json!([
                {"op": "replace", "path": "/a", "value": 2},
                {"op": "add", "path": "/list/-", "value": "z"},
                {"op": "add", "path": "/list/0", "value": "w"},
                {"op": "remove", "path": "/list/1"},
                {"op": "copy", "from": "/a", "path": "/b"},
                {"op": "move", "from": "/o/k~0~1", "path": "/moved"},
                {"op": "test", "path": "/b", "value": 2},
                {"op": "add", "path": "/n", "value": null}
            ])),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"a": 2, "b": 2, "list": ["w", "y", "z"], "o": {}, "moved": true, "n": null})
        );
    }

    #[test]
    fn rejects_bad_operations_without_changing_anything() {
        let doc = json!({"a": 1, "list": []});
        for bad in [
            json!([{"op": "replace", "path": "/missing", "value": 1}]),
            json!([{"op": "remove", "path": "/list/0"}]),
            json!([{"op": "add", "path": "/list/5", "value": 1}]),
            json!([{"op": "test", "path": "/a", "value": 2}]),
            json!([{"op": "frobnicate", "path": "/a"}]),
            json!([{"op": "add", "path": "a", "value": 1}]),
            json!([{"op": "add", "path": "/a"}]),
            json!([{"op": "move", "from": "/list", "path": "/list/0"}]),
        ] {
            assert!(apply(&doc, &ops(bad.clone())).is_err(), "{bad}");
        }
    }
}
