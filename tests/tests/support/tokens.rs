//! The relying party's token calls on a signed-in browser: code exchange, refresh,
//! userinfo and admin introspection, and reading the answers.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreErrorResponseType, CoreTokenResponse};
use openidconnect::{
    AuthorizationCode, PkceCodeVerifier, RequestTokenError, StandardErrorResponse,
};
use serde_json::Value;

use super::{REDIRECT, Signed, query_param};

impl Signed {
    /// Authorizes `scopes` in the signed-in browser, grants them on the consent page and
    /// exchanges the code.
    pub async fn tokens(&self, scopes: &[&str]) -> CoreTokenResponse {
        let (url, verifier, _) = self.authorize_url(scopes, &[]);
        let (page, consent) = self.browser.follow_to_page(&url).await;
        assert!(page.contains("/consent?consent_challenge="), "{page}");
        let (done, _) = self
            .browser
            .submit(&consent.unwrap(), &[("decision", "grant")])
            .await;
        self.exchange(&done, verifier).await
    }

    /// Exchanges the code the browser arrived with at the redirect_uri.
    pub async fn exchange(&self, done: &str, verifier: PkceCodeVerifier) -> CoreTokenResponse {
        assert!(done.starts_with(REDIRECT), "{done}");
        let code = query_param(done, "code").expect("a code");
        self.rp
            .exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&self.http)
            .await
            .expect("code exchange")
    }

    pub async fn refresh(
        &self,
        token: &openidconnect::RefreshToken,
    ) -> Result<CoreTokenResponse, String> {
        self.rp
            .exchange_refresh_token(token)
            .unwrap()
            .request_async(&self.http)
            .await
            .map_err(token_error)
    }

    /// Whether userinfo accepts `token` (401 otherwise).
    pub async fn userinfo_accepts(&self, token: &openidconnect::AccessToken) -> bool {
        let res = reqwest::Client::new()
            .get(format!("{}/userinfo", self.domain.issuer()))
            .bearer_auth(token.secret())
            .send()
            .await
            .unwrap();
        match res.status().as_u16() {
            200 => true,
            401 => false,
            other => panic!("userinfo answered {other}"),
        }
    }

    /// Admin introspection (RFC 7662) of `token`.
    pub async fn introspect(&self, token: &str) -> Value {
        reqwest::Client::new()
            .post(format!(
                "{}/admin/oauth2/introspect",
                self.domain.oauth2.admin_url()
            ))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// The OAuth2 error code of a failed token request.
pub fn token_error<RE: std::error::Error + 'static>(
    err: RequestTokenError<RE, StandardErrorResponse<CoreErrorResponseType>>,
) -> String {
    match err {
        RequestTokenError::ServerResponse(response) => response.error().as_ref().to_string(),
        other => panic!("not an OAuth2 error response: {other:?}"),
    }
}

/// The claims of a JWT, unverified (its signature is checked elsewhere).
pub fn jwt_claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
