//! A browser and a login/consent UI played by the test: the UI answers challenges on the admin
//! API, the browser follows redirects by hand and keeps cookies.

use serde_json::{Value, json};

use crate::helpers::{TestApp, fresh_database, spawn_on};

/// `BASE64URL(SHA256(VERIFIER))`, RFC 7636 appendix B.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub const REDIRECT: &str = "https://rp.test/cb";

/// An app whose cookies travel over plain http (dev mode), as a local browser would see it.
pub async fn flow_app() -> TestApp {
    spawn_on(fresh_database(), |s| s.dev = true).await
}

pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

impl TestApp {
    /// A confidential client and its secret.
    pub async fn confidential_client(&self) -> (String, String) {
        let res = self
            .create_client(
                json!({"redirect_uris": [REDIRECT], "scope": "openid offline_access email profile",
                "grant_types": ["authorization_code", "refresh_token"]}),
            )
            .await;
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.unwrap();
        (
            body["client_id"].as_str().unwrap().into(),
            body["client_secret"].as_str().unwrap().into(),
        )
    }

    pub async fn public_client(&self) -> String {
        let res = self
            .create_client(
                json!({"redirect_uris": ["http://127.0.0.1/cb"], "scope": "openid email",
                "token_endpoint_auth_method": "none"}),
            )
            .await;
        assert_eq!(res.status(), 201);
        res.json::<Value>().await.unwrap()["client_id"]
            .as_str()
            .unwrap()
            .into()
    }

    /// `/oauth2/auth` with PKCE S256 and the given overrides (`("key", None)` removes one).
    pub fn authorize_url(&self, client_id: &str, overrides: &[(&str, Option<&str>)]) -> String {
        let mut params: Vec<(String, String)> = [
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid email"),
            ("state", "state-123"),
            ("nonce", "nonce-456"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (key, value) in overrides {
            params.retain(|(k, _)| k != key);
            if let Some(value) = value {
                params.push((key.to_string(), value.to_string()));
            }
        }
        reqwest::Url::parse_with_params(&format!("{}/oauth2/auth", self.public), &params)
            .unwrap()
            .into()
    }

    /// The admin API: GET a request, or PUT a decision.
    pub async fn admin_get(&self, kind: &str, challenge: &str) -> reqwest::Response {
        let url = format!(
            "{}/admin/oauth2/auth/requests/{kind}?{kind}_challenge={challenge}",
            self.admin
        );
        self.http.get(url).send().await.unwrap()
    }

    pub async fn admin_put(
        &self,
        kind: &str,
        action: &str,
        challenge: &str,
        body: Value,
    ) -> reqwest::Response {
        let url = format!(
            "{}/admin/oauth2/auth/requests/{kind}/{action}?{kind}_challenge={challenge}",
            self.admin
        );
        self.http.put(url).json(&body).send().await.unwrap()
    }
}

/// The Location of a redirect response.
pub fn location(res: &reqwest::Response) -> String {
    assert!(
        res.status().is_redirection(),
        "expected a redirect, got {}",
        res.status()
    );
    res.headers()["location"].to_str().unwrap().to_string()
}

/// The value of `name` in the query of `url`.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// GETs `url` in `browser` and returns the redirect target.
pub async fn follow(browser: &reqwest::Client, url: &str) -> String {
    location(&browser.get(url).send().await.unwrap())
}

/// Plays the UI: accepts the login for `subject` and the consent for `scope`; returns where the
/// browser ends up (the client's redirect_uri with code or error).
pub async fn sign_in(
    app: &TestApp,
    browser: &reqwest::Client,
    authorize: &str,
    subject: &str,
) -> String {
    let to_login = follow(browser, authorize).await;
    location(&complete(app, browser, &to_login, subject).await)
}

/// Accepts `login_challenge` with `body` and follows `browser` to the consent UI; answers the
/// consent challenge and the consent request it names.
pub async fn accept_login(
    app: &TestApp,
    browser: &reqwest::Client,
    login_challenge: &str,
    body: Value,
) -> (String, Value) {
    let accepted: Value = app
        .admin_put("login", "accept", login_challenge, body)
        .await
        .json()
        .await
        .unwrap();
    let to_consent = follow(browser, accepted["redirect_to"].as_str().unwrap()).await;
    let consent = query_param(&to_consent, "consent_challenge").expect("sent to the consent UI");
    let request: Value = app
        .admin_get("consent", &consent)
        .await
        .json()
        .await
        .unwrap();
    (consent, request)
}

/// Accepts the consent challenge with `body` and follows `browser` on; answers where it ends
/// (the client's redirect_uri).
pub async fn accept_consent(
    app: &TestApp,
    browser: &reqwest::Client,
    consent_challenge: &str,
    body: Value,
) -> String {
    let accepted: Value = app
        .admin_put("consent", "accept", consent_challenge, body)
        .await
        .json()
        .await
        .unwrap();
    follow(browser, accepted["redirect_to"].as_str().unwrap()).await
}

/// Plays the UI from `to_login` (the login UI's URL with the challenge) on, like `sign_in`, and
/// returns the last response: oauth2-svc's answer to the consent verifier.
pub async fn complete(
    app: &TestApp,
    browser: &reqwest::Client,
    to_login: &str,
    subject: &str,
) -> reqwest::Response {
    let login_challenge = query_param(to_login, "login_challenge").expect("sent to the login UI");
    let body = json!({"subject": subject, "remember": true});
    let (consent_challenge, request) = accept_login(app, browser, &login_challenge, body).await;
    let accepted: Value = app
        .admin_put(
            "consent",
            "accept",
            &consent_challenge,
            json!({"grant_scope": request["requested_scope"], "session": {"id_token": {"email": "ada@example.com"}}}),
        )
        .await
        .json()
        .await
        .unwrap();
    browser
        .get(accepted["redirect_to"].as_str().unwrap())
        .send()
        .await
        .unwrap()
}
