//! Every message id identity-svc emits has a text in login-ui's English and German locale
//! files, so that no page falls back to identity-svc's English. login-ui cannot depend on
//! identity-svc, so this test reads identity-svc's source: a Kratos-style id (`1010002`,
//! `4000006`: seven digits starting with 1 or 4, then 0) as the first argument of a text
//! constructor (`text(`, `info(`, `(`) or as an `id:` field.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The ids in `source` that stand where a message constructor takes its id.
fn message_ids(source: &str) -> BTreeSet<String> {
    let bytes = source.as_bytes();
    let mut ids = BTreeSet::new();
    let mut i = 0;
    while i + 7 <= bytes.len() {
        let candidate = &bytes[i..i + 7];
        let shaped = candidate.iter().all(u8::is_ascii_digit)
            && matches!(candidate[0], b'1' | b'4')
            && candidate[1] == b'0';
        let bounded = (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
            && bytes
                .get(i + 7)
                .is_none_or(|b| !b.is_ascii_alphanumeric() && *b != b'_');
        if shaped && bounded {
            let before = source[..i].trim_end();
            let after = source[i + 7..].trim_start();
            let opens = before.ends_with('(') || before.ends_with("id:");
            if opens && (after.starts_with(',') || after.starts_with(')')) {
                ids.insert(source[i..i + 7].to_string());
            }
            i += 7;
        } else {
            i += 1;
        }
    }
    ids
}

fn locale(root: &Path, lang: &str) -> serde_json::Map<String, serde_json::Value> {
    let path = root.join(format!("login-ui/locales/{lang}.json"));
    let text = std::fs::read_to_string(&path).unwrap();
    match serde_json::from_str(&text).unwrap() {
        serde_json::Value::Object(map) => map,
        other => panic!("{} is no object: {other}", path.display()),
    }
}

#[test]
fn every_identity_svc_message_id_is_translated() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = Vec::new();
    rust_files(&root.join("identity-svc/src"), &mut files);
    let mut ids = BTreeSet::new();
    for file in &files {
        ids.extend(message_ids(&std::fs::read_to_string(file).unwrap()));
    }
    // The scan finds the ids it should: labels, infos and errors of every flow.
    for known in [
        "1010002", "1050001", "1070004", "4000006", "4000900", "4060006",
    ] {
        assert!(ids.contains(known), "the scan misses {known}: {ids:?}");
    }
    for lang in ["en", "de"] {
        let texts = locale(root, lang);
        let missing: Vec<_> = ids
            .iter()
            .filter(|id| {
                let text = texts.get(*id).and_then(|v| v.as_str()).unwrap_or_default();
                text.trim().is_empty()
            })
            .collect();
        assert!(missing.is_empty(), "{lang}.json lacks {missing:?}");
    }
}

#[test]
fn the_scan_reads_constructors_not_other_numbers() {
    let source = r#"text(1070001, "info", "Password", None)
        id: 4000920,
        Kind::Recovery => (4060005, "recovery"),
        let max = 1000000;
        "4000777 in a string","#;
    let ids: Vec<_> = message_ids(source).into_iter().collect();
    assert_eq!(ids, ["1070001", "4000920", "4060005"]);
}
