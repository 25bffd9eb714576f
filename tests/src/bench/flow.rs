//! The authorization-code flow as a browser walks it: redirects followed one by one across the
//! three services with a cookie jar, login-ui's password form filled when it appears, then the
//! code exchanged at the token endpoint. Each worker owns one [`Browser`].

use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use reqwest::header::{HeaderValue, LOCATION};
use reqwest::{StatusCode, Url};
use sha2::{Digest, Sha256};

use super::engine::Failure;
use super::forms::login_form;
use super::target::Target;

/// A cookie jar that can be emptied (a new browser for each password-login flow) while the
/// client keeps its connections.
#[derive(Default)]
pub struct Jar(Mutex<Arc<reqwest::cookie::Jar>>);

impl Jar {
    pub fn clear(&self) {
        *self.0.lock().expect("jar lock") = Arc::default();
    }

    fn current(&self) -> Arc<reqwest::cookie::Jar> {
        self.0.lock().expect("jar lock").clone()
    }
}

impl reqwest::cookie::CookieStore for Jar {
    fn set_cookies(&self, headers: &mut dyn Iterator<Item = &HeaderValue>, url: &Url) {
        self.current().set_cookies(headers, url);
    }

    fn cookies(&self, url: &Url) -> Option<HeaderValue> {
        self.current().cookies(url)
    }
}

pub struct Browser {
    pub http: reqwest::Client,
    pub jar: Arc<Jar>,
}

/// Tokens of one completed flow.
pub struct Tokens {
    pub refresh_token: Option<String>,
    /// HTTP requests the flow took, token exchange included.
    pub requests: u32,
}

const MAX_HOPS: usize = 30;

fn random(len: usize) -> String {
    let bytes: Vec<u8> = (0..len).map(|_| rand::rng().random()).collect();
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Browser {
    pub fn new() -> Browser {
        let jar = Arc::new(Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        Browser { http, jar }
    }

    /// One authorization with PKCE for `scope`, signing in with the target's user when a login
    /// form appears and `password` allows it, then the code exchange.
    pub async fn flow(&self, t: &Target, scope: &str, password: bool) -> Result<Tokens, Failure> {
        let verifier = random(32);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let state = random(12);
        let mut url =
            Url::parse(&t.authorization_endpoint).map_err(|_| Failure::flow("bad url"))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &t.client_id)
            .append_pair("redirect_uri", &t.redirect_uri)
            .append_pair("scope", scope)
            .append_pair("state", &state)
            .append_pair("nonce", &random(12))
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        let (code, mut requests) = self.follow(t, url, password, &state).await?;
        let response = self
            .http
            .post(&t.token_endpoint)
            .basic_auth(&t.client_id, Some(&t.client_secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &t.redirect_uri),
                ("code_verifier", &verifier),
            ])
            .send()
            .await?;
        requests += 1;
        if response.status() != StatusCode::OK {
            return Err(Failure::status(response.status()));
        }
        let body: serde_json::Value = response.json().await?;
        if body["access_token"].as_str().is_none() {
            return Err(Failure::flow("no access_token"));
        }
        Ok(Tokens {
            refresh_token: body["refresh_token"].as_str().map(str::to_string),
            requests,
        })
    }

    /// Follows redirects to the callback; answers the code and the requests made.
    async fn follow(
        &self,
        t: &Target,
        mut url: Url,
        password: bool,
        state: &str,
    ) -> Result<(String, u32), Failure> {
        let mut requests = 0;
        let mut response = self.http.get(url.clone()).send().await?;
        let mut logged_in = false;
        for _ in 0..MAX_HOPS {
            requests += 1;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .ok_or_else(|| Failure::flow("redirect without location"))?;
                url = url
                    .join(location)
                    .map_err(|_| Failure::flow("bad location"))?;
                if url.as_str().starts_with(&t.redirect_uri) {
                    return callback_code(&url, state).map(|code| (code, requests));
                }
                response = self.http.get(url.clone()).send().await?;
                continue;
            }
            if !status.is_success() {
                return Err(Failure::status(status));
            }
            let html = response.text().await?;
            let Some(form) = login_form(&url, &html) else {
                return Err(Failure::flow("page without a login form"));
            };
            let (identifier, secret) = match (&t.user, password) {
                (Some(user), true) if !logged_in => user,
                _ => return Err(Failure::flow("login form where none was expected")),
            };
            let fields = form.filled(identifier, secret);
            logged_in = form.has_password;
            url = form.action;
            response = self.http.post(url.clone()).form(&fields).send().await?;
        }
        Err(Failure::flow("too many redirects"))
    }
}

impl Default for Browser {
    fn default() -> Self {
        Browser::new()
    }
}

fn callback_code(url: &Url, state: &str) -> Result<String, Failure> {
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if let Some(error) = param("error") {
        return Err(Failure::flow(&format!("callback error {error}")));
    }
    if param("state").as_deref() != Some(state) {
        return Err(Failure::flow("callback state mismatch"));
    }
    param("code").ok_or_else(|| Failure::flow("callback without code"))
}
