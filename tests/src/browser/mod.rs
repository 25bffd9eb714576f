//! A small WebDriver client for the browser suite: Debian's `chromedriver` started on a free
//! port, one headless Chromium session on a fresh profile, and the commands the suite needs
//! (navigate, find by CSS, type, click, keyboard actions, scripts, screenshots). The session and
//! the driver end when the [`Browser`] is dropped. [`Tools::locate`] finds Chromium, chromedriver
//! and axe-core (installed by `.ci/run`); a missing one skips the test locally and fails it
//! under `CI=true`. [`page`] adds the suite's habits: axe-core and a screenshot on every page.

pub mod page;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::harness::{binary_dir, reserve_port};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The desktop window of every session; [`page::PHONE`] is the phone-sized one.
pub const DESKTOP: (u32, u32) = (1280, 900);
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
const INSTALL: &str = "apt-get install chromium chromium-driver && npm install --prefix \
                       target/browser-tools axe-core@4.14.1 (or bash .ci/run)";

/// The target directory (`$CARGO_TARGET_DIR` or `target`) of the running test.
pub fn target_dir() -> PathBuf {
    binary_dir()
        .expect("target directory")
        .parent()
        .expect("target directory")
        .to_path_buf()
}

/// What the browser suite runs on.
#[derive(Clone, Debug)]
pub struct Tools {
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
    /// The source of `axe.min.js`, injected into every page.
    pub axe: String,
}

impl Tools {
    /// Chromium, chromedriver and axe-core; `None` when the test `name` is to be skipped (it
    /// has said why). Under `CI=true` a missing tool fails the test instead.
    pub fn locate(name: &str) -> Option<Tools> {
        let axe = target_dir().join("browser-tools/node_modules/axe-core/axe.min.js");
        let missing = [CHROMIUM, CHROMEDRIVER]
            .into_iter()
            .map(PathBuf::from)
            .chain([axe.clone()])
            .filter(|path| !path.is_file())
            .map(|path| path.display().to_string())
            .collect::<Vec<_>>();
        if !missing.is_empty() {
            let why = format!("{} missing; install with: {INSTALL}", missing.join(", "));
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{why} (CI=true, so the browser test {name} may not be skipped)");
            }
            let _ = writeln!(std::io::stderr(), "SKIPPED the browser test {name}: {why}");
            return None;
        }
        Some(Tools {
            chromium: CHROMIUM.into(),
            chromedriver: CHROMEDRIVER.into(),
            axe: std::fs::read_to_string(&axe).expect("axe.min.js is readable"),
        })
    }
}

