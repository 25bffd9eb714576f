//! Every case of the security catalogue that concerns oauth2-svc (authorization endpoint, token
//! endpoint, refresh tokens, client authentication, ID tokens, introspection and revocation,
//! login/consent challenges) has a test named by its id, somewhere in the workspace's tests.

/// The catalogue's ids for these sections (the numbering has deliberate gaps).
const CASES: &[&str] = &[
    "AZ-01", "AZ-02", "AZ-03", "AZ-05", "AZ-06", "AZ-07", "AZ-09", "AZ-10", "AZ-11", "AZ-13",
    "AZ-14", "AZ-15", "AZ-17", "TK-01", "TK-02", "TK-03", "TK-05", "TK-06", "TK-07", "TK-09",
    "TK-10", "TK-11", "TK-13", "TK-14", "RT-01", "RT-02", "RT-03", "RT-05", "RT-06", "RT-07",
    "RT-09", "CA-01", "CA-02", "CA-03", "CA-05", "CA-06", "CA-07", "CA-09", "CA-10", "ID-01",
    "ID-02", "ID-03", "ID-05", "ID-06", "ID-07", "ID-09", "ID-10", "ID-11", "ID-13", "IR-01",
    "IR-02", "IR-03", "IR-05", "IR-06", "IR-07", "LC-01", "LC-02", "LC-03", "LC-05", "LC-06",
    "LC-07", "LC-09", "LC-10", "LC-11",
];

const TEST_DIRS: &[&str] = &["oauth2-svc/tests", "login-ui/tests", "tests/tests"];

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
    let missing: Vec<&str> = CASES
        .iter()
        .copied()
        .filter(|id| {
            let name = format!("fn {}_", id.to_lowercase().replace('-', "_"));
            !text.contains(&name)
        })
        .collect();
    assert!(missing.is_empty(), "no test is named for {missing:?}");
}
