//! Starts the built service binaries as separate processes with generated secrets and reserved
//! ports, waits until they are ready, and stops them with SIGTERM.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::Rng;
use rand::distr::Alphanumeric;

/// One of the three services.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Identity,
    OAuth2,
    LoginUi,
}

impl Service {
    pub fn binary(self) -> &'static str {
        match self {
            Service::Identity => "identity-svc",
            Service::OAuth2 => "oauth2-svc",
            Service::LoginUi => "login-ui",
        }
    }

    pub fn env_prefix(self) -> &'static str {
        match self {
            Service::Identity => "IDENTITY_",
            Service::OAuth2 => "OAUTH2_",
            Service::LoginUi => "LOGIN_UI_",
        }
    }
}

/// A random secret of 48 characters (the services require at least 32).
pub fn generate_secret() -> String {
    let body: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(47)
        .map(char::from)
        .collect();
    format!("s{body}")
}

/// The directory holding the built binaries: `$CARGO_TARGET_DIR/debug` or the `target/debug`
/// that contains the running test executable.
pub fn binary_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    exe.ancestors()
        .find(|dir| {
            dir.file_name()
                .is_some_and(|n| n == "debug" || n == "release")
        })
        .map(Path::to_path_buf)
        .context("cannot locate the target directory of the built binaries")
}

pub fn binary_path(service: Service) -> anyhow::Result<PathBuf> {
    let path = binary_dir()?.join(service.binary());
    if !path.is_file() {
        bail!(
            "{} is missing: build every binary first with `cargo build --workspace` (the README's test command does)",
            path.display()
        );
    }
    Ok(path)
}

/// Reserves a free loopback port. It is released before the service binds it, so a start can
/// lose a race; [`ServiceProcess::start`] retries with new ports then.
pub fn reserve_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Settings for one start, as `KEY = value` pairs without the service prefix
/// (`URLS__SELF__ISSUER`); `{public}` and `{admin}` in a value are replaced by the ports.
#[derive(Clone, Debug, Default)]
pub struct ProcessConfig {
    pub env: BTreeMap<String, String>,
    /// Arguments before `serve`, such as `--config FILE`.
    pub args: Vec<String>,
    /// A public port reserved in advance, because another service's settings name it.
    pub public_port: Option<u16>,
}

impl ProcessConfig {
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.env.insert(key.to_string(), value.into());
        self
    }
}

/// A running service binary.
pub struct ServiceProcess {
    pub service: Service,
    pub public_port: u16,
    pub admin_port: u16,
    child: tokio::process::Child,
    log: PathBuf,
}

const START_ATTEMPTS: usize = 3;
const READY_TIMEOUT: Duration = Duration::from_secs(30);

impl ServiceProcess {
    /// Starts `service` with `config`, logging into `log_dir`, and waits for `/health/ready`
    /// on both listeners.
    pub async fn start(
        service: Service,
        config: &ProcessConfig,
        log_dir: &Path,
    ) -> anyhow::Result<Self> {
        let binary = binary_path(service)?;
        let mut last_error = None;
        for attempt in 1..=START_ATTEMPTS {
            let public_port = match config.public_port {
                Some(port) => port,
                None => reserve_port()?,
            };
            let admin_port = reserve_port()?;
            let log = log_dir.join(format!("{}-{attempt}.log", service.binary()));
            let child = spawn(&binary, service, config, public_port, admin_port, &log)?;
            let mut process = ServiceProcess {
                service,
                public_port,
                admin_port,
                child,
                log,
            };
            match process.wait_ready().await {
                Ok(()) => return Ok(process),
                Err(e) => {
                    let _ = process.child.start_kill();
                    let _ = process.child.wait().await;
                    let port_taken = process.log_text().contains("Address already in use");
                    last_error = Some(e);
                    if !port_taken {
                        break;
                    }
                }
            }
        }
        Err(last_error.expect("at least one attempt"))
    }