/// A running chromedriver; killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    async fn start(tools: &Tools) -> anyhow::Result<Driver> {
        let port = reserve_port()?;
        let child = Command::new(&tools.chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start chromedriver")?;
        let mut driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Some(status) = driver.child.try_wait()? {
                bail!("chromedriver exited during start-up ({status})");
            }
            let status = http.get(format!("{}/status", driver.url)).send().await;
            if let Ok(res) = status {
                let body: Value = res.json().await.unwrap_or_default();
                if body["value"]["ready"] == true {
                    return Ok(driver);
                }
            }
            if started.elapsed() > Duration::from_secs(20) {
                bail!("chromedriver was not ready after 20 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One headless Chromium session on a fresh profile.
pub struct Browser {
    http: reqwest::Client,
    session: String,
    // Field order matters: the session ends (in `drop`) before the driver and the profile go.
    driver: Driver,
    _profile: tempfile::TempDir,
}

/// An element of the current page.
#[derive(Clone, Debug)]
pub struct Element(String);

impl Browser {
    pub async fn start(tools: &Tools) -> anyhow::Result<Browser> {
        let driver = Driver::start(tools).await?;
        let profile = tempfile::tempdir()?;
        let (width, height) = DESKTOP;
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": tools.chromium, "args": args},
        }}});
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()?;
        let res: Value = http
            .post(format!("{}/session", driver.url))
            .json(&capabilities)
            .send()
            .await?
            .json()
            .await?;
        let Some(session) = res["value"]["sessionId"].as_str() else {
            bail!("chromedriver did not create a session: {res}");
        };
        let browser = Browser {
            http,
            session: session.to_string(),
            driver,
            _profile: profile,
        };
        browser
            .command(
                reqwest::Method::POST,
                "timeouts",
                json!({"script": 30_000, "pageLoad": 30_000, "implicit": 0}),
            )
            .await?;
        Ok(browser)
    }

    /// One WebDriver command on this session (`path` relative to `/session/<id>/`); answers
    /// the response's `value`, or the WebDriver error.
    pub async fn command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> anyhow::Result<Value> {
        let url = format!("{}/session/{}/{path}", self.driver.url, self.session);
        let mut request = self.http.request(method.clone(), &url);
        if !body.is_null() {
            request = request.json(&body);
        }
        let res = request.send().await?;
        let status = res.status();
        let body: Value = res.json().await?;
        let value = body["value"].clone();
        if !status.is_success() {
            bail!(
                "WebDriver {method} {path} failed ({status}): {} {}",
                value["error"],
                value["message"]
            );
        }
        Ok(value)
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.command(reqwest::Method::GET, path, Value::Null).await
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.command(reqwest::Method::POST, path, body).await
    }

    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.post("url", json!({ "url": url })).await.map(drop)
    }

    pub async fn current_url(&self) -> anyhow::Result<String> {
        let url = self.get("url").await?;
        Ok(url.as_str().context("url is a string")?.to_string())
    }

    /// The first element matching `css`, if any.
    pub async fn find(&self, css: &str) -> anyhow::Result<Option<Element>> {
        let found = self
            .post("elements", json!({"using": "css selector", "value": css}))
            .await?;
        Ok(found
            .as_array()
            .and_then(|all| all.first())
            .and_then(|e| e[ELEMENT_KEY].as_str())
            .map(|id| Element(id.to_string())))
    }

    /// The element matching `css`, or an error naming the page it was missing from.
    pub async fn element(&self, css: &str) -> anyhow::Result<Element> {
        match self.find(css).await? {
            Some(element) => Ok(element),
            None => bail!("no `{css}` on {}", self.current_url().await?),
        }
    }

    /// Replaces the value of the field `css` with `text`, typed.
    pub async fn fill(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let element = self.element(css).await?;
        let path = format!("element/{}", element.0);
        self.post(&format!("{path}/clear"), json!({})).await?;
        self.post(&format!("{path}/value"), json!({ "text": text }))
            .await
            .map(drop)
    }

    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        let element = self.element(css).await?;
        self.post(&format!("element/{}/click", element.0), json!({}))
            .await
            .map(drop)
    }

    /// The rendered text of the element `css`.
    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        let element = self.element(css).await?;
        let text = self.get(&format!("element/{}/text", element.0)).await?;
        Ok(text.as_str().unwrap_or_default().to_string())
    }

    /// Presses each key of `keys` in turn on whatever has the focus (WebDriver actions); use
    /// [`TAB`] and [`ENTER`] for those keys.
    pub async fn keys(&self, keys: &str) -> anyhow::Result<()> {
        let mut actions = Vec::new();
        for key in keys.chars() {
            actions.push(json!({"type": "keyDown", "value": key.to_string()}));
            actions.push(json!({"type": "keyUp", "value": key.to_string()}));
        }
        let body = json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]});
        self.post("actions", body).await.map(drop)
    }

    /// Runs `script` (a function body; `arguments` are `args`) and answers its return value.
    pub async fn execute(&self, script: &str, args: Value) -> anyhow::Result<Value> {
        self.post("execute/sync", json!({"script": script, "args": args}))
            .await
    }

    /// Runs `script`, whose last argument is the callback that answers the result.
    pub async fn execute_async(&self, script: &str, args: Value) -> anyhow::Result<Value> {
        self.post("execute/async", json!({"script": script, "args": args}))
            .await
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> anyhow::Result<Vec<u8>> {
        use base64::Engine;
        let png = self.get("screenshot").await?;
        let png = png.as_str().context("screenshot is base64")?;
        Ok(base64::engine::general_purpose::STANDARD.decode(png)?)
    }

    pub async fn resize(&self, (width, height): (u32, u32)) -> anyhow::Result<()> {
        self.post("window/rect", json!({"width": width, "height": height}))
            .await
            .map(drop)
    }

    /// Waits until the current URL satisfies `done` (a navigation started by a click may
    /// still be under way); answers that URL.
    pub async fn wait_for_url(&self, done: impl Fn(&str) -> bool) -> anyhow::Result<String> {
        let started = Instant::now();
        loop {
            let url = self.current_url().await?;
            if done(&url) {
                return Ok(url);
            }
            if started.elapsed() > Duration::from_secs(20) {
                bail!("the browser stayed on {url}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// WebDriver's key codes.
pub const TAB: char = '\u{E004}';
pub const ENTER: char = '\u{E007}';

impl Drop for Browser {
    /// Ends the session (Chromium quits) with a plain blocking request, since `drop` cannot
    /// await; the driver is killed afterwards.
    fn drop(&mut self) {
        let address = self.driver.url.trim_start_matches("http://").to_string();
        let Ok(mut stream) = TcpStream::connect(&address) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
        let request = format!(
            "DELETE /session/{} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n",
            self.session
        );
        if stream.write_all(request.as_bytes()).is_ok() {
            let _ = stream.read_to_end(&mut Vec::new());
        }
    }
}

impl Browser {
    /// Deletes every cookie of the current page's host: signs the browser out of all services
    /// on `127.0.0.1` (cookies are not per port).
    pub async fn clear_cookies(&self) -> anyhow::Result<()> {
        self.command(reqwest::Method::DELETE, "cookie", Value::Null)
            .await
            .map(drop)
    }
}
