//! Ory's published Hydra SDK against the real oauth2-svc binary: `tests/compat/hydra_sdk_compat.py`
//! drives the admin API (and the browser steps of one authorization) with PyPI's
//! `ory-hydra-client` and validates every response body against Ory's OpenAPI document.
//!
//! The test downloads nothing: `.ci/run` installs `tests/compat/requirements.txt` into
//! `target/compat-venv` (and copies the file there as a stamp). When that environment or Ory's
//! OpenAPI documents are missing, the test fails under `CI=true` and is skipped, saying so,
//! otherwise.

use olympus_tests::compat::SdkEnv;
use olympus_tests::harness::{Service, ServiceProcess, base_config};

#[tokio::test]
async fn ory_hydra_python_sdk_drives_the_admin_api() {
    let Some(sdk) = SdkEnv::locate("Hydra SDK", "hydra-api.json") else {
        return;
    };

    let logs = tempfile::tempdir().unwrap();
    let db = service_kit::db::testdb::TestDatabase::empty("oauth2").unwrap();
    let config = base_config(Service::OAuth2, Some(&db.dsn));
    let oauth2 = ServiceProcess::start(Service::OAuth2, &config, logs.path())
        .await
        .expect("oauth2-svc starts");

    sdk.run("hydra_sdk_compat.py", &oauth2).await;
    assert!(oauth2.stop().await.unwrap(), "oauth2-svc stops cleanly");
}
