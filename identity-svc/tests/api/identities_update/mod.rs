//! `PUT` and `PATCH /admin/identities/{id}` (Kratos' updateIdentity and patchIdentity): traits,
//! state, metadata, address verification, deactivation, bad input, concurrent changes, and the
//! list filters.

mod deactivation;
mod patch;
mod put;

use serde_json::Value;

use crate::browser::Browser;
use crate::helpers::TestApp;

impl TestApp {
    pub async fn put_identity(&self, id: &str, body: Value) -> reqwest::Response {
        self.http
            .put(format!("{}/admin/identities/{id}", self.admin))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch_identity(&self, id: &str, body: Value) -> reqwest::Response {
        self.http
            .patch(format!("{}/admin/identities/{id}", self.admin))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn identity(&self, id: &str) -> Value {
        let res = self.get(&format!("/admin/identities/{id}")).await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }
}

fn id_of(identity: &Value) -> String {
    identity["id"].as_str().unwrap().to_string()
}

/// Signs in through a fresh browser flow as JSON and answers the response.
async fn try_login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    let browser = Browser::new();
    let flow = browser.start_login(app, "").await;
    browser
        .submit(
            &flow,
            &[("identifier", email), ("password", password)],
            true,
        )
        .await
}
