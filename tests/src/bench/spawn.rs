//! `--spawn`: a local domain started through the test harness (the binaries beside this one,
//! debug or release), with the bench client and user registered through the admin APIs.

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::memory::{Watched, child_pid};
use super::target::{REDIRECT_URI, TargetSpec, setup_http};
use crate::harness::{Domain, DomainOptions};

pub const BENCH_EMAIL: &str = "bench@olympus.test";

/// A started domain and how to reach it.
pub struct Spawned {
    pub domain: Domain,
    pub spec: TargetSpec,
    pub watched: Vec<Watched>,
}

/// Starts the three services on fresh databases (SQLite, or PostgreSQL when
/// `OLYMPUS_TEST_POSTGRES` names a server) and registers the client and the user.
pub async fn spawn_domain() -> anyhow::Result<Spawned> {
    let domain = Domain::start_with(DomainOptions {
        dev: true,
        ..Default::default()
    })
    .await?;
    let seeded = async {
        let http = setup_http();
        let client = create(
            &http,
            &format!("{}/admin/clients", domain.oauth2.admin_url()),
            &json!({
                "client_name": "olympus-bench",
                "grant_types": ["client_credentials", "authorization_code", "refresh_token"],
                "response_types": ["code"],
                "redirect_uris": [REDIRECT_URI],
                "scope": "openid offline_access email profile",
                "token_endpoint_auth_method": "client_secret_basic",
                "skip_consent": true,
            }),
        )
        .await?;
        let password = crate::harness::generate_secret();
        create(
            &http,
            &format!("{}/admin/identities", domain.identity.admin_url()),
            &json!({
                "schema_id": "default",
                "traits": {"email": BENCH_EMAIL, "name": {"first": "Bench", "last": "User"}},
                "credentials": {"password": {"config": {"password": password}}},
            }),
        )
        .await?;
        let text = |v: &Value| v.as_str().map(str::to_string).context("missing field");
        anyhow::Ok(TargetSpec {
            issuer: domain.issuer(),
            client_id: text(&client["client_id"])?,
            client_secret: text(&client["client_secret"])?,
            admin_introspect_url: Some(format!(
                "{}/admin/oauth2/introspect",
                domain.oauth2.admin_url()
            )),
            trivial_url: Some(format!("{}/health/alive", domain.oauth2.public_url())),
            identity_public: Some(domain.identity.public_url()),
            user: Some((BENCH_EMAIL.to_string(), password)),
            redirect_uri: None,
        })
    }
    .await;
    let spec = match seeded {
        Ok(spec) => spec,
        Err(e) => {
            domain.stop().await?;
            return Err(e);
        }
    };
    let watched = ["identity-svc", "oauth2-svc", "login-ui"]
        .into_iter()
        .filter_map(|name| {
            child_pid(name).map(|pid| Watched {
                name: name.to_string(),
                pid,
            })
        })
        .collect();
    Ok(Spawned {
        domain,
        spec,
        watched,
    })
}

async fn create(http: &reqwest::Client, url: &str, body: &Value) -> anyhow::Result<Value> {
    let response = http
        .post(url)
        .json(body)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    if status.as_u16() != 201 && status.as_u16() != 200 {
        bail!("{url} answered {status}");
    }
    Ok(response.json().await?)
}
