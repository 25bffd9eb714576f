//! The operator CLI: the built `oauth2-svc` binary against a service started by the test.

use serde_json::Value;

use crate::helpers::{TestApp, spawn};

/// Runs `oauth2-svc <args> --endpoint <admin> --public-endpoint <public>`; (exit ok, stdout, stderr).
async fn cli(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_oauth2-svc"))
        .args(args)
        .args(["--endpoint", &app.admin, "--public-endpoint", &app.public])
        .env_remove("OAUTH2_ADMIN_URL")
        .env_remove("OAUTH2_PUBLIC_URL")
        .output()
        .await
        .expect("the binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn cli_json(app: &TestApp, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.extend(["--format", "json"]);
    let (ok, out, err) = cli(app, &args).await;
    assert!(ok, "{args:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[tokio::test]
async fn clients_create_get_list_update_delete() {
    let app = spawn().await;
    let created = cli_json(
        &app,
        &[
            "clients",
            "create",
            "--name",
            "Billing",
            "--grant-type",
            "client_credentials",
            "--scope",
            "read write",
            "--token-endpoint-auth-method",
            "client_secret_post",
        ],
    )
    .await;
    let id = created["client_id"].as_str().unwrap();
    assert_eq!(created["client_name"], "Billing");
    assert!(created["client_secret"].as_str().unwrap().len() >= 32);

    let got = cli_json(&app, &["clients", "get", id]).await;
    assert_eq!(got["scope"], "read write");
    assert_eq!(got["token_endpoint_auth_method"], "client_secret_post");

    let updated = cli_json(&app, &["clients", "update", id, "--name", "Invoices"]).await;
    assert_eq!(updated["client_name"], "Invoices");
    assert_eq!(updated["scope"], "read write", "other fields are kept");

    let listed = cli_json(&app, &["clients", "list"]).await;
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["client_id"] == id)
    );
    let (ok, table, _) = cli(&app, &["clients", "list"]).await;
    assert!(
        ok && table.starts_with("CLIENT ID") && table.contains("Invoices"),
        "{table}"
    );

    let (ok, out, err) = cli(&app, &["clients", "delete", id]).await;
    assert!(ok, "{err}");
    assert!(out.contains(id));
    let res = app
        .http
        .get(format!("{}/admin/clients/{id}", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn an_unknown_client_fails_with_the_servers_message() {
    let app = spawn().await;
    let (ok, out, err) = cli(&app, &["clients", "get", "no-such-client"]).await;
    assert!(!ok, "must exit non-zero; printed {out}");
    assert!(
        err.starts_with("error: Unable to locate the requested resource") && err.contains("404"),
        "the server's error_description: {err}"
    );
}

#[tokio::test]
async fn keys_list_create_and_rotate() {
    let app = spawn().await;
    let (ok, _, err) = cli(&app, &["keys", "create", "ops.test", "--alg", "ES256"]).await;
    assert!(ok, "{err}");
    let rotated = cli_json(&app, &["keys", "rotate", "ops.test"]).await;
    assert_eq!(rotated["keys"][0]["alg"], "ES256");
    let listed = cli_json(&app, &["keys", "list", "ops.test"]).await;
    let keys = listed["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{listed}");
    assert!(
        keys.iter().all(|k| k.get("d").is_none()),
        "no private parts"
    );
    let (ok, table, _) = cli(&app, &["keys", "list", "ops.test"]).await;
    assert!(
        ok && table.starts_with("SET") && table.contains("ES256"),
        "{table}"
    );
}

#[tokio::test]
async fn perform_client_credentials_gets_a_token() {
    let app = spawn().await;
    let client = cli_json(
        &app,
        &[
            "clients",
            "create",
            "--grant-type",
            "client_credentials",
            "--scope",
            "read",
        ],
    )
    .await;
    let (id, secret) = (
        client["client_id"].as_str().unwrap(),
        client["client_secret"].as_str().unwrap(),
    );
    let args = [
        "perform",
        "client-credentials",
        "--client-id",
        id,
        "--client-secret",
        secret,
        "--scope",
        "read",
    ];
    let token = cli_json(&app, &args).await;
    assert_eq!(token["token_type"], "bearer");
    assert_eq!(token["scope"], "read");
    assert!(
        token["access_token"]
            .as_str()
            .unwrap()
            .starts_with("oly_at_")
    );

    let wrong = [
        "perform",
        "client-credentials",
        "--client-id",
        id,
        "--client-secret",
        "x".repeat(40).leak(),
    ];
    let (ok, _, err) = cli(&app, &wrong).await;
    assert!(!ok && err.contains("invalid_client"), "{err}");
}

type StderrLines = tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStderr>>;

/// Starts `perform authorization-code` on a free loopback port; returns the process, the rest
/// of its stderr and the authorization URL it printed.
async fn perform_authorization_code(
    app: &TestApp,
    client_id: &str,
    secret: Option<&str>,
    extra: &[&str],
) -> (tokio::process::Child, StderrLines, String) {
    use tokio::io::AsyncBufReadExt;
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_oauth2-svc"));
    command
        .args(["perform", "authorization-code", "--client-id", client_id])
        .args(["--port", "0", "--format", "json"])
        .args(["--endpoint", &app.admin, "--public-endpoint", &app.public])
        .args(extra)
        .env_remove("OAUTH2_CLIENT_SECRET")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    if let Some(secret) = secret {
        command.env("OAUTH2_CLIENT_SECRET", secret);
    }
    let mut child = command.spawn().expect("the binary runs");
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    loop {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("the URL is printed");
        if line.starts_with(&app.public) {
            return (child, lines, line);
        }
    }
}

#[tokio::test]
async fn perform_authorization_code_signs_in_through_a_browser() {
    let app = crate::browser::flow_app().await;
    let created = app
        .create_client(serde_json::json!({
            "redirect_uris": ["http://127.0.0.1/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "scope": "openid offline_access",
        }))
        .await;
    let created: Value = created.json().await.unwrap();
    let (id, secret) = (
        created["client_id"].as_str().unwrap(),
        created["client_secret"].as_str().unwrap(),
    );
    let (child, _stderr, url) = perform_authorization_code(&app, id, Some(secret), &[]).await;
    assert!(url.contains("code_challenge_method=S256"), "{url}");

    let browser = crate::browser::browser();
    let callback = crate::browser::sign_in(&app, &browser, &url, "user-1").await;
    assert!(callback.starts_with("http://127.0.0.1:"), "{callback}");
    let page = reqwest::get(&callback).await.unwrap();
    assert_eq!(page.status(), 200);

    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success());
    let tokens: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        tokens["access_token"]
            .as_str()
            .unwrap()
            .starts_with("oly_at_")
    );
    assert!(
        tokens["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("oly_rt_")
    );
    assert_eq!(tokens["id_token"].as_str().unwrap().split('.').count(), 3);
    assert_eq!(tokens["scope"], "openid offline_access");
}

#[tokio::test]
async fn perform_authorization_code_reports_a_refusal() {
    let app = crate::browser::flow_app().await;
    let id = app.public_client().await;
    // The public test client registered http://127.0.0.1/cb, not /callback.
    let (child, mut lines, url) =
        perform_authorization_code(&app, &id, None, &["--timeout", "5"]).await;
    let res = crate::browser::browser().get(&url).send().await.unwrap();
    let to = crate::browser::location(&res);
    assert!(
        to.starts_with(crate::helpers::ERROR_UI),
        "an unregistered redirect goes to the error page, not the CLI: {to}"
    );
    let mut rest = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        rest.push_str(&line);
    }
    let status = child.wait_with_output().await.unwrap().status;
    assert!(!status.success());
    assert!(rest.contains("no callback within 5 s"), "{rest}");
}
