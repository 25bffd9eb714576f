//! The relying party: discovery (cached per process), the authorization request with PKCE S256,
//! state and nonce, and the callback's code exchange and ID token verification.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreIdTokenClaims, CoreIdTokenVerifier,
    CoreProviderMetadata, CoreTokenResponse, CoreUserInfoClaims,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, LocalizedClaim, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
    reqwest,
};
use tokio::sync::Mutex;

use crate::Config;
use crate::flow_cookie::PendingSignIn;

/// What `from_provider_metadata` gives: the authorization endpoint is known, the token and
/// userinfo endpoints only if discovery listed them.
type DiscoveredClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Discovery and the JWKS are re-read after this long, or at once after a failed verification
/// (the provider may have rotated its keys).
const PROVIDER_CACHE: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("Olympus could not be reached")]
    Discovery(String),
    #[error("The authorization code could not be exchanged")]
    Token(String),
    #[error("The ID token was not accepted")]
    IdToken(String),
}

impl SignInError {
    pub fn detail(&self) -> &str {
        match self {
            SignInError::Discovery(d) | SignInError::Token(d) | SignInError::IdToken(d) => d,
        }
    }
}

/// An error and its causes on one line.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

pub struct RelyingParty {
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: Option<ClientSecret>,
    redirect: RedirectUrl,
    scopes: Vec<Scope>,
    http: reqwest::Client,
    provider: Mutex<Option<(Instant, CoreProviderMetadata)>>,
}

/// What a completed sign-in shows: rows of verified claims.
pub struct SignedIn {
    pub id_token: Vec<(&'static str, String)>,
    pub tokens: Vec<(&'static str, String)>,
    /// `None` when the provider has no userinfo endpoint.
    pub userinfo: Option<Vec<(&'static str, String)>>,
}

impl RelyingParty {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let redirect = format!("{}/callback", config.public_url.trim_end_matches('/'));
        Ok(RelyingParty {
            // Byte for byte what the provider advertises: no trailing-slash normalisation.
            issuer: IssuerUrl::new(config.issuer.clone())?,
            client_id: ClientId::new(config.client_id.clone()),
            client_secret: config.client_secret.clone().map(ClientSecret::new),
            redirect: RedirectUrl::new(redirect)?,
            scopes: config
                .scopes
                .split_whitespace()
                .filter(|s| *s != "openid") // the client always adds it
                .map(|s| Scope::new(s.to_string()))
                .collect(),
            // Following redirects would open the client to SSRF (oauth2 crate docs).
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()?,
            provider: Mutex::new(None),
        })
    }

    pub fn issuer(&self) -> &str {
        self.issuer.as_str()
    }

    async fn client(&self) -> Result<DiscoveredClient, SignInError> {
        let mut cached = self.provider.lock().await;
        let metadata = match cached.as_ref() {
            Some((at, metadata)) if at.elapsed() < PROVIDER_CACHE => metadata.clone(),
            _ => {
                let metadata =
                    CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http)
                        .await
                        .map_err(|e| SignInError::Discovery(chain(&e)))?;
                *cached = Some((Instant::now(), metadata.clone()));
                metadata
            }
        };
        Ok(CoreClient::from_provider_metadata(
            metadata,
            self.client_id.clone(),
            self.client_secret.clone(),
        )
        .set_redirect_uri(self.redirect.clone()))
    }

    async fn forget_provider(&self) {
        *self.provider.lock().await = None;
    }

    /// The authorization URL to send the browser to, and what `/callback` will need.
    pub async fn begin(&self, now: i64) -> Result<(url::Url, PendingSignIn), SignInError> {
        let client = self.client().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in &self.scopes {
            request = request.add_scope(scope.clone());
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        let pending = PendingSignIn {
            state: state.into_secret(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.into_secret(),
            created_at: now,
        };
        Ok((url, pending))
    }

    /// Exchanges `code`, verifies the ID token (signature, issuer, audience, expiry, nonce and
    /// `at_hash`) and reads userinfo.
    pub async fn finish(
        &self,
        pending: PendingSignIn,
        code: String,
    ) -> Result<SignedIn, SignInError> {
        let client = self.client().await?;
        let token = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| SignInError::Token(chain(&e)))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| SignInError::Token(chain(&e)))?;
        let id_token = token
            .id_token()
            .ok_or_else(|| SignInError::IdToken("the token response has no id_token".into()))?;
        let verifier = client.id_token_verifier();
        let nonce = Nonce::new(pending.nonce);
        let (claims, at_hash) =
            match verify_id_token(id_token, &verifier, &nonce, token.access_token()) {
                Ok(verified) => verified,
                Err(reason) => {
                    self.forget_provider().await;
                    return Err(SignInError::IdToken(reason));
                }
            };
        let userinfo =
            match client.user_info(token.access_token().clone(), Some(claims.subject().clone())) {
                Err(_) => None,
                Ok(request) => Some(match request.request_async(&self.http).await {
                    Ok(info) => userinfo_rows(&info),
                    Err(e) => vec![("error", chain(&e))],
                }),
            };
        Ok(SignedIn {
            id_token: id_token_rows(claims, at_hash, verified_sid(&id_token.to_string())),
            tokens: token_rows(&token),
            userinfo,
        })
    }
}

/// The claims once signature, issuer, audience, expiry and nonce hold, and whether `at_hash`
/// (when present) matches the access token.
fn verify_id_token<'t>(
    id_token: &'t CoreIdToken,
    verifier: &CoreIdTokenVerifier<'_>,
    nonce: &Nonce,
    access_token: &AccessToken,
) -> Result<(&'t CoreIdTokenClaims, &'static str), String> {
    let claims = id_token.claims(verifier, nonce).map_err(|e| chain(&e))?;
    let Some(expected) = claims.access_token_hash() else {
        return Ok((claims, "absent"));
    };
    let alg = id_token.signing_alg().map_err(|e| chain(&e))?;
    let key = id_token.signing_key(verifier).map_err(|e| chain(&e))?;
    let actual = AccessTokenHash::from_token(access_token, alg, key).map_err(|e| chain(&e))?;
    if actual != *expected {
        return Err("at_hash does not match the access token".into());
    }
    Ok((claims, "verified"))
}

