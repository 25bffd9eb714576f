//! The services login-ui calls (identity-svc and oauth2-svc): their base URLs and the one shared
//! HTTP client, and whether each is alive.

use anyhow::Context as _;
use serde::Serialize;
use service_kit::http::{REQUEST_ID_HEADER, RequestId};
use url::Url;

use crate::config::Validated;

/// Whether an upstream answered its `/health/alive` with a success in time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Up,
    #[default]
    Down,
}

impl Status {
    fn and(self, other: Status) -> Status {
        if self == Status::Up && other == Status::Up {
            Status::Up
        } else {
            Status::Down
        }
    }
}

/// One status per upstream service; serialised as `{"identity":"up","oauth2":"down"}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Statuses {
    pub identity: Status,
    pub oauth2: Status,
}

/// The upstream base URLs (each ending in `/`) and the client every call goes through.
#[derive(Clone)]
pub struct Upstreams {
    client: reqwest::Client,
    identity_public: Url,
    identity_admin: Url,
    oauth2_admin: Url,
}

impl Upstreams {
    pub fn new(settings: &Validated) -> anyhow::Result<Upstreams> {
        // Redirects are never followed: an upstream that redirects is misconfigured, and following
        // one could carry the browser's forwarded cookies somewhere else.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.settings.upstream_timeout)
            .user_agent(concat!("olympus-login-ui/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Upstreams {
            client,
            identity_public: settings.identity_public.clone(),
            identity_admin: settings.identity_admin.clone(),
            oauth2_admin: settings.oauth2_admin.clone(),
        })
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn identity_public(&self) -> &Url {
        &self.identity_public
    }

    pub fn identity_admin(&self) -> &Url {
        &self.identity_admin
    }

    pub fn oauth2_admin(&self) -> &Url {
        &self.oauth2_admin
    }

    /// Probes every upstream at once. identity-svc counts as up only when both of its listeners
    /// answer, since login-ui needs both (flows on public, traits on admin).
    pub async fn statuses(&self, request_id: Option<&RequestId>) -> Statuses {
        let (identity_public, identity_admin, oauth2) = tokio::join!(
            self.alive(&self.identity_public, request_id),
            self.alive(&self.identity_admin, request_id),
            self.alive(&self.oauth2_admin, request_id),
        );
        Statuses {
            identity: identity_public.and(identity_admin),
            oauth2,
        }
    }

    async fn alive(&self, base: &Url, request_id: Option<&RequestId>) -> Status {
        let url = match base.join("health/alive") {
            Ok(url) => url,
            Err(_) => return Status::Down,
        };
        let mut request = self.client.get(url.clone());
        if let Some(id) = request_id {
            request = request.header(REQUEST_ID_HEADER, id.0.as_str());
        }
        match request.send().await {
            Ok(response) if response.status().is_success() => Status::Up,
            Ok(response) => {
                tracing::warn!(%url, status = response.status().as_u16(), "upstream is not alive");
                Status::Down
            }
            Err(error) => {
                tracing::warn!(%url, %error, "upstream is not reachable");
                Status::Down
            }
        }
    }
}
