//! A signed-in browser and an `openidconnect` relying party on a fresh domain: the starting
//! point of most end-to-end tests.

use olympus_tests::harness::{Domain, DomainOptions};
use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreResponseType};
use openidconnect::{
    AuthenticationFlow, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope,
};
use serde_json::{Value, json};

use super::{Browser, Form};

pub const REDIRECT: &str = "http://127.0.0.1:9/callback";
pub const PASSWORD: &str = "correct horse battery staple";

/// The relying party, as discovery configures it.
pub type Rp = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// Registers the demo client and the user Ada; answers the client's id and secret.
pub async fn setup(domain: &Domain) -> (String, String) {
    setup_with(domain, json!({})).await
}

/// As [`setup`], with `extra` fields on the client (`grant_types`, `backchannel_logout_uri`…).
pub async fn setup_with(domain: &Domain, extra: Value) -> (String, String) {
    let http = reqwest::Client::new();
    let mut body = json!({"client_name": "Demo app", "redirect_uris": [REDIRECT], "scope": "openid email profile offline_access",
        "post_logout_redirect_uris": ["http://127.0.0.1:9/bye"]});
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    let res = http
        .post(format!("{}/admin/clients", domain.oauth2.admin_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let client: Value = res.json().await.unwrap();
    let res = http
        .post(format!("{}/admin/identities", domain.identity.admin_url()))
        .json(&json!({"schema_id": "default", "traits": {"email": "ada@example.com", "name": {"first": "Ada", "last": "Lovelace"}},
            "credentials": {"password": {"config": {"password": PASSWORD}}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    (
        client["client_id"].as_str().unwrap().into(),
        client["client_secret"].as_str().unwrap().into(),
    )
}

/// A fresh domain with `dev` on (cookies without `Secure`, for a browser on http://127.0.0.1).
pub async fn dev_domain() -> Domain {
    Domain::start_with(DomainOptions {
        dev: true,
        ..Default::default()
    })
    .await
    .expect("domain starts")
}

/// One signed-in browser and a relying party, ready for further authorizations.
pub struct Signed {
    pub domain: Domain,
    pub rp: Rp,
    pub http: openidconnect::reqwest::Client,
    pub browser: Browser,
    pub client_id: String,
    pub client_secret: String,
}

pub async fn signed_in() -> Signed {
    signed_in_with(json!({})).await
}

/// [`signed_in`] with `extra` fields on the client.
pub async fn signed_in_with(extra: Value) -> Signed {
    let domain = dev_domain().await;
    let (client_id, client_secret) = setup_with(&domain, extra).await;
    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(domain.issuer()).unwrap(), &http)
            .await
            .unwrap();
    let rp = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.clone()),
        Some(ClientSecret::new(client_secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let browser = Browser::new();
    // Sign in once so the browser holds an identity-svc session.
    let (url, _, _) = rp
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(PkceCodeChallenge::new_random_sha256().0)
        .url();
    let (_, form) = browser.follow_to_page(url.as_str()).await;
    let (_, consent) = browser
        .submit(
            &form.unwrap(),
            &[("identifier", "ada@example.com"), ("password", PASSWORD)],
        )
        .await;
    browser
        .submit(&consent.unwrap(), &[("decision", "grant")])
        .await;
    Signed {
        domain,
        rp,
        http,
        browser,
        client_id,
        client_secret,
    }
}

impl Signed {
    /// An authorization URL for `scopes` (besides `openid`) and `extra` parameters, with its
    /// PKCE verifier and nonce.
    pub fn authorize_url(
        &self,
        scopes: &[&str],
        extra: &[(&str, &str)],
    ) -> (String, PkceCodeVerifier, Nonce) {
        let (pkce, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = self
            .rp
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(pkce);
        for scope in scopes {
            request = request.add_scope(Scope::new(scope.to_string()));
        }
        for (name, value) in extra {
            request = request.add_extra_param(name.to_string(), value.to_string());
        }
        let (url, _, nonce) = request.url();
        (url.into(), verifier, nonce)
    }

    /// Runs an authorization up to the consent page.
    pub async fn to_consent(&self) -> (Form, PkceCodeVerifier) {
        let (url, verifier, _) = self.authorize_url(&["email"], &[]);
        let (page, form) = self.browser.follow_to_page(&url).await;
        assert!(page.contains("/consent?consent_challenge="), "{page}");
        (form.unwrap(), verifier)
    }
}
