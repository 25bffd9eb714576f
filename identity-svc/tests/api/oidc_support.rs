//! A second service plays the upstream OpenID Connect provider of the `oidc` method: a real
//! oauth2-svc binary started by the process harness (services share no code), whose login and
//! consent challenges the test answers on its admin API.

use olympus_tests::harness::{Service, ServiceProcess, base_config};
use serde_json::{Value, json};
use service_kit::db::testdb::TestDatabase;

use crate::browser::Browser;
use crate::helpers::{TestApp, fresh_database, spawn_on};

pub const PROVIDER: &str = "upstream";
pub const CLIENT_ID: &str = "identity-svc-rp";
pub const CLIENT_SECRET: &str = "an-upstream-client-secret-of-forty-characters";

pub struct Upstream {
    pub public: String,
    pub admin: String,
    pub http: reqwest::Client,
    // Kept for the test's lifetime: the process is killed when dropped, then its database.
    _process: ServiceProcess,
    _db: TestDatabase,
    _logs: tempfile::TempDir,
}

async fn spawn_upstream() -> Upstream {
    let logs = tempfile::tempdir().expect("log directory");
    let db = TestDatabase::empty("oauth2").expect("upstream database");
    let mut config = base_config(Service::OAuth2, Some(&db.dsn));
    config
        .set("DEV", "true")
        .set("URLS__LOGIN", "https://upstream-ui.test/login")
        .set("URLS__CONSENT", "https://upstream-ui.test/consent")
        .set("URLS__ERROR", "https://upstream-ui.test/error");
    let process = ServiceProcess::start(Service::OAuth2, &config, logs.path())
        .await
        .expect("the upstream oauth2-svc starts");
    Upstream {
        public: process.public_url(),
        admin: process.admin_url(),
        http: reqwest::Client::new(),
        _process: process,
        _db: db,
        _logs: logs,
    }
}

/// `selfservice.methods.oidc` with the upstream as the only provider (default mapper).
fn method_settings(settings: &mut identity_svc::Settings, issuer: &str) {
    settings.selfservice.methods.oidc = serde_json::from_value(json!({
        "enabled": true,
        "config": {"providers": [{
            "id": PROVIDER, "label": "Upstream", "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET, "issuer_url": issuer,
            "scope": ["openid", "email", "profile"]
        }]}
    }))
    .expect("valid oidc settings");
}

/// identity-svc (dev mode, the `oidc` method on, the registration `session` hook) and its
/// upstream, with the client registered.
pub async fn pair() -> (TestApp, Upstream) {
    pair_with(|_| {}).await
}

/// [`pair`] with `tune` applied to identity-svc's settings last; registrations sign in (the
/// `session` hook) unless `tune` drops the hook.
pub async fn pair_with(tune: impl FnOnce(&mut identity_svc::Settings)) -> (TestApp, Upstream) {
    let up = spawn_upstream().await;
    let issuer = up.public.clone();
    let app = spawn_on(fresh_database(), |s| {
        s.dev = true;
        method_settings(s, &issuer);
        s.selfservice.flows.registration.after.hooks =
            vec![serde_json::from_value(json!({"hook": "session"})).unwrap()];
        tune(s);
    })
    .await;
    let redirect = format!(
        "{}/self-service/methods/oidc/callback/{PROVIDER}",
        app.public
    );
    let res = up
        .http
        .post(format!("{}/admin/clients", up.admin))
        .json(
            &json!({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "redirect_uris": [redirect], "scope": "openid email profile",
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    (app, up)
}

/// The Location of a redirect.
pub fn location(res: &reqwest::Response) -> String {
    assert!(
        res.status().is_redirection(),
        "expected a redirect, got {}",
        res.status()
    );
    res.headers()["location"].to_str().unwrap().to_string()
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn follow(browser: &Browser, url: &str) -> String {
    location(&browser.http.get(url).send().await.unwrap())
}

impl Upstream {
    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.admin));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let res = request.send().await.unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
        res.json().await.unwrap()
    }

    /// Plays the upstream's UI from the authorization URL on: accepts the login for `subject`
    /// and the consent with `claims` in the ID token. Answers where the browser is sent (the
    /// identity service's callback).
    pub async fn sign_in(
        &self,
        browser: &Browser,
        authorize: &str,
        subject: &str,
        claims: Value,
    ) -> String {
        let to_login = follow(browser, authorize).await;
        let login = query_param(&to_login, "login_challenge")
            .unwrap_or_else(|| panic!("not sent to the upstream login UI: {to_login}"));
        let path = format!("/admin/oauth2/auth/requests/login/accept?login_challenge={login}");
        let accepted = self
            .admin(
                reqwest::Method::PUT,
                &path,
                Some(json!({"subject": subject})),
            )
            .await;
        let to_consent = follow(browser, accepted["redirect_to"].as_str().unwrap()).await;
        let consent = query_param(&to_consent, "consent_challenge").expect("sent to consent");
        let path = format!("/admin/oauth2/auth/requests/consent?consent_challenge={consent}");
        let request = self.admin(reqwest::Method::GET, &path, None).await;
        let path =
            format!("/admin/oauth2/auth/requests/consent/accept?consent_challenge={consent}");
        let body =
            json!({"grant_scope": request["requested_scope"], "session": {"id_token": claims}});
        let accepted = self.admin(reqwest::Method::PUT, &path, Some(body)).await;
        follow(browser, accepted["redirect_to"].as_str().unwrap()).await
    }

    /// The user refuses at the upstream: its login is rejected with `access_denied`.
    pub async fn deny(&self, browser: &Browser, authorize: &str) -> String {
        let to_login = follow(browser, authorize).await;
        let login =
            query_param(&to_login, "login_challenge").expect("sent to the upstream login UI");
        let path = format!("/admin/oauth2/auth/requests/login/reject?login_challenge={login}");
        let body = json!({"error": "access_denied", "error_description": "The user said no"});
        let rejected = self.admin(reqwest::Method::PUT, &path, Some(body)).await;
        follow(browser, rejected["redirect_to"].as_str().unwrap()).await
    }
}

pub fn claims(email: &str) -> Value {
    json!({"email": email, "email_verified": true, "given_name": "Grace", "family_name": "Hopper"})
}

/// Starts a login flow in `browser` and presses the provider's button (a form post); answers
/// the provider's authorization URL.
pub async fn press_provider(app: &TestApp, browser: &Browser, kind: &str) -> String {
    let flow = browser.start_flow(app, kind, "").await;
    let res = browser
        .submit(&flow, &[("method", "oidc"), ("provider", PROVIDER)], false)
        .await;
    assert_eq!(res.status(), 303);
    location(&res)
}

/// A whole sign-in through the upstream in `browser` for `subject`; answers the callback's
/// response.
pub async fn sign_in_upstream(
    app: &TestApp,
    up: &Upstream,
    browser: &Browser,
    subject: &str,
    email: &str,
) -> reqwest::Response {
    let authorize = press_provider(app, browser, "login").await;
    let callback = up
        .sign_in(browser, &authorize, subject, claims(email))
        .await;
    browser.http.get(&callback).send().await.unwrap()
}

/// The identity's `oidc` credential as the admin API shows it.
pub async fn oidc_credential(app: &TestApp, id: &str) -> Value {
    let res = app
        .get(&format!("/admin/identities/{id}?include_credential=oidc"))
        .await;
    assert_eq!(res.status(), 200);
    let identity: Value = res.json().await.unwrap();
    identity["credentials"]["oidc"].clone()
}
