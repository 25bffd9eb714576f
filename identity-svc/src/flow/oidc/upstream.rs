//! The relying-party side of the `oidc` method (the `openidconnect` crate): discovery, fetched
//! on first use and cached per provider; the authorization URL; the code exchange and the
//! ID token's verification (issuer, audience, nonce, signature, expiry).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreResponseType};
use openidconnect::{
    AccessToken, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    SubjectIdentifier, TokenResponse,
};
use tokio::sync::Mutex;

use super::{ClaimsSource, Pkce, ProviderSettings};

/// Discovery documents (with their key sets) are refetched after this long, or at once when an
/// ID token fails to verify (the provider may have rotated its keys).
const DISCOVERY_TTL: Duration = Duration::from_secs(600);
/// The shortest time between two fetches of a provider's keys forced by unknown key ids.
const MIN_REFRESH: Duration = Duration::from_secs(30);

/// The HTTP client and the discovery cache shared by all requests.
pub struct Upstreams {
    http: openidconnect::reqwest::Client,
    discovered: Mutex<HashMap<String, Discovered>>,
}

/// A provider's discovery document as cached.
#[derive(Clone)]
pub struct Discovered {
    pub at: Instant,
    pub metadata: CoreProviderMetadata,
    /// `code_challenge_methods_supported` lists `S256` (the crate's metadata type omits it).
    pub s256: bool,
}

/// What the browser is sent to, and what the callback needs to finish (kept sealed in the flow).
pub struct Authorization {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: Option<String>,
}

/// The verified outcome of a callback.
pub struct Verified {
    pub subject: String,
    /// The claims the traits are mapped from (ID token or userinfo, per `claims_source`).
    pub claims: serde_json::Value,
    pub id_token: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
}

impl Default for Upstreams {
    fn default() -> Self {
        Self::new()
    }
}

impl Upstreams {
    pub fn new() -> Self {
        let http = openidconnect::reqwest::Client::builder()
            // Against SSRF through redirects (the oauth2 crate's advice).
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .expect("a plain reqwest client builds");
        Upstreams {
            http,
            discovered: Mutex::new(HashMap::new()),
        }
    }

