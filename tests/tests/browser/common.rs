//! What every browser scenario starts from: a dev domain, a confidential client whose redirect
//! URI is a tiny local relying party (or the demo relying party), users, the courier's codes,
//! and the authorization, code exchange and sign-in steps in the browser.

use std::time::Duration;

use olympus_tests::browser::Tools;
use olympus_tests::browser::page::Visitor;
use olympus_tests::harness::{
    Domain, DomainOptions, Service, ServiceProcess, demo_rp_config, reserve_port,
};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const PASSWORD: &str = "correct horse battery staple";
/// Each test's authorizations use one PKCE verifier: a test is one browser, one relying party.
const PKCE_VERIFIER: &str = "browser-suite-pkce-verifier-0123456789-abcdefghijkl";

fn pkce_challenge() -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(PKCE_VERIFIER.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

/// A domain with a client and the relying party that receives its callbacks.
pub struct World {
    pub domain: Domain,
    pub client_id: String,
    pub client_secret: String,
    /// `http://127.0.0.1:<port>`: `/callback` and `/bye` answer a small page.
    pub rp: String,
    pub visitor: Visitor,
    _rp_task: tokio::task::JoinHandle<()>,
}

/// The tools, or `None` when the test `name` is skipped.
pub fn tools(name: &str) -> Option<Tools> {
    Tools::locate(name)
}

pub async fn dev_domain() -> Domain {
    Domain::start_with(DomainOptions {
        dev: true,
        ..Default::default()
    })
    .await
    .expect("domain starts")
}

impl World {
    /// A fresh dev domain, a client for the local relying party, and a browser for `test`.
    pub async fn start(tools: &Tools, test: &str) -> World {
        let domain = dev_domain().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let rp = format!("http://{}", listener.local_addr().unwrap());
        let rp_task = tokio::spawn(serve_rp(listener));
        let client = create_client(&domain, &format!("{rp}/callback"), &format!("{rp}/bye")).await;
        let visitor = Visitor::start(tools, test).await.expect("browser starts");
        World {
            domain,
            client_id: client["client_id"].as_str().unwrap().into(),
            client_secret: client["client_secret"].as_str().unwrap().into(),
            rp,
            visitor,
            _rp_task: rp_task,
        }
    }

    /// An authorization request of the client for `openid email profile` with `state`.
    pub fn authorize_url(&self, state: &str) -> String {
        let mut url =
            reqwest::Url::parse(&format!("{}/oauth2/auth", self.domain.issuer())).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &format!("{}/callback", self.rp))
            .append_pair("scope", "openid email profile")
            .append_pair("state", state)
            .append_pair("nonce", "n-0123456789abcdef")
            .append_pair("code_challenge", &pkce_challenge())
            .append_pair("code_challenge_method", "S256");
        url.into()
    }

    /// Starts an authorization in the browser; answers the page it lands on.
    pub async fn authorize(&self, state: &str) -> String {
        self.visitor
            .browser
            .goto(&self.authorize_url(state))
            .await
            .unwrap();
        self.visitor.browser.current_url().await.unwrap()
    }

    /// Exchanges the code in the RP's callback `url` for the token response.
    pub async fn exchange(&self, url: &str) -> Value {
        let code = query(url, "code").unwrap_or_else(|| panic!("no code in {url}"));
        let res = reqwest::Client::new()
            .post(format!("{}/oauth2/token", self.domain.issuer()))
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &format!("{}/callback", self.rp)),
                ("code_verifier", PKCE_VERIFIER),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    /// Starts the demo relying party as a second client of this domain.
    pub async fn demo_rp(&self) -> ServiceProcess {
        let port = reserve_port().unwrap();
        let rp = format!("http://127.0.0.1:{port}");
        let client =
            create_client(&self.domain, &format!("{rp}/callback"), &format!("{rp}/")).await;
        let mut config = demo_rp_config(
            &self.domain.issuer(),
            client["client_id"].as_str().unwrap(),
            client["client_secret"].as_str(),
        );
        config.public_port = Some(port);
        ServiceProcess::start(Service::DemoRp, &config, &self.domain.configs.log_dir)
            .await
            .expect("demo RP starts")
    }

    /// On login-ui's login page: fills `identifier` and `password` and submits them.
    pub async fn sign_in(&mut self, email: &str, password: &str) {
        let v = &mut self.visitor;
        v.wait_for(&self.domain.login_ui.public_url())
            .await
            .unwrap();
        v.page_with_phone("login").await.unwrap();
        v.fill("identifier", email).await.unwrap();
        v.fill("password", password).await.unwrap();
        v.press("method", "password").await.unwrap();
    }

    /// On the consent page: checks it, then presses `decision` (`grant` or `deny`), optionally
    /// asking to remember it.
    pub async fn consent(&mut self, decision: &str, remember: bool) {
        let v = &mut self.visitor;
        v.wait_for(&format!("{}/consent", self.domain.login_ui.public_url()))
            .await
            .unwrap();
        v.page_with_phone("consent").await.unwrap();
        if remember {
            v.browser.click("input[name=\"remember\"]").await.unwrap();
        }
        v.press("decision", decision).await.unwrap();
    }
}

