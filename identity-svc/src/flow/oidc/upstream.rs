//! The relying-party side of the `oidc` method (the `openidconnect` crate): discovery, fetched
//! on first use and cached per provider; the authorization URL; the code exchange and the
//! ID token's verification (issuer, audience, nonce, signature, expiry).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreResponseType};
use openidconnect::{
    AccessToken, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    IssuerUrl, JsonWebKeySet, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, SubjectIdentifier, TokenResponse,
};
use tokio::sync::Mutex;

use super::{ClaimsSource, Pkce, ProviderSettings};

/// Discovery documents (with their key sets) are refetched after this long, or at once when an
/// ID token fails to verify (the provider may have rotated its keys).
const DISCOVERY_TTL: Duration = Duration::from_secs(600);
/// The shortest time between two fetches of a provider's keys forced by unknown key ids.
const MIN_REFRESH: Duration = Duration::from_secs(30);
/// A failed discovery is answered from memory for this long (no refetch storm while the
/// provider is down).
const FAILURE_TTL: Duration = Duration::from_secs(30);

/// The HTTP client and the discovery cache shared by all requests.
pub struct Upstreams {
    http: openidconnect::reqwest::Client,
    discovered: Mutex<HashMap<String, Discovered>>,
    /// The last failed discovery per provider (when, and the error's text).
    failed: Mutex<HashMap<String, (Instant, String)>>,
    /// One lock per provider around a fetch: one fetch in flight, concurrent callers wait for
    /// it and then read the cache it filled.
    fetching: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

/// A provider's discovery document as cached.
#[derive(Clone)]
pub struct Discovered {
    pub at: Instant,
    pub metadata: CoreProviderMetadata,
    /// `code_challenge_methods_supported` lists `S256` (the crate's metadata type omits it; read
    /// from the same response as the metadata).
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
            failed: Mutex::new(HashMap::new()),
            fetching: Mutex::new(HashMap::new()),
        }
    }

    /// The provider's discovery document, from the cache while it is fresh.
    pub async fn discovered(&self, provider: &ProviderSettings) -> anyhow::Result<Discovered> {
        if let Some(found) = self.cached(provider, DISCOVERY_TTL).await? {
            return Ok(found);
        }
        let lock = self.lock_for(provider).await;
        let _fetching = lock.lock().await;
        // Another caller may have fetched (or failed) while this one waited.
        if let Some(found) = self.cached(provider, DISCOVERY_TTL).await? {
            return Ok(found);
        }
        self.fetch(provider).await
    }

    /// The cached document when younger than `max_age`; an `Err` while a recent fetch failed.
    async fn cached(
        &self,
        provider: &ProviderSettings,
        max_age: Duration,
    ) -> anyhow::Result<Option<Discovered>> {
        if let Some(found) = self.discovered.lock().await.get(&provider.id)
            && found.at.elapsed() < max_age
        {
            return Ok(Some(found.clone()));
        }
        if let Some((at, error)) = self.failed.lock().await.get(&provider.id)
            && at.elapsed() < FAILURE_TTL
        {
            anyhow::bail!("{error}");
        }
        Ok(None)
    }

    async fn lock_for(&self, provider: &ProviderSettings) -> Arc<Mutex<()>> {
        self.fetching
            .lock()
            .await
            .entry(provider.id.clone())
            .or_default()
            .clone()
    }

    /// Fetches the discovery document (and key set) and swaps it into the cache only when the
    /// fetch succeeded: a failed fetch keeps the keys that worked, and is remembered for
    /// [`FAILURE_TTL`]. Called with the provider's fetch lock held.
    async fn fetch(&self, provider: &ProviderSettings) -> anyhow::Result<Discovered> {
        match self.fetch_once(provider).await {
            Ok(found) => {
                self.failed.lock().await.remove(&provider.id);
                self.discovered
                    .lock()
                    .await
                    .insert(provider.id.clone(), found.clone());
                Ok(found)
            }
            Err(e) => {
                let error = format!("discovery of provider {:?} failed: {e}", provider.id);
                self.failed
                    .lock()
                    .await
                    .insert(provider.id.clone(), (Instant::now(), error.clone()));
                Err(anyhow::anyhow!(error))
            }
        }
    }

    /// One GET of the discovery document (read both as the crate's metadata and for
    /// `code_challenge_methods_supported`) and one of its key set.
    async fn fetch_once(&self, provider: &ProviderSettings) -> anyhow::Result<Discovered> {
        let issuer = IssuerUrl::new(provider.issuer_url.clone())?;
        let url = issuer.join(".well-known/openid-configuration")?;
        let res = self.http.get(url).send().await?;
        if !res.status().is_success() {
            anyhow::bail!("HTTP status {}", res.status());
        }
        let document: serde_json::Value = serde_json::from_slice(&res.bytes().await?)?;
        let s256 = supports_s256(&document);
        let metadata: CoreProviderMetadata = serde_json::from_value(document)?;
        if metadata.issuer() != &issuer {
            anyhow::bail!(
                "unexpected issuer {:?} (expected {:?})",
                metadata.issuer().as_str(),
                issuer.as_str()
            );
        }
        let jwks = JsonWebKeySet::fetch_async(metadata.jwks_uri(), &self.http)
            .await
            .map_err(|e| anyhow::anyhow!("the key set could not be fetched: {e}"))?;
        Ok(Discovered {
            at: Instant::now(),
            metadata: metadata.set_jwks(jwks),
            s256,
        })
    }

    /// Refetches the discovery document (and key set) of `provider` unless it was fetched in
    /// the last [`MIN_REFRESH`]: a token signed with a key not seen yet may follow a rotation,
    /// while a stream of bad tokens must not become a stream of fetches. Answers the document
    /// to check against (refetched, or fetched recently, possibly by a concurrent caller).
    pub async fn refresh(&self, provider: &ProviderSettings) -> anyhow::Result<Discovered> {
        let lock = self.lock_for(provider).await;
        let _fetching = lock.lock().await;
        if let Some(found) = self.cached(provider, MIN_REFRESH).await? {
            return Ok(found);
        }
        self.fetch(provider).await
    }

    /// Makes the cached document of `provider` look `by` older (tests of the refresh rules).
    #[cfg(test)]
    pub async fn age(&self, provider: &ProviderSettings, by: Duration) {
        if let Some(found) = self.discovered.lock().await.get_mut(&provider.id) {
            found.at = found.at.checked_sub(by).expect("the clock is past `by`");
        }
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

/// Whether a discovery document lists `S256` in `code_challenge_methods_supported`. Absent: the
/// provider says it has no PKCE; present but unreadable (not a list): PKCE stays on.
pub fn supports_s256(document: &serde_json::Value) -> bool {
    match &document["code_challenge_methods_supported"] {
        serde_json::Value::Null => false,
        serde_json::Value::Array(methods) => methods.iter().any(|m| m == "S256"),
        _ => true,
    }
}

/// The JSON payload of a compact JWS (already verified).
pub fn payload(compact: &str) -> anyhow::Result<serde_json::Value> {
    let part = compact
        .split('.')
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("the ID token is not a compact JWS"))?;
    Ok(serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part)?)?)
}

