//! A second service plays the upstream OpenID Connect provider of the `oidc` method: a real
//! oauth2-svc in-process, whose login and consent challenges the test answers on its admin API.

use serde_json::{Value, json};
use service_kit::db::testdb::TestDatabase;
use service_kit::server::{Listeners, StopHandle};

use crate::browser::Browser;
use crate::helpers::{TestApp, fresh_database, random_secret, spawn_on};

pub const PROVIDER: &str = "upstream";
const CLIENT_ID: &str = "identity-svc-rp";
const CLIENT_SECRET: &str = "an-upstream-client-secret-of-forty-characters";

pub struct Upstream {
    pub public: String,
    pub admin: String,
    http: reqwest::Client,
    #[allow(dead_code)]
    db: TestDatabase,
    #[allow(dead_code)]
    stop: StopHandle,
}

async fn spawn_upstream() -> Upstream {
    let versions = oauth2_svc::db::MIGRATIONS.versions(service_kit::db::Backend::Postgres);
    let db = TestDatabase::fresh("oauth2", &versions, |dsn| {
        let mut settings = upstream_settings("http://127.0.0.1:1");
        settings.dsn = dsn.to_string();
        oauth2_svc::migrate_blocking(settings).map(|_| ())
    })
    .expect("upstream database");
    let listeners = Listeners::ephemeral().expect("bind");
    let public = format!(
        "http://127.0.0.1:{}",
        listeners.public.local_addr().unwrap().port()
    );
    let admin = format!(
        "http://127.0.0.1:{}",
        listeners.admin.local_addr().unwrap().port()
    );
    let mut settings = upstream_settings(&public);
    settings.dsn = db.dsn.clone();
    let app = oauth2_svc::build(settings, Some(listeners))
        .await
        .expect("upstream starts");
    let stop = app.handle();
    tokio::spawn(app.run_until_stopped());
    Upstream {
        public,
        admin,
        http: reqwest::Client::new(),
        db,
        stop,
    }
}

fn upstream_settings(issuer: &str) -> oauth2_svc::Settings {
    let mut settings = oauth2_svc::Settings::default();
    settings.secrets.system = random_secret();
    settings.secrets.cookie = random_secret();
    settings.urls.self_.issuer = Some(issuer.to_string());
    settings.urls.login = Some("https://upstream-ui.test/login".into());
    settings.urls.consent = Some("https://upstream-ui.test/consent".into());
    settings.urls.error = Some("https://upstream-ui.test/error".into());
    settings.database.migrate_on_start = Some(true);
    settings.dev = true;
    settings
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
    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
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
        let login =
            query_param(&to_login, "login_challenge").expect("sent to the upstream login UI");
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
