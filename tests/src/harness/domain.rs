//! The three services of one domain, started in dependency order with consistent URLs: on fresh
//! test databases and reserved ports for tests ([`Domain::start`]), or on the launcher's fixed
//! ports and persistent SQLite files ([`Domain::start_with`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;

use super::{ProcessConfig, Service, ServiceProcess, base_config, generate_secret, reserve_port};

/// The three services of one domain.
pub struct Domain {
    pub identity: ServiceProcess,
    pub oauth2: ServiceProcess,
    pub login_ui: ServiceProcess,
    pub configs: DomainConfigs,
    _databases: Vec<service_kit::db::testdb::TestDatabase>,
    _logs: Option<tempfile::TempDir>,
}

/// What each service was started with (secrets included), so a test can restart one.
#[derive(Clone, Debug)]
pub struct DomainConfigs {
    pub identity: ProcessConfig,
    pub oauth2: ProcessConfig,
    pub login_ui: ProcessConfig,
    pub log_dir: PathBuf,
}

/// `(public, admin)` ports of each service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DomainPorts {
    pub identity: (u16, u16),
    pub oauth2: (u16, u16),
    pub login_ui: (u16, u16),
}

impl DomainPorts {
    /// The documented ports (Ory's): 4433/4434, 4444/4445, 4455/4456.
    pub const STANDARD: DomainPorts = DomainPorts {
        identity: (4433, 4434),
        oauth2: (4444, 4445),
        login_ui: (4455, 4456),
    };
}

/// How [`Domain::start_with`] starts a domain; the default is what tests use.
#[derive(Clone, Debug, Default)]
pub struct DomainOptions {
    /// Fixed ports instead of reserved ones.
    pub ports: Option<DomainPorts>,
    /// A directory for `identity.sqlite` and `oauth2.sqlite` that outlive the run, instead of
    /// fresh test databases (SQLite, or PostgreSQL under `OLYMPUS_TEST_POSTGRES`).
    pub data_dir: Option<PathBuf>,
    /// Where the service logs go; a temporary directory when unset.
    pub log_dir: Option<PathBuf>,
    /// `dev = true` everywhere: `http://` URLs and cookies without `Secure`, for a browser on
    /// `http://127.0.0.1`.
    pub dev: bool,
    /// Settings by full variable name (`OAUTH2_SECRETS__SYSTEM`) that replace the generated or
    /// derived ones, such as secrets kept from an earlier run.
    pub overrides: BTreeMap<String, String>,
}

impl DomainOptions {
    /// Adds `dev` and the overrides meant for `service` to its settings.
    fn apply(&self, service: Service, config: &mut ProcessConfig) {
        if self.dev {
            config.set("DEV", "true");
        }
        for (key, value) in &self.overrides {
            if let Some(key) = key.strip_prefix(service.env_prefix()) {
                config.set(key, value.clone());
            }
        }
    }
}

impl Domain {
    /// Fresh databases, generated secrets, reserved ports.
    pub async fn start() -> anyhow::Result<Domain> {
        Domain::start_with(DomainOptions::default()).await
    }

