//! olympus-local: one Olympus domain on this machine for trying it out. It starts the built
//! binaries through the test harness on the documented ports (identity-svc 4433/4434, oauth2-svc
//! 4444/4445, login-ui 4455/4456) with `dev = true` and SQLite files under `data/local/`, plus
//! the demo relying party on 4446; creates the demo client and user; and stops everything on
//! Ctrl-C or SIGTERM. It builds nothing: `deploy/local/run` runs `cargo build --workspace` first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use olympus_tests::harness::{
    Domain, DomainOptions, DomainPorts, Service, ServiceProcess, demo_rp_config, generate_secret,
    tail,
};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::json;

const DEMO_CLIENT_ID: &str = "olympus-demo";
const DEMO_RP_PORT: u16 = 4446;
const DEMO_EMAIL: &str = "demo@olympus.test";

/// Secrets the services need, and the demo client's secret and demo user's password: generated
/// on the first run and kept in the secrets file, so that the databases stay readable.
const SECRET_KEYS: [&str; 7] = [
    "IDENTITY_SECRETS__COOKIE",
    "IDENTITY_SECRETS__CIPHER",
    "OAUTH2_SECRETS__SYSTEM",
    "OAUTH2_SECRETS__COOKIE",
    "LOGIN_UI_SECRETS__COOKIE",
    "DEMO_CLIENT_SECRET",
    "DEMO_USER_PASSWORD",
];

/// Run one Olympus domain locally, with a demo app to sign in to.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Databases, logs and the generated secrets (`secrets.env`) live here. Delete it to start
    /// afresh.
    #[arg(long, default_value = "data/local")]
    data_dir: PathBuf,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("olympus-local: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let secrets_file = args.data_dir.join("secrets.env");
    let secrets = load_or_create_secrets(&secrets_file)?;
    let log_dir = args.data_dir.join("logs");
    eprintln!(
        "olympus-local: starting identity-svc, oauth2-svc and login-ui (logs in {})",
        log_dir.display()
    );
    let options = DomainOptions {
        ports: Some(DomainPorts::STANDARD),
        data_dir: Some(args.data_dir.clone()),
        log_dir: Some(log_dir.clone()),
        dev: true,
        overrides: secrets.clone(),
    };
    let mut domain = Domain::start_with(options).await?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let setup = async {
        ensure_demo_client(&http, &domain, &secrets["DEMO_CLIENT_SECRET"]).await?;
        ensure_demo_user(&http, &domain, &secrets["DEMO_USER_PASSWORD"]).await?;
        let mut rp_config = demo_rp_config(
            &domain.issuer(),
            DEMO_CLIENT_ID,
            Some(&secrets["DEMO_CLIENT_SECRET"]),
        );
        rp_config.public_port = Some(DEMO_RP_PORT);
        ServiceProcess::start(Service::DemoRp, &rp_config, &log_dir).await
    };
    let mut rp = match setup.await {
        Ok(rp) => rp,
        Err(e) => {
            domain.stop().await?;
            return Err(e);
        }
    };
    print_banner(&domain, &rp, &secrets, &secrets_file, &log_dir);

    let reason = wait_for_stop(&mut [
        &mut domain.identity,
        &mut domain.oauth2,
        &mut domain.login_ui,
        &mut rp,
    ])
    .await?;
    eprintln!("\nolympus-local: {reason}; stopping…");
    let clean = rp.stop().await? & domain.stop().await?;
    eprintln!(
        "olympus-local: stopped{}",
        if clean {
            ""
        } else {
            " (not every service exited cleanly; see the logs)"
        }
    );
    Ok(())
}

/// Reads `KEY=value` lines, adds any secret that is missing, and writes the file back (0600)
/// when something was added.
fn load_or_create_secrets(path: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let mut secrets = BTreeMap::new();
    if path.exists() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        for line in text.lines().map(str::trim) {
            if let Some((key, value)) = line.split_once('=')
                && !line.starts_with('#')
            {
                secrets.insert(key.trim().to_string(), value.trim().to_string());
            }
        }
    }
    let missing: Vec<&str> = SECRET_KEYS
        .into_iter()
        .filter(|key| !secrets.contains_key(*key))
        .collect();
    if !missing.is_empty() {
        for key in &missing {
            let value = match *key {
                // Typed by hand in the browser: shorter, still ~119 bits.
                "DEMO_USER_PASSWORD" => rand::rng()
                    .sample_iter(&Alphanumeric)
                    .take(20)
                    .map(char::from)
                    .collect(),
                _ => generate_secret(),
            };
            secrets.insert(key.to_string(), value);
        }
        write_secrets(path, &secrets)?;
        eprintln!(
            "olympus-local: generated {} into {}",
            missing.join(", "),
            path.display()
        );
    }
    Ok(secrets)
}

