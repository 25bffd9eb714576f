//! A browser for end-to-end tests: keeps cookies, follows redirects one by one, and fills forms
//! only from what the page itself says (its action, method and fields); and ([`rp`]) a domain
//! with a registered client, a user and a signed-in browser.

// Each test binary includes this module and uses a different part of it.
#![allow(dead_code, unused_imports)]

use std::collections::BTreeMap;

mod backchannel;
mod forms;
mod rp;
mod tokens;

pub use backchannel::receiver;
pub use forms::{form_with, page_forms};
pub use rp::{
    PASSWORD, REDIRECT, Rp, Signed, dev_domain, setup, setup_with, signed_in, signed_in_with,
};
pub use tokens::{jwt_claims, token_error, unix_now};

/// A form as the page shows it.
#[derive(Debug, Clone)]
pub struct Form {
    pub action: String,
    pub fields: Vec<(String, String)>,
    /// The whole page, for assertions on what it says.
    pub text: String,
}

pub struct Browser {
    http: reqwest::Client,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser { http }
    }

    /// The browser's own client (its cookies), for requests a form would not send.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Follows redirects from `url` until a page or a redirect to a host nobody serves (the
    /// relying party's callback); returns the last URL and the page's form, if any.
    pub async fn follow_to_page(&self, url: &str) -> (String, Option<Form>) {
        self.run(self.http.get(url), url.to_string()).await
    }

    /// Submits `form` with its own fields, overridden by `typed`.
    pub async fn submit(&self, form: &Form, typed: &[(&str, &str)]) -> (String, Option<Form>) {
        let mut fields: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in &form.fields {
            fields.entry(name.clone()).or_insert_with(|| value.clone());
        }
        for (name, value) in typed {
            fields.insert(name.to_string(), value.to_string());
        }
        let fields: Vec<(String, String)> = fields.into_iter().collect();
        self.run(
            self.http.post(&form.action).form(&fields),
            form.action.clone(),
        )
        .await
    }

    async fn run(&self, first: reqwest::RequestBuilder, mut url: String) -> (String, Option<Form>) {
        let mut response = first.send().await.unwrap();
        for _ in 0..20 {
            if !response.status().is_redirection() {
                let status = response.status();
                let text = response.text().await.unwrap();
                assert!(
                    status.is_success() || status.as_u16() == 400,
                    "{url} answered {status}: {text}"
                );
                return (url.clone(), parse_form(&url, &text));
            }
            let location = response.headers()["location"].to_str().unwrap().to_string();
            url = reqwest::Url::parse(&url)
                .unwrap()
                .join(&location)
                .unwrap()
                .to_string();
            if url.starts_with("http://127.0.0.1:9/") {
                return (url, None);
            }
            response = self.http.get(&url).send().await.unwrap();
        }
        panic!("too many redirects from {url}");
    }
}

/// The value of `name` in the query of `url`.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn unescape(value: &str) -> String {
    value
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2F;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The attributes of the tag starting at `tag` (`<input …>`).
fn attributes(tag: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = tag;
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq]
            .rsplit(|c: char| c.is_whitespace())
            .next()
            .unwrap_or_default()
            .to_string();
        let after = &rest[eq + 2..];
        let Some(end) = after.find('"') else { break };
        out.insert(name, unescape(&after[..end]));
        rest = &after[end + 1..];
    }
    out
}

/// The first form of a page: its action (resolved against the page URL) and every named
/// input and submit button with its value.
fn parse_form(page_url: &str, html: &str) -> Option<Form> {
    let start = html.find("<form")?;
    let end = html[start..].find("</form>").map(|e| start + e)?;
    let body = &html[start..end];
    let form_tag = &body[..body.find('>')?];
    let action = attributes(form_tag)
        .get("action")
        .cloned()
        .unwrap_or_default();
    let action = reqwest::Url::parse(page_url)
        .unwrap()
        .join(&action)
        .unwrap()
        .to_string();
    let mut fields = Vec::new();
    for marker in ["<input", "<button"] {
        let mut rest = body;
        while let Some(i) = rest.find(marker) {
            let tag = &rest[i..rest[i..].find('>').map(|e| i + e).unwrap_or(rest.len())];
            let attrs = attributes(tag);
            let kind = attrs.get("type").map(String::as_str).unwrap_or("text");
            // Submit buttons other than the one pressed are not sent; typed values override.
            if let Some(name) = attrs.get("name")
                && kind != "checkbox"
            {
                fields.push((
                    name.clone(),
                    attrs.get("value").cloned().unwrap_or_default(),
                ));
            }
            rest = &rest[i + marker.len()..];
        }
    }
    Some(Form {
        action,
        fields,
        text: html.to_string(),
    })
}