fn id_token_rows(
    claims: &CoreIdTokenClaims,
    at_hash: &str,
    sid: Option<String>,
) -> Vec<(&'static str, String)> {
    let audiences: Vec<&str> = claims.audiences().iter().map(|a| a.as_str()).collect();
    vec![
        ("sub", claims.subject().to_string()),
        ("email", or_absent(claims.email().map(|e| e.to_string()))),
        ("name", localized(claims.name())),
        ("iss", claims.issuer().to_string()),
        ("aud", audiences.join(" ")),
        (
            "auth_time",
            or_absent(claims.auth_time().map(|t| t.to_rfc3339())),
        ),
        ("sid", or_absent(sid)),
        ("exp", claims.expiration().to_rfc3339()),
        ("at_hash", at_hash.to_string()),
    ]
}

fn token_rows(token: &CoreTokenResponse) -> Vec<(&'static str, String)> {
    let scopes = token.scopes().map(|scopes| {
        scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    });
    let refresh = match token.refresh_token() {
        Some(_) => "issued",
        None => "not issued",
    };
    vec![
        ("token_type", token.token_type().as_ref().to_string()),
        ("scope", or_absent(scopes)),
        ("refresh_token", refresh.to_string()),
    ]
}

fn or_absent(value: Option<String>) -> String {
    value.unwrap_or_else(|| "(absent)".into())
}

/// `sid` is not among the core claims the crate models; it is read from the payload of the
/// token whose signature and claims were verified just before.
fn verified_sid(compact: &str) -> Option<String> {
    let payload = compact.split('.').nth(1)?;
    let json: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    json.get("sid")?.as_str().map(str::to_string)
}

/// The default-language value of a localized claim such as `name`.
fn localized<T: std::ops::Deref<Target = String>>(claim: Option<&LocalizedClaim<T>>) -> String {
    or_absent(claim.and_then(|c| c.get(None)).map(|v| v.to_string()))
}

fn userinfo_rows(info: &CoreUserInfoClaims) -> Vec<(&'static str, String)> {
    vec![
        ("sub", info.subject().to_string()),
        ("email", or_absent(info.email().map(|e| e.to_string()))),
        (
            "email_verified",
            or_absent(info.email_verified().map(|v| v.to_string())),
        ),
        ("name", localized(info.name())),
        ("given_name", localized(info.given_name())),
        ("family_name", localized(info.family_name())),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sid_is_read_from_the_payload() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"u","sid":"s-1"}"#);
        assert_eq!(
            verified_sid(&format!("h.{payload}.sig")),
            Some("s-1".into())
        );
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"u"}"#);
        assert_eq!(verified_sid(&format!("h.{payload}.sig")), None);
    }
}