fn write_secrets(path: &Path, secrets: &BTreeMap<String, String>) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(
        file,
        "# Generated by olympus-local; git-ignored. The databases beside this file need these\n\
         # values: delete the whole directory to start afresh, never only this file."
    )?;
    for (key, value) in secrets {
        writeln!(file, "{key}={value}")?;
    }
    Ok(())
}

/// The demo app's OAuth2 client; an existing one (409) is left as it is.
async fn ensure_demo_client(
    http: &reqwest::Client,
    domain: &Domain,
    secret: &str,
) -> anyhow::Result<()> {
    let body = json!({
        "client_id": DEMO_CLIENT_ID,
        "client_name": "Olympus demo app",
        "client_secret": secret,
        "redirect_uris": [format!("http://127.0.0.1:{DEMO_RP_PORT}/callback")],
        "post_logout_redirect_uris": [format!("http://127.0.0.1:{DEMO_RP_PORT}/")],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "scope": "openid offline_access email profile",
        "token_endpoint_auth_method": "client_secret_basic",
        "skip_consent": false,
    });
    let url = format!("{}/admin/clients", domain.oauth2.admin_url());
    create_once(http, &url, &body, "the demo OAuth2 client").await
}

/// The demo user; an existing one (409) is left as it is.
async fn ensure_demo_user(
    http: &reqwest::Client,
    domain: &Domain,
    password: &str,
) -> anyhow::Result<()> {
    let body = json!({
        "schema_id": "default",
        "traits": {"email": DEMO_EMAIL, "name": {"first": "Demo", "last": "User"}},
        "credentials": {"password": {"config": {"password": password}}},
    });
    let url = format!("{}/admin/identities", domain.identity.admin_url());
    create_once(http, &url, &body, "the demo user").await
}

async fn create_once(
    http: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
    what: &str,
) -> anyhow::Result<()> {
    let response = http
        .post(url)
        .json(body)
        .send()
        .await
        .with_context(|| format!("cannot create {what} at {url}"))?;
    match response.status().as_u16() {
        200 | 201 => eprintln!("olympus-local: created {what}"),
        409 => eprintln!("olympus-local: {what} exists already"),
        status => {
            let text = response.text().await.unwrap_or_default();
            bail!("creating {what} at {url} answered {status}: {text}");
        }
    }
    Ok(())
}

fn print_banner(
    domain: &Domain,
    rp: &ServiceProcess,
    secrets: &BTreeMap<String, String>,
    secrets_file: &Path,
    log_dir: &Path,
) {
    println!(
        "\n\
         Olympus is running (dev mode, http on 127.0.0.1).\n\
         \n  Demo app      {rp}/            <- open this and \"Sign in with Olympus\"\
         \n  login-ui      {login}/\
         \n  identity-svc  {identity}   admin {identity_admin}\
         \n  oauth2-svc    {issuer}   admin {oauth2_admin}   (issuer {issuer})\
         \n\n  Demo user     {DEMO_EMAIL}\
         \n  Password      {password}\
         \n  Demo client   {DEMO_CLIENT_ID} (secret in {secrets_file})\
         \n\n  Data, logs    {data}, {logs}\
         \n\nPress Ctrl-C to stop.",
        rp = rp.public_url(),
        login = domain.login_ui.public_url(),
        identity = domain.identity.public_url(),
        identity_admin = domain.identity.admin_url(),
        issuer = domain.issuer(),
        oauth2_admin = domain.oauth2.admin_url(),
        password = secrets["DEMO_USER_PASSWORD"],
        secrets_file = secrets_file.display(),
        data = secrets_file.parent().unwrap_or(Path::new(".")).display(),
        logs = log_dir.display(),
    );
}

/// Waits for Ctrl-C or SIGTERM, or for a child that ends on its own (then says which).
async fn wait_for_stop(watched: &mut [&mut ServiceProcess]) -> anyhow::Result<String> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok("Ctrl-C".into()),
            _ = term.recv() => return Ok("SIGTERM".into()),
            _ = ticker.tick() => {
                for process in watched.iter_mut() {
                    if let Some(status) = process.exited() {
                        return Ok(format!(
                            "{} exited ({status}):\n{}",
                            process.service.binary(),
                            tail(&process.log_text())
                        ));
                    }
                }
            }
        }
    }
}
