//! The operator CLI: the built `identity-svc` binary against a service started by the test.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::browser::{Browser, browser_app};
use crate::helpers::{TestApp, spawn};

/// Runs `identity-svc <args>`; (exit ok, stdout, stderr).
async fn run(args: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_identity-svc"))
        .args(args)
        .env_remove("IDENTITY_ADMIN_URL")
        .output()
        .await
        .expect("the binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `identity-svc <args> --endpoint <admin>`.
async fn cli(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let mut args = args.to_vec();
    args.extend(["--endpoint", &app.admin]);
    run(&args).await
}

async fn cli_json(app: &TestApp, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.extend(["--format", "json"]);
    let (ok, out, err) = cli(app, &args).await;
    assert!(ok, "{args:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

fn write(dir: &tempfile::TempDir, name: &str, content: &Value) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, content.to_string()).unwrap();
    path
}

fn person(email: &str) -> Value {
    json!({"schema_id": "default", "traits": {"email": email}})
}

const PLAINTEXT: &str = "a long enough password";
/// OpenBSD's bcrypt vector for "U*U".
const BCRYPT: &str = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";

#[tokio::test]
async fn import_creates_each_identity_and_reports_each_failure() {
    let app = spawn().await;
    app.create_person("taken@example.com").await;
    let dir = tempfile::tempdir().unwrap();
    let mut ada = person("ada@example.com");
    ada["traits"]["name"] = json!({"first": "Ada"});
    ada["credentials"] = json!({"password": {"config": {"password": PLAINTEXT}}});
    let mut bob = person("bob@example.com");
    bob["credentials"] = json!({"password": {"config": {"hashed_password": BCRYPT}}});
    let many = write(
        &dir,
        "many.json",
        &json!([ada, bob, person("taken@example.com")]),
    );
    let broken = write(
        &dir,
        "one.json",
        &json!({"schema_id": "default", "traits": {"email": 5}}),
    );
    let (many, broken) = (many.to_str().unwrap(), broken.to_str().unwrap());

    let (ok, out, err) = cli(&app, &["identities", "import", many, broken]).await;
    assert!(!ok, "a failed identity fails the command: {out}");
    assert!(
        err.contains("2 of 4 identities could not be imported"),
        "{err}"
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("SOURCE"), "{out}");
    assert_eq!(lines.len(), 5, "one row per identity: {out}");
    assert!(lines[1].contains("many.json[0]") && lines[1].contains("created"));
    assert!(lines[2].contains("many.json[1]") && lines[2].contains("created"));
    assert!(lines[3].contains("many.json[2]") && lines[3].contains("failed"));
    assert!(lines[4].contains("one.json") && lines[4].contains("failed"));
    for printed in [&out, &err] {
        assert!(!printed.contains(PLAINTEXT) && !printed.contains(BCRYPT));
    }

    let res = app
        .get("/admin/identities?credentials_identifier=ada@example.com")
        .await;
    let found: Value = res.json().await.unwrap();
    assert_eq!(found[0]["traits"]["name"]["first"], "Ada", "{found}");
    assert!(lines[1].contains(found[0]["id"].as_str().unwrap()));

    // Nothing created: the server answers 409 with the results in the error's details.
    let (ok, out, err) = cli(&app, &["identities", "import", many, "--format", "json"]).await;
    assert!(!ok);
    assert!(err.contains("3 of 3"), "{err}");
    let results: Value = serde_json::from_str(&out).unwrap();
    let results = results["identities"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert!(results.iter().all(|r| r["action"] == "error"));
    assert_eq!(results[0]["error"]["code"], 409);
    assert!(!out.contains(PLAINTEXT));
}

#[tokio::test]
async fn identities_get_list_patch_and_delete() {
    let app = spawn().await;
    let mut ids = Vec::new();
    for email in ["a@example.com", "b@example.com", "c@example.com"] {
        ids.push(
            app.create_person(email).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }

    let got = cli_json(&app, &["identities", "get", &ids[0]]).await;
    assert_eq!(got["traits"]["email"], "a@example.com");
    let (ok, table, _) = cli(&app, &["identities", "get", &ids[0]]).await;
    assert!(
        ok && table.starts_with("ID") && table.contains(&ids[0]),
        "{table}"
    );

    let mut args = vec!["identities", "list", "--page-size", "2"];
    let (ok, out, err) = cli(&app, &[&args[..], &["--format", "json"]].concat()).await;
    assert!(ok, "{err}");
    let page: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(page.as_array().unwrap().len(), 2);
    assert!(err.contains("next page: --page-token "), "{err}");
    args.push("--all");
    let all = cli_json(&app, &args).await;
    let listed: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 3, "every page: {all}");
    assert!(ids.iter().all(|id| listed.contains(&id.as_str())));
    let found = cli_json(
        &app,
        &[
            "identities",
            "list",
            "--credentials-identifier",
            "b@example.com",
        ],
    )
    .await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["id"], ids[1].as_str());

    let dir = tempfile::tempdir().unwrap();
    let patch = write(
        &dir,
        "patch.json",
        &json!([{"op": "replace", "path": "/state", "value": "inactive"}]),
    );
    let patched = cli_json(
        &app,
        &[
            "identities",
            "patch",
            &ids[2],
            "--file",
            patch.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(patched["state"], "inactive");
    let stored: Value = app
        .get(&format!("/admin/identities/{}", ids[2]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored["state"], "inactive");

    let (ok, out, err) = cli(&app, &["identities", "delete", &ids[0], &ids[1]]).await;
    assert!(ok, "{err}");
    assert!(out.contains(&ids[0]) && out.contains(&ids[1]));
    for id in &ids[..2] {
        let res = app.get(&format!("/admin/identities/{id}")).await;
        assert_eq!(res.status(), 404);
    }
}

#[tokio::test]
async fn unknown_ids_fail_with_the_servers_message() {
    let app = spawn().await;
    let unknown = uuid::Uuid::new_v4().to_string();
    for args in [
        ["identities", "get", &unknown],
        ["identities", "delete", &unknown],
        ["sessions", "revoke", &unknown],
    ] {
        let (ok, out, err) = cli(&app, &args).await;
        assert!(!ok, "{args:?} must exit non-zero; printed {out}");
        assert!(
            err.starts_with("error: The requested resource could not be found")
                && err.contains("404"),
            "{args:?}: the envelope's message: {err}"
        );
    }
    let (ok, _, err) = cli(&app, &["sessions", "list", "--identity", &unknown]).await;
    assert!(!ok && err.contains("404"), "{err}");
}

#[tokio::test]
async fn sessions_list_and_revoke() {
    let app = browser_app().await;
    let ada = app.create_person_with_password("ada@example.com").await;
    let bob = app.create_person_with_password("bob@example.com").await;
    let (ada, bob) = (ada["id"].as_str().unwrap(), bob["id"].as_str().unwrap());
    let mut adas = Vec::new();
    for _ in 0..2 {
        let body = Browser::new().log_in(&app, "ada@example.com").await;
        adas.push(body["session"]["id"].as_str().unwrap().to_string());
    }
    Browser::new().log_in(&app, "bob@example.com").await;

    let all = cli_json(&app, &["sessions", "list"]).await;
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.iter().all(|s| s["active"] == true));
    let (ok, table, _) = cli(&app, &["sessions", "list"]).await;
    assert!(
        ok && table.starts_with("ID") && table.contains(bob),
        "{table}"
    );

    let of_ada = cli_json(&app, &["sessions", "list", "--identity", ada]).await;
    assert_eq!(of_ada.as_array().unwrap().len(), 2);

    let (ok, out, err) = cli(&app, &["sessions", "revoke", &adas[0]]).await;
    assert!(ok && out.contains(&adas[0]), "{err}");
    let active = cli_json(&app, &["sessions", "list", "--identity", ada, "--active"]).await;
    let active: Vec<&Value> = active.as_array().unwrap().iter().collect();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["id"], adas[1].as_str());

    let (ok, _, err) = cli(&app, &["sessions", "revoke", "--identity", bob]).await;
    assert!(ok, "{err}");
    let of_bob = cli_json(&app, &["sessions", "list", "--identity", bob]).await;
    assert_eq!(of_bob, json!([]));
}

#[tokio::test]
async fn schemas_validate_checks_files_offline() {
    let dir = tempfile::tempdir().unwrap();
    let good = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/default.schema.json");
    let (ok, out, err) = run(&["schemas", "validate", good]).await;
    assert!(ok, "{err}");
    assert!(out.trim_end().ends_with(": OK"), "{out}");

    let no_traits = write(&dir, "no-traits.json", &json!({"type": "object"}));
    let bad_type = write(
        &dir,
        "bad-type.json",
        &json!({"properties": {"traits": {"type": "nope"}}}),
    );
    let not_json = dir.path().join("not-json.json");
    std::fs::write(&not_json, "{ nope").unwrap();
    let files = [&no_traits, &bad_type, &not_json].map(|p| p.to_str().unwrap());
    let (ok, out, err) = run(&[&["schemas", "validate", good][..], &files].concat()).await;
    assert!(!ok, "{out}");
    assert!(err.contains("3 of 4 schema(s) are invalid"), "{err}");
    assert!(
        out.contains("no-traits.json: is not an identity schema"),
        "{out}"
    );
    assert!(
        out.contains("bad-type.json: is not a valid JSON Schema"),
        "{out}"
    );
    assert!(out.contains("not-json.json: is not JSON"), "{out}");

    let args = [
        &["schemas", "validate", "--format", "json"][..],
        &files[..1],
    ]
    .concat();
    let (ok, out, _) = run(&args).await;
    assert!(!ok);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report[0]["valid"], false);
    assert_eq!(report[0]["problems"].as_array().unwrap().len(), 1);
}
