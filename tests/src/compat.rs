//! Ory's published SDKs against our binaries: a `tests/compat/*.py` script, run with the Python
//! of the venv `.ci/run` builds from `tests/compat/requirements.txt` (`<target>/compat-venv`,
//! with a copy of the file as a stamp), validates every response against Ory's OpenAPI document
//! in `../shared/reference/openapi/`. Nothing is downloaded here: when the venv or the document
//! is missing, a test fails under `CI=true` and is skipped, saying so, otherwise.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::harness::{ServiceProcess, binary_dir, tail};

const INSTALL: &str = "python3 -m venv target/compat-venv && target/compat-venv/bin/pip install \
                       -r tests/compat/requirements.txt && cp tests/compat/requirements.txt \
                       target/compat-venv/ (or bash .ci/run)";

/// A located SDK environment for one compatibility test (`name`, as in "the Kratos SDK").
pub struct SdkEnv {
    name: &'static str,
    root: PathBuf,
    python: PathBuf,
    openapi: PathBuf,
}

impl SdkEnv {
    /// The venv and Ory's OpenAPI document `openapi` (a file name in
    /// `../shared/reference/openapi/`); `None` when the test is to be skipped (it has said why).
    pub fn locate(name: &'static str, openapi: &str) -> Option<SdkEnv> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("workspace root")
            .to_path_buf();
        let openapi = root.join("../shared/reference/openapi").join(openapi);
        if !openapi.is_file() {
            return skip_or_fail(
                name,
                &format!("Ory's OpenAPI document {} is missing", openapi.display()),
            );
        }
        let venv = binary_dir()
            .expect("target directory")
            .parent()
            .expect("target directory")
            .join("compat-venv");
        let python = venv.join("bin/python");
        if !python.is_file() {
            return skip_or_fail(
                name,
                &format!(
                    "the SDK environment {} is missing; create it with: {INSTALL}",
                    venv.display()
                ),
            );
        }
        let wanted = root.join("tests/compat/requirements.txt");
        let installed = std::fs::read_to_string(venv.join("requirements.txt")).unwrap_or_default();
        if std::fs::read_to_string(&wanted).expect("tests/compat/requirements.txt") != installed {
            return skip_or_fail(
                name,
                &format!(
                    "{} was not installed from the current {}; reinstall with: {INSTALL}",
                    venv.display(),
                    wanted.display()
                ),
            );
        }
        Some(SdkEnv {
            name,
            root,
            python,
            openapi,
        })
    }

    /// Runs `tests/compat/<script>` against `service` and asserts it passed every check; a
    /// failure shows the script's output and the last lines of the service's log.
    pub async fn run(&self, script: &str, service: &ServiceProcess) {
        let started = Instant::now();
        let run = tokio::process::Command::new(&self.python)
            .arg(self.root.join("tests/compat").join(script))
            .args(["--admin", &service.admin_url()])
            .args(["--public", &service.public_url()])
            .arg("--openapi")
            .arg(&self.openapi)
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
            "the {} compatibility script failed ({}):\n{stdout}\n{stderr}\n\
             --- {} log (last lines) ---\n{}",
            self.name,
            output.status,
            service.service.binary(),
            tail(&service.log_text())
        );
    }
}

/// Fails under `CI=true`; otherwise prints why the test is skipped (straight to stderr, so that
/// the notice survives the test harness' capture).
fn skip_or_fail(name: &str, why: &str) -> Option<SdkEnv> {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why} (CI=true, so the {name} compatibility test may not be skipped)");
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED the {name} compatibility test: {why}"
    );
    None
}