    pub fn public_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.public_port)
    }

    pub fn admin_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.admin_port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let started = Instant::now();
        let urls = [
            format!("{}/health/ready", self.public_url()),
            format!("{}/health/ready", self.admin_url()),
        ];
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited during start-up ({status}):\n{}",
                    self.service.binary(),
                    tail(&self.log_text())
                );
            }
            let mut ready = true;
            for url in &urls {
                ready &= matches!(http.get(url).send().await, Ok(r) if r.status().is_success());
            }
            if ready {
                return Ok(());
            }
            if started.elapsed() > READY_TIMEOUT {
                bail!(
                    "{} was not ready after {READY_TIMEOUT:?}:\n{}",
                    self.service.binary(),
                    tail(&self.log_text())
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, then waits for a graceful exit (SIGKILL after 15 s). Returns whether the process
    /// exited successfully on its own.
    pub async fn stop(mut self) -> anyhow::Result<bool> {
        if let Some(pid) = self.child.id() {
            let _ = tokio::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
        }
        match tokio::time::timeout(Duration::from_secs(15), self.child.wait()).await {
            Ok(status) => Ok(status?.success()),
            Err(_) => {
                self.child.kill().await?;
                Ok(false)
            }
        }
    }
}

fn spawn(
    binary: &Path,
    service: Service,
    config: &ProcessConfig,
    public_port: u16,
    admin_port: u16,
    log: &Path,
) -> anyhow::Result<tokio::process::Child> {
    let prefix = service.env_prefix();
    let out = std::fs::File::create(log)?;
    let mut command = tokio::process::Command::new(binary);
    command
        .args(&config.args)
        .arg("serve")
        .env_remove("RUST_LOG")
        .env(format!("{prefix}SERVE__PUBLIC__HOST"), "127.0.0.1")
        .env(
            format!("{prefix}SERVE__PUBLIC__PORT"),
            public_port.to_string(),
        )
        .env(format!("{prefix}SERVE__ADMIN__HOST"), "127.0.0.1")
        .env(
            format!("{prefix}SERVE__ADMIN__PORT"),
            admin_port.to_string(),
        )
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .kill_on_drop(true);
    for (key, value) in &config.env {
        let value = value
            .replace("{public}", &public_port.to_string())
            .replace("{admin}", &admin_port.to_string());
        command.env(format!("{prefix}{key}"), value);
    }
    command
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// The three services of one domain, started in dependency order on fresh databases.
pub struct Domain {
    pub identity: ServiceProcess,
    pub oauth2: ServiceProcess,
    pub login_ui: ServiceProcess,
    pub configs: DomainConfigs,
    _databases: Vec<service_kit::db::testdb::TestDatabase>,
    _logs: tempfile::TempDir,
}

/// What each service was started with (secrets included), so a test can restart one.
#[derive(Clone, Debug)]
pub struct DomainConfigs {
    pub identity: ProcessConfig,
    pub oauth2: ProcessConfig,
    pub login_ui: ProcessConfig,
    pub log_dir: PathBuf,
}

/// Settings of a service on `dsn` with generated secrets, migrating at start.
pub fn base_config(service: Service, dsn: Option<&str>) -> ProcessConfig {
    let mut config = ProcessConfig::default();
    config
        .set("LOG__LEVEL", "info")
        .set("URLS__SELF__PUBLIC", "http://127.0.0.1:{public}");
    if let Some(dsn) = dsn {
        config
            .set("DSN", dsn)
            .set("DATABASE__MIGRATE_ON_START", "true");
    }
    match service {
        Service::Identity => config
            .set("SECRETS__COOKIE", generate_secret())
            .set("SECRETS__CIPHER", generate_secret()),
        Service::OAuth2 => config
            .set("SECRETS__SYSTEM", generate_secret())
            .set("SECRETS__COOKIE", generate_secret())
            .set("URLS__SELF__ISSUER", "http://127.0.0.1:{public}"),
        Service::LoginUi => config.set("SECRETS__COOKIE", generate_secret()),
    };
    if service == Service::OAuth2 {
        config.env.remove("URLS__SELF__PUBLIC");
    }
    config
}

impl Domain {
    pub async fn start() -> anyhow::Result<Domain> {
        let logs = tempfile::tempdir()?;
        let identity_db = service_kit::db::testdb::TestDatabase::empty("identity")?;
        let oauth2_db = service_kit::db::testdb::TestDatabase::empty("oauth2")?;
        let login_ui_port = reserve_port()?;
        let login_ui_url = format!("http://127.0.0.1:{login_ui_port}");
        let mut identity_config = base_config(Service::Identity, Some(&identity_db.dsn));
        identity_config
            .set(
                "SELFSERVICE__FLOWS__LOGIN__UI_URL",
                format!("{login_ui_url}/login"),
            )
            .set(
                "SELFSERVICE__DEFAULT_BROWSER_RETURN_URL",
                format!("{login_ui_url}/"),
            );
        let oauth2_config = base_config(Service::OAuth2, Some(&oauth2_db.dsn));
        let identity =
            ServiceProcess::start(Service::Identity, &identity_config, logs.path()).await?;
        let oauth2 = ServiceProcess::start(Service::OAuth2, &oauth2_config, logs.path()).await?;
        let mut login_config = base_config(Service::LoginUi, None);
        login_config.public_port = Some(login_ui_port);
        login_config
            .set("URLS__IDENTITY__PUBLIC", identity.public_url())
            .set("URLS__IDENTITY__ADMIN", identity.admin_url())
            .set("URLS__OAUTH2__ADMIN", oauth2.admin_url());
        let login_ui = ServiceProcess::start(Service::LoginUi, &login_config, logs.path()).await?;
        let configs = DomainConfigs {
            identity: identity_config,
            oauth2: oauth2_config,
            login_ui: login_config,
            log_dir: logs.path().to_path_buf(),
        };
        Ok(Domain {
            identity,
            oauth2,
            login_ui,
            configs,
            _databases: vec![identity_db, oauth2_db],
            _logs: logs,
        })
    }
}