    /// Starts a domain. With reserved ports (no `options.ports`), a port another process took
    /// between its reservation and its use makes a fresh attempt with new ports and databases;
    /// the processes of the failed attempt are killed when dropped.
    pub async fn start_with(options: DomainOptions) -> anyhow::Result<Domain> {
        const ATTEMPTS: usize = 3;
        let mut attempt = 1;
        loop {
            match Domain::start_once(options.clone()).await {
                Err(e)
                    if options.ports.is_none()
                        && attempt < ATTEMPTS
                        && format!("{e:#}").contains("is already in use") =>
                {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn start_once(options: DomainOptions) -> anyhow::Result<Domain> {
        let (logs, log_dir) = match &options.log_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                (None, dir.clone())
            }
            None => {
                let logs = tempfile::tempdir()?;
                let dir = logs.path().to_path_buf();
                (Some(logs), dir)
            }
        };
        let mut databases = Vec::new();
        let (identity_dsn, oauth2_dsn) = match &options.data_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                let dir = dir.canonicalize()?;
                let dsn = |name: &str| format!("sqlite://{}/{name}.sqlite", dir.display());
                (dsn("identity"), dsn("oauth2"))
            }
            None => {
                let identity = service_kit::db::testdb::TestDatabase::empty("identity")?;
                let oauth2 = service_kit::db::testdb::TestDatabase::empty("oauth2")?;
                let dsns = (identity.dsn.clone(), oauth2.dsn.clone());
                databases.extend([identity, oauth2]);
                dsns
            }
        };
        let ports = options.ports;
        let login_ui_port = match ports {
            Some(p) => p.login_ui.0,
            None => reserve_port()?,
        };
        let login_ui_url = format!("http://127.0.0.1:{login_ui_port}");
        // identity-svc's lifecycle hook posts to login-ui's admin listener, which starts last.
        let login_ui_admin_port = match ports {
            Some(p) => p.login_ui.1,
            None => reserve_port()?,
        };
        let lifecycle_hook =
            format!("http://127.0.0.1:{login_ui_admin_port}/hooks/identity-lifecycle");
        // Signs the hook's notices; nothing at rest depends on it, so a fresh one per start.
        let hook_secret = generate_secret();
        // identity-svc must know the issuer before oauth2-svc starts: after a sign-out it returns
        // the browser to oauth2-svc's logout verifier.
        let oauth2_port = match ports {
            Some(p) => p.oauth2.0,
            None => reserve_port()?,
        };
        let issuer = format!("http://127.0.0.1:{oauth2_port}");

        let mut identity_config = base_config(Service::Identity, Some(&identity_dsn));
        identity_config
            .set(
                "SELFSERVICE__FLOWS__LOGIN__UI_URL",
                format!("{login_ui_url}/login"),
            )
            .set(
                "SELFSERVICE__DEFAULT_BROWSER_RETURN_URL",
                format!("{login_ui_url}/"),
            )
            .set(
                "SELFSERVICE__ALLOWED_RETURN_URLS",
                format!("[{login_ui_url}/,{issuer}/oauth2/sessions/logout]"),
            )
            .set("HOOKS__IDENTITY_LIFECYCLE__URL", lifecycle_hook)
            .set("HOOKS__IDENTITY_LIFECYCLE__SECRET", hook_secret.clone());
        // Every self-service flow on login-ui's pages, with TOTP and recovery codes. Mail goes to
        // a port nobody serves: tests read codes from the courier's admin API, which lists a
        // message from the moment the flow queues it.
        let mail_port = reserve_port()?;
        for (flow, path) in [
            ("REGISTRATION", "registration"),
            ("RECOVERY", "recovery"),
            ("VERIFICATION", "verification"),
            ("SETTINGS", "settings"),
            // Browser errors no flow can show go to login-ui's error page.
            ("ERROR", "error"),
        ] {
            identity_config.set(
                &format!("SELFSERVICE__FLOWS__{flow}__UI_URL"),
                format!("{login_ui_url}/{path}"),
            );
        }
        identity_config
            .set(
                "SELFSERVICE__FLOWS__REGISTRATION__AFTER__HOOKS",
                "[session]",
            )
            .set("SELFSERVICE__FLOWS__RECOVERY__ENABLED", "true")
            .set("SELFSERVICE__FLOWS__VERIFICATION__ENABLED", "true")
            .set("SELFSERVICE__METHODS__TOTP__ENABLED", "true")
            .set("SELFSERVICE__METHODS__LOOKUP_SECRET__ENABLED", "true")
            .set(
                "COURIER__SMTP__CONNECTION_URI",
                format!("smtp://127.0.0.1:{mail_port}/?disable_starttls=true"),
            )
            .set("COURIER__SMTP__FROM_ADDRESS", "no-reply@olympus.test");
        let mut oauth2_config = base_config(Service::OAuth2, Some(&oauth2_dsn));
        oauth2_config
            .set("URLS__LOGIN", format!("{login_ui_url}/login"))
            .set("URLS__CONSENT", format!("{login_ui_url}/consent"))
            .set("URLS__ERROR", format!("{login_ui_url}/error"))
            .set("URLS__LOGOUT", format!("{login_ui_url}/logout"));
        oauth2_config.public_port = Some(oauth2_port);
        if let Some(p) = ports {
            (identity_config.public_port, identity_config.admin_port) =
                (Some(p.identity.0), Some(p.identity.1));
            (oauth2_config.public_port, oauth2_config.admin_port) =
                (Some(p.oauth2.0), Some(p.oauth2.1));
        }
        options.apply(Service::Identity, &mut identity_config);
        options.apply(Service::OAuth2, &mut oauth2_config);
        let identity = ServiceProcess::start(Service::Identity, &identity_config, &log_dir).await?;
        let oauth2 = ServiceProcess::start(Service::OAuth2, &oauth2_config, &log_dir).await?;

        let mut login_config = base_config(Service::LoginUi, None);
        login_config.public_port = Some(login_ui_port);
        login_config.admin_port = Some(login_ui_admin_port);
        login_config
            .set("URLS__IDENTITY__PUBLIC", identity.public_url())
            .set("URLS__IDENTITY__ADMIN", identity.admin_url())
            .set("URLS__OAUTH2__ADMIN", oauth2.admin_url())
            .set("URLS__OAUTH2__PUBLIC", oauth2.public_url())
            .set("HOOKS__IDENTITY_LIFECYCLE__SECRET", hook_secret);
        options.apply(Service::LoginUi, &mut login_config);
        let login_ui = ServiceProcess::start(Service::LoginUi, &login_config, &log_dir).await?;
        let configs = DomainConfigs {
            identity: identity_config,
            oauth2: oauth2_config,
            login_ui: login_config,
            log_dir,
        };
        Ok(Domain {
            identity,
            oauth2,
            login_ui,
            configs,
            _databases: databases,
            _logs: logs,
        })
    }

    /// Restarts oauth2-svc on the same ports, database and secrets (the issuer stays the same).
    pub async fn restart_oauth2(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.oauth2.terminate().await?,
            "oauth2-svc did not stop cleanly"
        );
        let mut config = self.configs.oauth2.clone();
        config.public_port = Some(self.oauth2.public_port);
        config.admin_port = Some(self.oauth2.admin_port);
        self.oauth2 =
            ServiceProcess::start(Service::OAuth2, &config, &self.configs.log_dir).await?;
        Ok(())
    }

    /// The issuer, byte for byte as oauth2-svc advertises it.
    pub fn issuer(&self) -> String {
        self.oauth2.public_url()
    }

    /// Stops the services in reverse start order (SIGTERM, then a graceful wait). Returns
    /// whether every one exited cleanly.
    pub async fn stop(self) -> anyhow::Result<bool> {
        let mut clean = self.login_ui.stop().await?;
        clean &= self.oauth2.stop().await?;
        clean &= self.identity.stop().await?;
        Ok(clean)
    }
}
