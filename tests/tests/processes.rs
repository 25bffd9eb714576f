//! The real binaries as separate processes: start-up, readiness across services, graceful
//! shutdown, and state that survives a restart.

use olympus_tests::harness::{Domain, Service, ServiceProcess, base_config, binary_path};
use serde_json::{Value, json};

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_three_services_start_and_login_ui_sees_its_upstreams() {
    let domain = Domain::start().await.expect("domain starts");
    let ready: Value = http()
        .get(format!("{}/health/ready", domain.login_ui.public_url()))
        .header("x-request-id", "harness-check")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["upstreams"]["identity"], "up", "{ready}");
    assert_eq!(ready["upstreams"]["oauth2"], "up", "{ready}");
    for process in [&domain.identity, &domain.oauth2, &domain.login_ui] {
        let version: Value = http()
            .get(format!("{}/version", process.admin_url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
    }
}

#[tokio::test]
async fn an_oauth2_client_survives_a_restart() {
    let domain = Domain::start().await.expect("domain starts");
    let created: Value = http()
        .post(format!("{}/admin/clients", domain.oauth2.admin_url()))
        .json(&json!({"client_name": "Survivor", "redirect_uris": ["https://rp.test/cb"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["client_id"].as_str().unwrap().to_string();

    let Domain {
        oauth2, configs, ..
    } = domain;
    assert!(
        oauth2.stop().await.unwrap(),
        "oauth2-svc exits cleanly on SIGTERM"
    );
    let restarted = ServiceProcess::start(Service::OAuth2, &configs.oauth2, &configs.log_dir)
        .await
        .expect("restart");
    let res = http()
        .get(format!("{}/admin/clients/{id}", restarted.admin_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let fetched: Value = res.json().await.unwrap();
    assert_eq!(fetched["client_name"], "Survivor");
    assert_eq!(fetched["redirect_uris"], json!(["https://rp.test/cb"]));
    assert_eq!(fetched["created_at"], created["created_at"]);
    assert!(restarted.stop().await.unwrap());
}

#[tokio::test]
async fn a_missing_secret_stops_the_binary_naming_the_key() {
    let logs = tempfile::tempdir().unwrap();
    let db = service_kit::db::testdb::TestDatabase::empty("oauth2").unwrap();
    let mut config = base_config(Service::OAuth2, Some(&db.dsn));
    config.env.remove("SECRETS__SYSTEM");
    let err = ServiceProcess::start(Service::OAuth2, &config, logs.path())
        .await
        .err()
        .expect("refuses to start");
    let message = format!("{err:#}");
    assert!(
        message.contains("exited during start-up") && message.contains("`secrets.system`"),
        "{message}"
    );
}

#[test]
fn the_harness_fails_loudly_without_binaries() {
    // Every binary the suite starts must have been built; the path names the missing file.
    for service in [
        Service::Identity,
        Service::OAuth2,
        Service::LoginUi,
        Service::DemoRp,
    ] {
        let path = binary_path(service).expect("the README's test command builds every binary");
        assert!(path.ends_with(service.binary()));
    }
}

#[tokio::test]
async fn the_example_domain_configuration_starts_every_service() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/domains/example");
    let logs = tempfile::tempdir().unwrap();
    let identity_db = service_kit::db::testdb::TestDatabase::empty("identity").unwrap();
    let oauth2_db = service_kit::db::testdb::TestDatabase::empty("oauth2").unwrap();
    let mut started = Vec::new();
    for (service, db) in [
        (Service::Identity, Some(&identity_db)),
        (Service::OAuth2, Some(&oauth2_db)),
        (Service::LoginUi, None),
    ] {
        // The file's keys, with ports, DSN and secrets from the environment as an operator would.
        let mut config = base_config(service, db.map(|d| d.dsn.as_str()));
        config.args = vec![
            "--config".into(),
            format!("{root}/{}.yaml", service.binary()),
        ];
        let process = ServiceProcess::start(service, &config, logs.path())
            .await
            .expect("starts with the example file");
        started.push(process);
    }
    for process in started {
        assert!(process.stop().await.unwrap(), "exits cleanly on SIGTERM");
    }
}
