//! Brute-force protection of password sign-in (security.md IF-01, IF-02, IF-05): counts in the
//! database per identifier and per client address, a lockout answer that says nothing about
//! whether an account exists and costs no password hash, admin unlock, expiry on the test clock,
//! replicas sharing the counts, and `X-Forwarded-For` believed only from trusted proxies.
//!
//! Decision (IF-05 asks that the answer not reveal the lock state): a locked identifier gets a
//! clear message (4000900, "try again in N minutes") so that a person knows to wait or recover
//! the account; it is given for unknown identifiers exactly as for known ones, never tells
//! whether the password was right, and is a 400 flow like every other failed sign-in (Kratos'
//! SDKs read a flow only from a 400).

mod addresses;
mod lockout;
mod storage;

use std::time::Duration;

use serde_json::Value;

use crate::browser::{Browser, form_fields};
use crate::helpers::{TestApp, fresh_database, spawn_on};

const INVALID: i64 = 4000006;
const LOCKED: i64 = 4000900;
const MINUTE: Duration = Duration::from_secs(60);

/// At most 3 failures per identifier and `per_address` per address in 15 minutes, then 5
/// minutes' lockout.
async fn app(per_address: u32, tune: impl FnOnce(&mut identity_svc::Settings)) -> TestApp {
    spawn_on(fresh_database(), |s| {
        s.dev = true;
        let brute_force = &mut s.selfservice.flows.login.brute_force;
        brute_force.max_failures_per_identifier = 3;
        brute_force.max_failures_per_address = per_address;
        brute_force.lockout = 5 * MINUTE;
        tune(s);
    })
    .await
}

/// Where a test signs in: an app, or a replica of it.
trait Service {
    fn public(&self) -> &str;
    fn admin(&self) -> &str;
}

impl Service for TestApp {
    fn public(&self) -> &str {
        &self.public
    }
    fn admin(&self) -> &str {
        &self.admin
    }
}

/// One sign-in through a fresh JSON browser flow, with extra request headers; the status and
/// the body.
async fn sign_in_with(
    app: &impl Service,
    identifier: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let browser = Browser::new();
    let flow: Value = browser
        .http
        .get(format!("{}/self-service/login/browser", app.public()))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut fields: serde_json::Map<String, Value> = form_fields(&flow)
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    fields.insert("identifier".into(), identifier.into());
    fields.insert("password".into(), password.into());
    let mut request = browser
        .http
        .post(flow["ui"]["action"].as_str().unwrap())
        .header("accept", "application/json")
        .json(&fields);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let res = request.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

async fn sign_in(app: &impl Service, identifier: &str, password: &str) -> (u16, Value) {
    sign_in_with(app, identifier, password, &[]).await
}

/// The id of the form message of a refused sign-in (asserting it was refused).
fn refusal((status, body): &(u16, Value)) -> i64 {
    assert_eq!(*status, 400, "{body}");
    body["ui"]["messages"][0]["id"].as_i64().unwrap()
}

async fn fail(app: &impl Service, identifier: &str, times: usize) {
    for _ in 0..times {
        assert_eq!(
            refusal(&sign_in(app, identifier, "not the password").await),
            INVALID
        );
    }
}

/// Argon2 computations so far (`olympus_password_hashes_total` on the admin `/metrics`).
async fn hashes(app: &TestApp) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find(|l| l.starts_with("olympus_password_hashes_total{"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .expect("password_hashes_total is exported")
}

async fn admin_delete(app: &impl Service, path: &str) -> u16 {
    reqwest::Client::new()
        .delete(format!("{}{path}", app.admin()))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}
