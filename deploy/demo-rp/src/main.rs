//! olympus-demo-rp: a small OpenID Connect relying party that signs in with Olympus. The local
//! launcher starts it on port 4446; the cross-service tests start it against a test domain.

mod flow_cookie;
mod handlers;
mod oidc;
mod pages;

use actix_web::{App, HttpServer, web};
use clap::Parser;
use service_kit::telemetry::LogFormat;

/// Olympus demo relying party: "Sign in with Olympus" over OpenID Connect (code flow, PKCE S256).
#[derive(Parser, Clone, Debug)]
#[command(version)]
pub struct Config {
    /// The issuer, exactly as the provider advertises it (no trailing slash added or removed).
    #[arg(long, env = "DEMO_RP_ISSUER", default_value = "http://127.0.0.1:4444")]
    pub issuer: String,
    /// The OAuth2 client id registered at the provider.
    #[arg(long, env = "DEMO_RP_CLIENT_ID", default_value = "olympus-demo")]
    pub client_id: String,
    /// The client secret (client_secret_basic); omit it for a public client. Prefer the
    /// environment variable: arguments are visible to other local users.
    #[arg(long, env = "DEMO_RP_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// Where browsers reach this app; the redirect URI is `<public-url>/callback`.
    #[arg(
        long,
        env = "DEMO_RP_PUBLIC_URL",
        default_value = "http://127.0.0.1:4446"
    )]
    pub public_url: String,
    /// Address to listen on.
    #[arg(long, env = "DEMO_RP_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on.
    #[arg(long, env = "DEMO_RP_PORT", default_value_t = 4446)]
    pub port: u16,
    /// Scopes to request (`openid` is always requested).
    #[arg(
        long,
        env = "DEMO_RP_SCOPES",
        default_value = "openid offline_access email profile"
    )]
    pub scopes: String,
    /// A `tracing` filter; `RUST_LOG` overrides it.
    #[arg(long, env = "DEMO_RP_LOG_LEVEL", default_value = "info")]
    pub log_level: String,
}

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    service_kit::telemetry::init(&config.log_level, LogFormat::Text);
    match run(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => service_kit::cli::fail(&e),
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let public = url::Url::parse(&config.public_url)
        .map_err(|e| anyhow::anyhow!("invalid --public-url {}: {e}", config.public_url))?;
    let state = web::Data::new(handlers::AppState {
        rp: oidc::RelyingParty::new(&config)?,
        key: flow_cookie::FlowCookieKey::random(),
        secure_cookie: public.scheme() == "https",
    });
    let listener = std::net::TcpListener::bind((config.host.as_str(), config.port))
        .map_err(|e| anyhow::anyhow!("cannot listen on {}:{}: {e}", config.host, config.port))?;
    tracing::info!(
        address = %listener.local_addr()?,
        issuer = %config.issuer,
        client_id = %config.client_id,
        redirect_uri = %format!("{}/callback", config.public_url.trim_end_matches('/')),
        "demo relying party listening"
    );
    // actix stops gracefully on SIGTERM and SIGINT.
    HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .configure(handlers::routes)
    })
    .workers(2)
    .listen(listener)?
    .run()
    .await?;
    Ok(())
}