    /// The provider's discovery document, from the cache while it is fresh.
    pub async fn discovered(&self, provider: &ProviderSettings) -> anyhow::Result<Discovered> {
        {
            let cache = self.discovered.lock().await;
            if let Some(found) = cache.get(&provider.id)
                && found.at.elapsed() < DISCOVERY_TTL
            {
                return Ok(found.clone());
            }
        }
        let issuer = IssuerUrl::new(provider.issuer_url.clone())?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| anyhow::anyhow!("discovery of provider {:?} failed: {e}", provider.id))?;
        let s256 = self.lists_s256(provider).await;
        let found = Discovered {
            at: Instant::now(),
            metadata,
            s256,
        };
        self.discovered
            .lock()
            .await
            .insert(provider.id.clone(), found.clone());
        Ok(found)
    }

    /// Whether the discovery document lists S256 among `code_challenge_methods_supported`
    /// (read from the raw document; a provider that cannot say is taken to not support it).
    async fn lists_s256(&self, provider: &ProviderSettings) -> bool {
        let url = format!(
            "{}/.well-known/openid-configuration",
            provider.issuer_url.trim_end_matches('/')
        );
        let document: Option<serde_json::Value> = match self.http.get(url).send().await {
            Ok(res) if res.status().is_success() => res
                .bytes()
                .await
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok()),
            _ => None,
        };
        document.is_some_and(|d| supports_s256(&d))
    }

    /// Refetches the discovery document (and key set) of `provider` unless it was fetched in
    /// the last [`MIN_REFRESH`]: a token signed with a key not seen yet may follow a rotation,
    /// while a stream of bad tokens must not become a stream of fetches.
    pub async fn refresh(&self, provider: &ProviderSettings) -> anyhow::Result<Option<Discovered>> {
        {
            let cache = self.discovered.lock().await;
            if cache
                .get(&provider.id)
                .is_some_and(|d| d.at.elapsed() < MIN_REFRESH)
            {
                return Ok(None);
            }
        }
        self.forget(provider).await;
        self.discovered(provider).await.map(Some)
    }

    pub async fn forget(&self, provider: &ProviderSettings) {
        self.discovered.lock().await.remove(&provider.id);
    }

    async fn client(
        &self,
        provider: &ProviderSettings,
        redirect_uri: &str,
    ) -> anyhow::Result<(
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        bool,
    )> {
        let discovered = self.discovered(provider).await?;
        let client = CoreClient::from_provider_metadata(
            discovered.metadata,
            ClientId::new(provider.client_id.clone()),
            Some(ClientSecret::new(
                provider.client_secret.expose().to_string(),
            )),
        )
        .set_redirect_uri(RedirectUrl::new(redirect_uri.to_string())?);
        let pkce = match provider.pkce {
            Pkce::Never => false,
            Pkce::Force => true,
            Pkce::Auto => discovered.s256,
        };
        Ok((client, pkce))
    }

    /// The provider's authorization URL with a fresh state, nonce and (per `pkce`) S256
    /// challenge.
    pub async fn authorize(
        &self,
        provider: &ProviderSettings,
        redirect_uri: &str,
        state_prefix: &str,
    ) -> anyhow::Result<Authorization> {
        let (client, pkce) = self.client(provider, redirect_uri).await?;
        let state = format!("{state_prefix}{}", CsrfToken::new_random().secret());
        let returned_state = state.clone();
        let mut request = client.authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            move || CsrfToken::new(returned_state),
            Nonce::new_random,
        );
        for scope in &provider.scope {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let mut pkce_verifier = None;
        if pkce {
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            request = request.set_pkce_challenge(challenge);
            pkce_verifier = Some(verifier.secret().clone());
        }
        let (url, _, nonce) = request.url();
        Ok(Authorization {
            url: url.into(),
            state,
            nonce: nonce.secret().clone(),
            pkce_verifier,
        })
    }

    /// Redeems `code` and verifies the ID token against `nonce`. An `Err` is a failure the user
    /// sees as a flow message (its text names no secret).
    pub async fn redeem(
        &self,
        provider: &ProviderSettings,
        redirect_uri: &str,
        code: &str,
        nonce: &str,
        pkce_verifier: Option<&str>,
    ) -> anyhow::Result<Verified> {
        let (client, _) = self.client(provider, redirect_uri).await?;
        let mut exchange = client.exchange_code(AuthorizationCode::new(code.to_string()))?;
        if let Some(verifier) = pkce_verifier {
            exchange = exchange.set_pkce_verifier(PkceCodeVerifier::new(verifier.to_string()));
        }
        let tokens = exchange
            .request_async(&self.http)
            .await
            .map_err(|e| anyhow::anyhow!("the code exchange failed: {e}"))?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| anyhow::anyhow!("the provider returned no ID token"))?;
        let verifier = client.id_token_verifier();
        let claims = match id_token.claims(&verifier, &Nonce::new(nonce.to_string())) {
            Ok(claims) => claims,
            Err(e) => {
                self.forget(provider).await;
                anyhow::bail!("the ID token did not verify: {e}");
            }
        };
        let subject = claims.subject().as_str().to_string();
        let compact = id_token.to_string();
        let claims = match provider.claims_source {
            // The signature was verified above, so the payload can be read as it is (with the
            // claims the crate's types do not know).
            ClaimsSource::IdToken => payload(&compact)?,
            ClaimsSource::Userinfo => {
                let info: openidconnect::core::CoreUserInfoClaims = client
                    .user_info(
                        AccessToken::new(tokens.access_token().secret().clone()),
                        Some(SubjectIdentifier::new(subject.clone())),
                    )?
                    .request_async(&self.http)
                    .await
                    .map_err(|e| anyhow::anyhow!("the userinfo request failed: {e}"))?;
                serde_json::to_value(info)?
            }
        };
        Ok(Verified {
            subject,
            claims,
            id_token: compact,
            access_token: tokens.access_token().secret().clone(),
            refresh_token: tokens.refresh_token().map(|t| t.secret().clone()),
        })
    }
}

/// Whether a discovery document lists `S256` in `code_challenge_methods_supported`.
pub fn supports_s256(document: &serde_json::Value) -> bool {
    document["code_challenge_methods_supported"]
        .as_array()
        .is_some_and(|methods| methods.iter().any(|m| m == "S256"))
}

/// The JSON payload of a compact JWS (already verified).
pub fn payload(compact: &str) -> anyhow::Result<serde_json::Value> {
    let part = compact
        .split('.')
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("the ID token is not a compact JWS"))?;
    Ok(serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part)?)?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn s256_is_read_from_the_discovery_document() {
        let listed = serde_json::json!({"code_challenge_methods_supported": ["plain", "S256"]});
        assert!(super::supports_s256(&listed));
        let plain = serde_json::json!({"code_challenge_methods_supported": ["plain"]});
        assert!(!super::supports_s256(&plain));
        assert!(!super::supports_s256(&serde_json::json!({})));
    }
}
