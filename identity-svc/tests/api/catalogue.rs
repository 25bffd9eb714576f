//! Every case of the security catalogue that concerns identity-svc (identity flows, response
//! headers, hostile input) has a test named by its id, somewhere in identity-svc's or the
//! cross-service tests.

/// The catalogue's ids for identity-svc (the numbering has deliberate gaps).
const CASES: &[&str] = &[
    "IF-01", "IF-02", "IF-03", "IF-05", "IF-06", "IF-07", "IF-09", "IF-10", "IF-11", "IF-13",
    "IF-14", "IF-15", "IF-17", "IF-18", "IF-19", "IF-21", "HD-01", "HD-02", "HD-05", "HD-06",
    "BI-01", "BI-02", "BI-03", "BI-05", "BI-06", "BI-07", "BI-09",
];

/// Ids of these sections that are not identity-svc's, and why.
const ELSEWHERE: &[(&str, &str)] = &[
    (
        "HD-03",
        "CSP on UI pages: login-ui renders every page; identity-svc serves only JSON and redirects (its CSP is `default-src 'none'`, checked under HD-02)",
    ),
    (
        "BI-10",
        "hostile JWTs: identity-svc parses no JWT (no client_assertion, id_token_hint or request object); oauth2-svc's",
    ),
    (
        "BI-11",
        "numeric and enum edge cases of max_age, prompt, display, response_mode and remember_for: OAuth2 parameters, oauth2-svc's",
    ),
];

const TEST_DIRS: &[&str] = &["identity-svc/tests", "tests/tests"];

fn sources(dir: &std::path::Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
}

#[test]
fn every_security_case_has_a_test_named_by_its_id() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut text = String::new();
    for dir in TEST_DIRS {
        sources(&root.join(dir), &mut text);
    }
    // Test names: a name may carry several ids (`if_01_if_02_…`).
    let names: Vec<&str> = text
        .split("fn ")
        .skip(1)
        .map(|rest| {
            rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .next()
                .unwrap()
        })
        .collect();
    let missing: Vec<&str> = CASES
        .iter()
        .copied()
        .filter(|id| {
            let id = format!("{}_", id.to_lowercase().replace('-', "_"));
            !names
                .iter()
                .any(|n| n.starts_with(&id) || n.contains(&format!("_{id}")))
        })
        .collect();
    assert!(missing.is_empty(), "no test is named for {missing:?}");
}

#[test]
fn the_catalogue_lists_no_other_identity_case() {
    // When shared/ is present, every IF/HD/BI id it defines is either checked here or named as
    // someone else's; absent (a checkout without it), the fixed lists above still hold.
    let catalogue =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference/security.md");
    let Ok(text) = std::fs::read_to_string(&catalogue) else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{} is missing (CI=true)", catalogue.display());
        }
        eprintln!(
            "SKIPPED the catalogue cross-check: {} is missing",
            catalogue.display()
        );
        return;
    };
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("- **") else {
            continue;
        };
        let id = &rest[..rest.find(' ').unwrap_or(0)];
        if !["IF-", "HD-", "BI-"].iter().any(|p| id.starts_with(p)) {
            continue;
        }
        assert!(
            CASES.contains(&id) || ELSEWHERE.iter().any(|(other, _)| *other == id),
            "{id} is in {} but neither checked nor placed elsewhere",
            catalogue.display()
        );
    }
}
