//! Pre-stored tokens and sessions, made through the public APIs in parallel (there is no bulk
//! path): access tokens by client_credentials grants, identity-svc sessions by native password
//! logins (each costs one password hash, so sessions seed far slower than tokens).

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::target::{Target, setup_http};

/// Parallel calls while seeding.
const PARALLEL: usize = 64;

/// How many were made, and how fast.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Seeded {
    pub what: String,
    pub count: usize,
    pub seconds: f64,
    pub per_second: f64,
}

async fn in_parallel<F, Fut>(
    what: &str,
    count: usize,
    make: F,
) -> anyhow::Result<(Vec<String>, Seeded)>
where
    F: Fn(reqwest::Client) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<String>> + Send,
{
    let started = Instant::now();
    let make = Arc::new(make);
    let http = setup_http();
    let mut tasks = Vec::new();
    for i in 0..PARALLEL.min(count.max(1)) {
        let share = count / PARALLEL.min(count.max(1))
            + usize::from(i < count % PARALLEL.min(count.max(1)));
        let (make, http) = (make.clone(), http.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(share);
            for _ in 0..share {
                out.push(make(http.clone()).await?);
            }
            anyhow::Ok(out)
        }));
    }
    let mut all = Vec::with_capacity(count);
    for task in tasks {
        all.extend(task.await??);
    }
    let seconds = started.elapsed().as_secs_f64();
    let seeded = Seeded {
        what: what.to_string(),
        count: all.len(),
        seconds,
        per_second: all.len() as f64 / seconds.max(1e-9),
    };
    Ok((all, seeded))
}

/// `count` access tokens by the client_credentials grant.
pub async fn tokens(target: &Target, count: usize) -> anyhow::Result<(Vec<String>, Seeded)> {
    let (url, id, secret) = (
        target.token_endpoint.clone(),
        target.client_id.clone(),
        target.client_secret.clone(),
    );
    in_parallel("access tokens", count, move |http| {
        let (url, id, secret) = (url.clone(), id.clone(), secret.clone());
        async move {
            let response = http
                .post(&url)
                .basic_auth(&id, Some(&secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await?;
            let body = ok_json(response, "token").await?;
            field(&body, "access_token")
        }
    })
    .await
}

/// `count` session tokens, each by a native password login at identity-svc.
pub async fn sessions(target: &Target, count: usize) -> anyhow::Result<(Vec<String>, Seeded)> {
    let public = target
        .identity_public
        .clone()
        .context("sessions need identity-svc (--identity-url or --spawn)")?;
    let (identifier, password) = target
        .user
        .clone()
        .context("sessions need a user (--user or --spawn)")?;
    in_parallel("sessions", count, move |http| {
        let (public, identifier, password) = (public.clone(), identifier.clone(), password.clone());
        async move { native_login(&http, &public, &identifier, &password).await }
    })
    .await
}

/// A native (API) login flow with a password: answers the session token.
pub async fn native_login(
    http: &reqwest::Client,
    public: &str,
    identifier: &str,
    password: &str,
) -> anyhow::Result<String> {
    let flow = http
        .get(format!("{public}/self-service/login/api"))
        .send()
        .await?;
    let flow = ok_json(flow, "login flow").await?;
    let action = field(&flow["ui"], "action")?;
    let response = http
        .post(action)
        .json(&json!({"method": "password", "identifier": identifier, "password": password}))
        .send()
        .await?;
    let body = ok_json(response, "native login").await?;
    field(&body, "session_token")
}

async fn ok_json(response: reqwest::Response, what: &str) -> anyhow::Result<Value> {
    let status = response.status();
    if !status.is_success() {
        // The body may echo input; only the status is worth reporting.
        bail!("{what} answered {status}");
    }
    Ok(response.json().await?)
}

fn field(body: &Value, name: &str) -> anyhow::Result<String> {
    body[name]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("no {name} in the answer"))
}
