//! The scenarios and the per-worker state each one keeps. A worker's `step` is one unit of
//! work: one request, or for the `authcode_*` scenarios one whole flow.

use std::sync::Arc;

use anyhow::{Context, bail};
use reqwest::StatusCode;

use super::engine::Failure;
use super::flow::Browser;
use super::target::Target;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    Trivial,
    ClientCredentials,
    Introspection,
    Whoami,
    Refresh,
    AuthcodeSession,
    AuthcodePassword,
}

impl Scenario {
    pub const ALL: [Scenario; 7] = [
        Scenario::Trivial,
        Scenario::ClientCredentials,
        Scenario::Introspection,
        Scenario::Whoami,
        Scenario::Refresh,
        Scenario::AuthcodeSession,
        Scenario::AuthcodePassword,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Trivial => "trivial",
            Scenario::ClientCredentials => "client_credentials",
            Scenario::Introspection => "introspection",
            Scenario::Whoami => "whoami",
            Scenario::Refresh => "refresh",
            Scenario::AuthcodeSession => "authcode_session",
            Scenario::AuthcodePassword => "authcode_password",
        }
    }

    pub fn parse(name: &str) -> anyhow::Result<Scenario> {
        Scenario::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .with_context(|| {
                let names: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
                format!("unknown scenario {name:?}; known: {}", names.join(", "))
            })
    }

    /// Whether the scenario needs pre-issued access tokens or pre-made sessions.
    pub fn needs_tokens(self) -> bool {
        self == Scenario::Introspection
    }

    pub fn needs_sessions(self) -> bool {
        self == Scenario::Whoami
    }
}

/// One worker's state.
pub enum Worker {
    Get {
        http: reqwest::Client,
        url: String,
    },
    ClientCredentials {
        http: reqwest::Client,
        target: Arc<Target>,
    },
    Introspection {
        http: reqwest::Client,
        target: Arc<Target>,
        next: usize,
    },
    Whoami {
        http: reqwest::Client,
        url: String,
        target: Arc<Target>,
        next: usize,
    },
    Refresh {
        http: reqwest::Client,
        target: Arc<Target>,
        token: String,
    },
    Authcode {
        browser: Browser,
        target: Arc<Target>,
        password: bool,
    },
}

/// A keep-alive client for one worker.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(4)
        .build()
        .expect("an HTTP client")
}

/// Sets up worker `index` of `scenario` (for `refresh` and `authcode_session`: one password
/// flow, before the clock starts).
pub async fn prepare(
    scenario: Scenario,
    target: &Arc<Target>,
    index: usize,
) -> anyhow::Result<Worker> {
    let target = target.clone();
    let spread = |len: usize| if len == 0 { 0 } else { index * 7919 % len };
    Ok(match scenario {
        Scenario::Trivial => Worker::Get {
            http: client(),
            url: target.trivial_url.clone(),
        },
        Scenario::ClientCredentials => Worker::ClientCredentials {
            http: client(),
            target,
        },
        Scenario::Introspection => {
            if target.tokens.is_empty() || target.introspection_endpoint.is_empty() {
                bail!("introspection needs seeded tokens and an introspection endpoint");
            }
            let next = spread(target.tokens.len());
            Worker::Introspection {
                http: client(),
                target,
                next,
            }
        }
        Scenario::Whoami => {
            let public = target
                .identity_public
                .as_deref()
                .context("whoami needs identity-svc")?;
            if target.sessions.is_empty() {
                bail!("whoami needs seeded sessions");
            }
            let url = format!("{public}/sessions/whoami");
            let next = spread(target.sessions.len());
            Worker::Whoami {
                http: client(),
                url,
                target,
                next,
            }
        }
        Scenario::Refresh => {
            let browser = Browser::new();
            let tokens = browser
                .flow(&target, "openid offline_access", true)
                .await
                .map_err(|Failure(kind)| anyhow::anyhow!("the first flow failed: {kind}"))?;
            let token = tokens
                .refresh_token
                .context("no refresh token (offline_access)")?;
            Worker::Refresh {
                http: browser.http,
                target,
                token,
            }
        }
        Scenario::AuthcodeSession | Scenario::AuthcodePassword => {
            let browser = Browser::new();
            let password = scenario == Scenario::AuthcodePassword;
            if !password {
                // Sign in once: the flows that follow ride on this session cookie.
                browser
                    .flow(&target, "openid", true)
                    .await
                    .map_err(|Failure(kind)| anyhow::anyhow!("the first flow failed: {kind}"))?;
            }
            Worker::Authcode {
                browser,
                target,
                password,
            }
        }
    })
}

async fn expect_ok(response: reqwest::Response) -> Result<reqwest::Response, Failure> {
    if response.status() == StatusCode::OK {
        Ok(response)
    } else {
        Err(Failure::status(response.status()))
    }
}

impl Worker {
    /// One unit; answers the HTTP requests it made.
    pub async fn step(&mut self) -> Result<u32, Failure> {
        match self {
            Worker::Get { http, url } => {
                expect_ok(http.get(url.as_str()).send().await?)
                    .await?
                    .bytes()
                    .await?;
                Ok(1)
            }
            Worker::ClientCredentials { http, target } => {
                let request = http
                    .post(&target.token_endpoint)
                    .basic_auth(&target.client_id, Some(&target.client_secret))
                    .form(&[("grant_type", "client_credentials")]);
                let body: serde_json::Value =
                    expect_ok(request.send().await?).await?.json().await?;
                body["access_token"]
                    .as_str()
                    .ok_or_else(|| Failure::flow("no access_token"))?;
                Ok(1)
            }
            Worker::Introspection { http, target, next } => {
                *next = (*next + 1) % target.tokens.len();
                let mut request = http
                    .post(&target.introspection_endpoint)
                    .form(&[("token", target.tokens[*next].as_str())]);
                if target.introspection_needs_auth {
                    request = request.basic_auth(&target.client_id, Some(&target.client_secret));
                }
                let body: serde_json::Value =
                    expect_ok(request.send().await?).await?.json().await?;
                if body["active"] != serde_json::Value::Bool(true) {
                    return Err(Failure::flow("token not active"));
                }
                Ok(1)
            }
            Worker::Whoami {
                http,
                url,
                target,
                next,
            } => {
                *next = (*next + 1) % target.sessions.len();
                let request = http
                    .get(url.as_str())
                    .header("X-Session-Token", &target.sessions[*next]);
                expect_ok(request.send().await?).await?.bytes().await?;
                Ok(1)
            }
            Worker::Refresh {
                http,
                target,
                token,
            } => {
                let request = http
                    .post(&target.token_endpoint)
                    .basic_auth(&target.client_id, Some(&target.client_secret))
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", token.as_str()),
                    ]);
                let body: serde_json::Value =
                    expect_ok(request.send().await?).await?.json().await?;
                let rotated = body["refresh_token"]
                    .as_str()
                    .ok_or_else(|| Failure::flow("no refresh_token"))?;
                *token = rotated.to_string();
                Ok(1)
            }
            Worker::Authcode {
                browser,
                target,
                password,
            } => {
                if *password {
                    browser.jar.clear();
                }
                Ok(browser.flow(target, "openid", *password).await?.requests)
            }
        }
    }
}
