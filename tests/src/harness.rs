//! Starts the built service binaries as separate processes with generated secrets and reserved
//! (or, for the local launcher, fixed) ports, waits until they are ready, and stops them with
//! SIGTERM. [`Domain`] starts the three services of one domain.

mod domain;

pub use domain::{Domain, DomainConfigs, DomainOptions, DomainPorts};

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::Rng;
use rand::distr::Alphanumeric;

/// One of the three services, or the demo relying party (`deploy/demo-rp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Identity,
    OAuth2,
    LoginUi,
    DemoRp,
}

impl Service {
    pub fn binary(self) -> &'static str {
        match self {
            Service::Identity => "identity-svc",
            Service::OAuth2 => "oauth2-svc",
            Service::LoginUi => "login-ui",
            Service::DemoRp => "olympus-demo-rp",
        }
    }

    pub fn env_prefix(self) -> &'static str {
        match self {
            Service::Identity => "IDENTITY_",
            Service::OAuth2 => "OAUTH2_",
            Service::LoginUi => "LOGIN_UI_",
            Service::DemoRp => "DEMO_RP_",
        }
    }

    /// The demo relying party has one listener (and no `serve` sub-command).
    pub fn has_admin(self) -> bool {
        self != Service::DemoRp
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
    /// A public port reserved in advance, because another service's settings name it, or fixed.
    pub public_port: Option<u16>,
    /// A fixed admin port (the launcher's); reserved at start when unset.
    pub admin_port: Option<u16>,
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
        // A port named in advance must be free now: otherwise readiness would be answered by
        // whatever already listens there (another launcher, say).
        for port in [config.public_port, config.admin_port]
            .into_iter()
            .flatten()
        {
            if TcpListener::bind(("127.0.0.1", port)).is_err() {
                bail!(
                    "port {port} for {} is already in use (is another Olympus still running?)",
                    service.binary()
                );
            }
        }
        let all_fixed =
            config.public_port.is_some() && (config.admin_port.is_some() || !service.has_admin());
        let mut last_error = None;
        for attempt in 1..=START_ATTEMPTS {
            let public_port = match config.public_port {
                Some(port) => port,
                None => reserve_port()?,
            };
            let admin_port = match config.admin_port {
                Some(port) => port,
                None if service.has_admin() => reserve_port()?,
                None => 0,
            };
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
                    if !port_taken || all_fixed {
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

    /// The exit status when the process has already ended (it should not, while in use).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let started = Instant::now();
        let mut urls = vec![format!("{}/health/ready", self.public_url())];
        if self.service.has_admin() {
            urls.push(format!("{}/health/ready", self.admin_url()));
        }
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
        self.terminate().await
    }

    /// [`stop`](Self::stop) without giving up the value (to restart in its place).
    pub async fn terminate(&mut self) -> anyhow::Result<bool> {
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
    command.args(&config.args).env_remove("RUST_LOG");
    if service == Service::DemoRp {
        command
            .env(format!("{prefix}HOST"), "127.0.0.1")
            .env(format!("{prefix}PORT"), public_port.to_string());
    } else {
        command
            .arg("serve")
            .env(format!("{prefix}SERVE__PUBLIC__HOST"), "127.0.0.1")
            .env(
                format!("{prefix}SERVE__PUBLIC__PORT"),
                public_port.to_string(),
            )
            .env(format!("{prefix}SERVE__ADMIN__HOST"), "127.0.0.1")
            .env(
                format!("{prefix}SERVE__ADMIN__PORT"),
                admin_port.to_string(),
            );
    }
    command
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

/// The last 40 lines of a log.
pub fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Settings of a service on `dsn` with generated secrets, migrating at start. (The demo relying
/// party has neither: see [`demo_rp_config`].)
pub fn base_config(service: Service, dsn: Option<&str>) -> ProcessConfig {
    if service == Service::DemoRp {
        return demo_rp_config("http://127.0.0.1:4444", "olympus-demo", None);
    }
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
            .set("URLS__SELF__ISSUER", "http://127.0.0.1:{public}")
            .set("URLS__LOGIN", "http://127.0.0.1:4455/login")
            .set("URLS__CONSENT", "http://127.0.0.1:4455/consent")
            .set("URLS__ERROR", "http://127.0.0.1:4455/error"),
        Service::LoginUi => config.set("SECRETS__COOKIE", generate_secret()),
        Service::DemoRp => unreachable!("returned above"),
    };
    if service == Service::OAuth2 {
        config.env.remove("URLS__SELF__PUBLIC");
    }
    config
}

/// The demo relying party against `issuer` as client `client_id`; its redirect URI is
/// `http://127.0.0.1:<its port>/callback`.
pub fn demo_rp_config(issuer: &str, client_id: &str, client_secret: Option<&str>) -> ProcessConfig {
    let mut config = ProcessConfig::default();
    config
        .set("ISSUER", issuer)
        .set("CLIENT_ID", client_id)
        .set("PUBLIC_URL", "http://127.0.0.1:{public}")
        .set("LOG_LEVEL", "info");
    if let Some(secret) = client_secret {
        config.set("CLIENT_SECRET", secret);
    }
    config
}
