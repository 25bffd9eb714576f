//! Ory's published Kratos SDK against the real identity-svc binary: `tests/compat/kratos_sdk_compat.py`
//! drives the public and admin APIs with PyPI's `ory-kratos-client` (v1) — identities, native
//! registration, login, whoami, sessions, settings, recovery, verification, the courier and the
//! schemas — and validates every response body against Ory's OpenAPI document.
//!
//! As with `hydra_sdk.rs`, nothing is downloaded here: `.ci/run` installs
//! `tests/compat/requirements.txt` into `target/compat-venv`. When that environment or Ory's
//! OpenAPI documents are missing, the test fails under `CI=true` and is skipped, saying so,
//! otherwise.

use olympus_tests::compat::SdkEnv;
use olympus_tests::harness::{Service, ServiceProcess, base_config};

#[tokio::test]
async fn ory_kratos_python_sdk_drives_the_public_and_admin_apis() {
    let Some(sdk) = SdkEnv::locate("Kratos SDK", "kratos-api.json") else {
        return;
    };

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

    sdk.run("kratos_sdk_compat.py", &identity).await;
    assert!(identity.stop().await.unwrap(), "identity-svc stops cleanly");
}
