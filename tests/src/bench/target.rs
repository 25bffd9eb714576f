//! The provider under load: its endpoints (from the discovery document), the client to use,
//! and what the scenarios need beforehand (a user, pre-issued tokens, pre-made sessions).

use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

/// The callback nobody serves: a flow ends at the redirect to it.
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

/// Everything a scenario needs to know about the provider.
#[derive(Clone, Debug)]
pub struct Target {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub introspection_endpoint: String,
    /// Hydra-style admin introspection takes no client authentication.
    pub introspection_needs_auth: bool,
    /// The `trivial` scenario's GET (oauth2-svc's `/health/alive`).
    pub trivial_url: String,
    /// identity-svc's public URL, for `whoami` and the sessions it needs.
    pub identity_public: Option<String>,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    /// A user that signs in with a password, as `(identifier, password)`.
    pub user: Option<(String, String)>,
    /// Access tokens issued before the run, for `introspection`.
    pub tokens: Vec<String>,
    /// identity-svc session tokens made before the run, for `whoami`.
    pub sessions: Vec<String>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    introspection_endpoint: Option<String>,
}

/// Where to point the load, as given on the command line (or by the spawned domain).
#[derive(Clone, Debug, Default)]
pub struct TargetSpec {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Overrides the discovery document's introspection endpoint; sent without client
    /// authentication (Hydra's admin API).
    pub admin_introspect_url: Option<String>,
    pub trivial_url: Option<String>,
    pub identity_public: Option<String>,
    pub user: Option<(String, String)>,
    pub redirect_uri: Option<String>,
}

/// A client for set-up calls: no redirects followed, generous timeout.
pub fn setup_http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .expect("an HTTP client")
}

impl Target {
    /// Reads the discovery document of `spec.issuer` and fills the endpoints from it.
    pub async fn discover(spec: &TargetSpec) -> anyhow::Result<Target> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            spec.issuer.trim_end_matches('/')
        );
        let response = setup_http()
            .get(&url)
            .send()
            .await
            .with_context(|| format!("cannot read {url}"))?;
        if !response.status().is_success() {
            bail!("{url} answered {}", response.status());
        }
        let doc: Discovery = response
            .json()
            .await
            .with_context(|| format!("{url} is not a discovery document"))?;
        let (introspection_endpoint, introspection_needs_auth) =
            match (&spec.admin_introspect_url, doc.introspection_endpoint) {
                (Some(admin), _) => (admin.clone(), false),
                (None, Some(public)) => (public, true),
                (None, None) => (String::new(), true),
            };
        let trivial_url = spec.trivial_url.clone().unwrap_or_else(|| url.clone());
        Ok(Target {
            issuer: doc.issuer,
            authorization_endpoint: doc.authorization_endpoint,
            token_endpoint: doc.token_endpoint,
            introspection_endpoint,
            introspection_needs_auth,
            trivial_url,
            identity_public: spec.identity_public.clone(),
            client_id: spec.client_id.clone(),
            client_secret: spec.client_secret.clone(),
            redirect_uri: spec
                .redirect_uri
                .clone()
                .unwrap_or_else(|| REDIRECT_URI.to_string()),
            user: spec.user.clone(),
            tokens: Vec::new(),
            sessions: Vec::new(),
        })
    }
}
