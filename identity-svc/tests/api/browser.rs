//! A cookie-keeping browser for flow tests: it fills forms only from the flow's `ui.nodes`.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_on};

pub const PASSWORD: &str = "correct horse battery staple";

/// An app whose cookies travel over plain http (dev mode), as a local browser would see it.
pub async fn browser_app() -> TestApp {
    spawn_on(crate::helpers::fresh_database(), |s| s.dev = true).await
}

pub struct Browser {
    pub http: reqwest::Client,
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

    /// Starts a browser login flow as an SPA would (JSON) and returns the flow.
    pub async fn start_login(&self, app: &TestApp, query: &str) -> Value {
        self.start_flow(app, "login", query).await
    }

    pub async fn fetch_flow(&self, app: &TestApp, id: &str) -> reqwest::Response {
        self.fetch_flow_of(app, "login", id).await
    }

    /// Submits `flow`'s form: every node's own value, overridden by `typed`, posted to `ui.action`.
    pub async fn submit(
        &self,
        flow: &Value,
        typed: &[(&str, &str)],
        json: bool,
    ) -> reqwest::Response {
        let mut fields = form_fields(flow);
        for (name, value) in typed {
            fields.retain(|(n, _)| n != name);
            fields.push((name.to_string(), value.to_string()));
        }
        let action = flow["ui"]["action"].as_str().unwrap();
        let request = self.http.post(action);
        let request = if json {
            let body: serde_json::Map<String, Value> = fields
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            request.header("accept", "application/json").json(&body)
        } else {
            request.form(&fields)
        };
        request.send().await.unwrap()
    }

    pub async fn whoami(&self, app: &TestApp) -> reqwest::Response {
        self.http
            .get(format!("{}/sessions/whoami", app.public))
            .send()
            .await
            .unwrap()
    }

    /// Logs in through a fresh flow and returns the JSON success body.
    pub async fn log_in(&self, app: &TestApp, email: &str) -> Value {
        let flow = self.start_login(app, "").await;
        let res = self
            .submit(
                &flow,
                &[("identifier", email), ("password", PASSWORD)],
                true,
            )
            .await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }
}

/// Name/value pairs of the flow's input nodes that carry a value (hidden CSRF token, submit).
pub fn form_fields(flow: &Value) -> Vec<(String, String)> {
    flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] == "input")
        .filter_map(|n| {
            let attributes = &n["attributes"];
            let value = attributes["value"].as_str()?;
            Some((attributes["name"].as_str()?.to_string(), value.to_string()))
        })
        .collect()
}

pub fn node<'a>(flow: &'a Value, name: &str) -> &'a Value {
    flow["ui"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["attributes"]["name"] == name)
        .unwrap()
}

impl TestApp {
    /// A person with the default schema and [`PASSWORD`].
    pub async fn create_person_with_password(&self, email: &str) -> Value {
        let res = self
            .create_identity(json!({
                "schema_id": "default",
                "traits": {"email": email, "name": {"first": "Ada", "last": "Lovelace"}},
                "credentials": {"password": {"config": {"password": PASSWORD}}}
            }))
            .await;
        assert_eq!(res.status(), 201, "creating {email}");
        res.json().await.unwrap()
    }
}
