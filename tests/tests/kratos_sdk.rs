//! Ory's published Kratos SDK against the real identity-svc binary: `tests/compat/kratos_sdk_compat.py`
//! drives the public and admin APIs with PyPI's `ory-kratos-client` (v1) — identities, native
//! registration, login, whoami, sessions, settings, recovery, verification, the courier and the
//! schemas — and validates every response body against Ory's OpenAPI document.
//!
//! As with `hydra_sdk.rs`, nothing is downloaded here: `.ci/run` installs
//! `tests/compat/requirements.txt` into `target/compat-venv`. When that environment or Ory's
//! OpenAPI documents are missing, the test fails under `CI=true` and is skipped, saying so,
//! otherwise.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use olympus_tests::harness::{Service, ServiceProcess, base_config, binary_dir, tail};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Fails under `CI=true`; otherwise prints why the test is skipped (straight to stderr, so that
/// the notice survives the test harness' capture) and returns.
fn skip_or_fail(why: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why} (CI=true, so the Kratos SDK compatibility test may not be skipped)");
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED the Kratos SDK compatibility test: {why}"
    );
}

/// `<target>/compat-venv`, beside the `debug` directory holding the binaries.
fn venv() -> PathBuf {
    binary_dir()
        .expect("target directory")
        .parent()
        .expect("target directory")
        .join("compat-venv")
}

const INSTALL: &str = "python3 -m venv target/compat-venv && target/compat-venv/bin/pip install \
                       -r tests/compat/requirements.txt && cp tests/compat/requirements.txt \
                       target/compat-venv/ (or bash .ci/run)";

#[tokio::test]
async fn ory_kratos_python_sdk_drives_the_public_and_admin_apis() {
    let root = workspace();
    let openapi = root.join("../shared/reference/openapi/kratos-api.json");
    if !openapi.is_file() {
        return skip_or_fail(&format!(
            "Ory's OpenAPI document {} is missing",
            openapi.display()
        ));
    }
    let venv = venv();
    let python = venv.join("bin/python");
    if !python.is_file() {
        return skip_or_fail(&format!(
            "the SDK environment {} is missing; create it with: {INSTALL}",
            venv.display()
        ));
    }
    let wanted = root.join("tests/compat/requirements.txt");
    let installed = std::fs::read_to_string(venv.join("requirements.txt")).unwrap_or_default();
    if std::fs::read_to_string(&wanted).expect("tests/compat/requirements.txt") != installed {
        return skip_or_fail(&format!(
            "{} was not installed from the current {}; reinstall with: {INSTALL}",
            venv.display(),
            wanted.display()
        ));
    }

    let logs = tempfile::tempdir().unwrap();
    let db = service_kit::db::testdb::TestDatabase::empty("identity").unwrap();
    let mut config = base_config(Service::Identity, Some(&db.dsn));
    // Recovery and verification need a courier; its mail stays queued (port 9 refuses), which
    // is what the courier listing reads.
    config
        .set(
            "SELFSERVICE__FLOWS__LOGIN__UI_URL",
            "http://127.0.0.1:4455/login",
        )
        .set(
            "SELFSERVICE__DEFAULT_BROWSER_RETURN_URL",
            "http://127.0.0.1:4455/",
        )
        .set("SELFSERVICE__FLOWS__RECOVERY__ENABLED", "true")
        .set(
            "SELFSERVICE__FLOWS__RECOVERY__UI_URL",
            "http://127.0.0.1:4455/recovery",
        )
        .set("SELFSERVICE__FLOWS__VERIFICATION__ENABLED", "true")
        .set(
            "SELFSERVICE__FLOWS__VERIFICATION__UI_URL",
            "http://127.0.0.1:4455/verification",
        )
        .set(
            "SELFSERVICE__FLOWS__SETTINGS__UI_URL",
            "http://127.0.0.1:4455/settings",
        )
        .set(
            "COURIER__SMTP__CONNECTION_URI",
            "smtp://127.0.0.1:9/?disable_starttls=true",
        )
        .set("COURIER__SMTP__FROM_ADDRESS", "no-reply@olympus.test");
    let identity = ServiceProcess::start(Service::Identity, &config, logs.path())
        .await
        .expect("identity-svc starts");

    let started = Instant::now();
    let run = tokio::process::Command::new(&python)
        .arg(root.join("tests/compat/kratos_sdk_compat.py"))
        .args(["--admin", &identity.admin_url()])
        .args(["--public", &identity.public_url()])
        .arg("--openapi")
        .arg(&openapi)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the SDK script finishes within 2 minutes")
        .expect("the SDK script runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}{stderr}(took {:?})", started.elapsed());
    assert!(
        output.status.success() && stdout.contains(" passed, 0 failed"),
        "the Kratos SDK compatibility script failed ({}):\n{stdout}\n{stderr}\n\
         --- identity-svc log (last lines) ---\n{}",
        output.status,
        tail(&identity.log_text())
    );
    assert!(identity.stop().await.unwrap(), "identity-svc stops cleanly");
}