/// A confidential client for `redirect` with the post-logout redirect `bye`.
pub async fn create_client(domain: &Domain, redirect: &str, bye: &str) -> Value {
    let res = reqwest::Client::new()
        .post(format!("{}/admin/clients", domain.oauth2.admin_url()))
        .json(&json!({
            "client_name": "Browser test app",
            "redirect_uris": [redirect],
            "post_logout_redirect_uris": [bye],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "scope": "openid offline_access email profile",
            "token_endpoint_auth_method": "client_secret_basic",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

/// Creates a user with a password through identity-svc's admin API.
pub async fn create_user(domain: &Domain, email: &str) -> Value {
    let res = reqwest::Client::new()
        .post(format!("{}/admin/identities", domain.identity.admin_url()))
        .json(&json!({"schema_id": "default",
            "traits": {"email": email, "name": {"first": "Ada", "last": "Lovelace"}},
            "credentials": {"password": {"config": {"password": PASSWORD}}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

/// The bodies of the courier's messages of `template` (`verification_code_valid`,
/// `recovery_code_valid`) to `recipient`, oldest first.
pub async fn courier_messages(domain: &Domain, recipient: &str, template: &str) -> Vec<String> {
    let url = format!("{}/admin/courier/messages", domain.identity.admin_url());
    let messages: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    let mut found: Vec<&Value> = messages
        .as_array()
        .expect("a list of messages")
        .iter()
        .filter(|m| m["recipient"] == recipient && m["template_type"] == template)
        .collect();
    found.sort_by_key(|m| m["created_at"].as_str().unwrap_or_default().to_string());
    found
        .iter()
        .map(|m| m["body"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The code in the first message of `template` to `recipient` after the `seen` earlier ones,
/// waiting for the flow to queue it.
pub async fn courier_code(domain: &Domain, recipient: &str, template: &str, seen: usize) -> String {
    for _ in 0..400 {
        let bodies = courier_messages(domain, recipient, template).await;
        if let Some(body) = bodies.get(seen) {
            return body
                .lines()
                .map(str::trim)
                .find(|line| line.len() >= 6 && line.chars().all(|c| c.is_ascii_digit()))
                .unwrap_or_else(|| panic!("no code in the {template} message"))
                .to_string();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no new {template} message to {recipient}");
}

/// The value of `name` in the query of `url`.
pub fn query(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The claims of a JWT (unverified: oauth2-svc's own tests check signatures).
pub fn jwt_claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The local relying party: any request gets a small accessible page.
async fn serve_rp(listener: tokio::net::TcpListener) {
    const PAGE: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
        <title>Test app</title></head><body><main><h1>Test app</h1><p>Back at the app.</p>\
        </main></body></html>";
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(async move {
            let mut buf = [0u8; 8192];
            let _ = stream.read(&mut buf).await;
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{PAGE}",
                PAGE.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}
