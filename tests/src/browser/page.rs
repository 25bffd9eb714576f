//! The suite's habits on every page it visits: axe-core's WCAG 2 A/AA rules (a `serious` or
//! `critical` violation fails the test, naming rule, impact and targets) and a screenshot in
//! `<target>/browser-screenshots/<test>/<NN>-<page>.png` (and `-phone.png` at 390x844 when
//! asked), plus form helpers that find fields and buttons by their `name`/`value`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::{Browser, DESKTOP, Tools, target_dir};

/// The phone-sized window of the extra screenshots.
pub const PHONE: (u32, u32) = (390, 844);

const AXE_RUN: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
  .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.map(n => n.target.join(' '))}))))
  .catch(e => done({error: String(e)}));
"#;

/// A browser that checks and records each page of one test.
pub struct Visitor {
    pub browser: Browser,
    axe: String,
    shots: PathBuf,
    count: usize,
}

impl Visitor {
    /// A fresh browser for the test `test`, whose screenshots replace those of an earlier run.
    pub async fn start(tools: &Tools, test: &str) -> anyhow::Result<Visitor> {
        let shots = target_dir().join("browser-screenshots").join(test);
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots)?;
        Ok(Visitor {
            browser: Browser::start(tools).await?,
            axe: tools.axe.clone(),
            shots,
            count: 0,
        })
    }

    /// Checks the current page (`name` for its screenshot): axe-core, then a screenshot.
    pub async fn page(&mut self, name: &str) -> anyhow::Result<()> {
        self.record(name, false).await
    }

    /// [`page`](Self::page), with another screenshot at a phone's size.
    pub async fn page_with_phone(&mut self, name: &str) -> anyhow::Result<()> {
        self.record(name, true).await
    }

    async fn record(&mut self, name: &str, phone: bool) -> anyhow::Result<()> {
        self.count += 1;
        let file = format!("{:02}-{name}", self.count);
        self.save(&format!("{file}.png")).await?;
        if phone {
            self.browser.resize(PHONE).await?;
            self.save(&format!("{file}-phone.png")).await?;
            self.browser.resize(DESKTOP).await?;
        }
        self.axe_check(name).await
    }

    async fn save(&self, file: &str) -> anyhow::Result<()> {
        let png = self.browser.screenshot().await?;
        std::fs::write(self.shots.join(file), png).with_context(|| format!("saving {file}"))
    }

    /// Injects axe-core into the page and fails on serious or critical WCAG 2 A/AA violations.
    pub async fn axe_check(&self, name: &str) -> anyhow::Result<()> {
        let url = self.browser.current_url().await?;
        self.browser.execute(&self.axe, json!([])).await?;
        let result = self.browser.execute_async(AXE_RUN, json!([])).await?;
        let Some(violations) = result.as_array() else {
            bail!("axe-core did not run on {name} ({url}): {result}");
        };
        let serious: Vec<&Value> = violations
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        if !serious.is_empty() {
            let list: Vec<String> = serious
                .iter()
                .map(|v| {
                    format!(
                        "  {} ({}): {} at {}",
                        v["id"], v["impact"], v["help"], v["targets"]
                    )
                })
                .collect();
            bail!(
                "axe-core found serious or critical violations on {name} ({url}):\n{}",
                list.join("\n")
            );
        }
        Ok(())
    }

    /// Types `value` into the field named `name`.
    pub async fn fill(&self, name: &str, value: &str) -> anyhow::Result<()> {
        self.browser
            .fill(&format!("[name=\"{name}\"]"), value)
            .await
    }

    /// Clicks the button with `name` and `value` (`method`/`password`, `decision`/`grant`).
    pub async fn press(&self, name: &str, value: &str) -> anyhow::Result<()> {
        let css = format!(
            "button[name=\"{name}\"][value=\"{value}\"], input[type=\"submit\"][name=\"{name}\"][value=\"{value}\"]"
        );
        self.browser.click(&css).await
    }

    /// Waits until the URL starts with `prefix`; answers it.
    pub async fn wait_for(&self, prefix: &str) -> anyhow::Result<String> {
        self.browser
            .wait_for_url(|url| url.starts_with(prefix))
            .await
    }

    /// The text of the whole page.
    pub async fn body_text(&self) -> anyhow::Result<String> {
        self.browser.text("body").await
    }
}