/// A provider for unit tests: a local HTTP server answering discovery and the key set, counting
/// the fetches of each, with one P-256 key (`kid` given) it serves and signs with.
#[cfg(test)]
#[path = "upstream_test_provider.rs"]
pub mod test_provider;

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use super::test_provider::TestProvider;
    use super::*;

    #[tokio::test]
    async fn one_fetch_in_flight_per_provider() {
        let up = TestProvider::start(serde_json::json!(["S256"])).await;
        let provider = up.settings(serde_json::json!({}));
        let upstreams = Arc::new(Upstreams::new());
        let callers: Vec<_> = (0..8)
            .map(|_| {
                let (upstreams, provider) = (upstreams.clone(), provider.clone());
                tokio::spawn(async move { upstreams.discovered(&provider).await.is_ok() })
            })
            .collect();
        for caller in callers {
            assert!(caller.await.unwrap());
        }
        assert_eq!((up.discoveries(), up.key_sets()), (1, 1));
    }

    #[tokio::test]
    async fn a_failed_discovery_is_remembered_briefly() {
        let up = TestProvider::start(serde_json::Value::Null).await;
        up.down.store(true, Ordering::SeqCst);
        let provider = up.settings(serde_json::json!({}));
        let upstreams = Upstreams::new();
        for _ in 0..3 {
            assert!(upstreams.discovered(&provider).await.is_err());
            assert!(upstreams.refresh(&provider).await.is_err());
        }
        assert_eq!(up.discoveries(), 1);
        // Back up, but the failure is still remembered within FAILURE_TTL.
        up.down.store(false, Ordering::SeqCst);
        assert!(upstreams.discovered(&provider).await.is_err());
        assert_eq!(up.discoveries(), 1);
    }

    #[tokio::test]
    async fn pkce_auto_reads_the_same_discovery_response() {
        for (methods, expected) in [
            (serde_json::json!(["S256"]), true),
            (serde_json::json!(["plain"]), false),
            (serde_json::Value::Null, false),
            (serde_json::json!("S256"), true),
        ] {
            let up = TestProvider::start(methods).await;
            let provider = up.settings(serde_json::json!({"pkce": "auto"}));
            let upstreams = Upstreams::new();
            let authorization = upstreams
                .authorize(&provider, "https://rp.test/cb", "st-")
                .await
                .unwrap();
            assert_eq!(authorization.pkce_verifier.is_some(), expected);
            assert_eq!(
                authorization.url.contains("code_challenge_method=S256"),
                expected
            );
            assert_eq!((up.discoveries(), up.key_sets()), (1, 1));
        }
    }

    #[test]
    fn s256_is_read_from_the_discovery_document() {
        let listed = serde_json::json!({"code_challenge_methods_supported": ["plain", "S256"]});
        assert!(super::supports_s256(&listed));
        let plain = serde_json::json!({"code_challenge_methods_supported": ["plain"]});
        assert!(!super::supports_s256(&plain));
        assert!(!super::supports_s256(&serde_json::json!({})));
        let unreadable = serde_json::json!({"code_challenge_methods_supported": "S256"});
        assert!(super::supports_s256(&unreadable));
    }
}
