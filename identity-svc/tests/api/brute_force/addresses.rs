//! Which client address a guess counts against (`X-Forwarded-For` only from trusted proxies),
//! and API flows counted like browser ones.

use super::{INVALID, LOCKED, app, refusal, sign_in, sign_in_with};
use crate::browser::PASSWORD;
use crate::flows::api_login;

#[tokio::test]
async fn if_05_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
    // No trusted proxy: every request counts against the peer, whatever it claims.
    let app = app(3, |s| {
        s.selfservice
            .flows
            .login
            .brute_force
            .max_failures_per_identifier = 100;
    })
    .await;
    for i in 0..3 {
        let spoofed = format!("198.51.100.{i}");
        let answer = sign_in_with(
            &app,
            "ada@example.com",
            "x",
            &[("x-forwarded-for", &spoofed)],
        )
        .await;
        assert_eq!(refusal(&answer), INVALID);
    }
    let answer = sign_in_with(
        &app,
        "bob@example.com",
        "x",
        &[("x-forwarded-for", "198.51.100.9")],
    )
    .await;
    assert_eq!(refusal(&answer), LOCKED);
}

#[tokio::test]
async fn if_05_a_trusted_proxy_names_the_client_in_forwarded_for() {
    let app = app(3, |s| {
        let brute_force = &mut s.selfservice.flows.login.brute_force;
        brute_force.max_failures_per_identifier = 100;
        brute_force.trusted_proxies = vec!["127.0.0.0/8".into()];
    })
    .await;
    let from = |client: &'static str| [("x-forwarded-for", client)];
    for _ in 0..3 {
        let answer = sign_in_with(&app, "ada@example.com", "x", &from("203.0.113.7")).await;
        assert_eq!(refusal(&answer), INVALID);
    }
    let answer = sign_in_with(&app, "bob@example.com", "x", &from("203.0.113.7")).await;
    assert_eq!(
        refusal(&answer),
        LOCKED,
        "the client at 203.0.113.7 is locked"
    );
    // A client cannot escape by prepending addresses: the proxy appends the one it saw.
    let answer = sign_in_with(
        &app,
        "bob@example.com",
        "x",
        &from("192.0.2.1, 203.0.113.7"),
    )
    .await;
    assert_eq!(refusal(&answer), LOCKED);
    let answer = sign_in_with(&app, "bob@example.com", "x", &from("203.0.113.8")).await;
    assert_eq!(refusal(&answer), INVALID, "another client is not");
    // Without the header, the proxy itself is the client.
    assert_eq!(
        refusal(&sign_in(&app, "bob@example.com", "x").await),
        INVALID
    );
}

/// IF-05: guesses for one account from many addresses still lock it.
#[tokio::test]
async fn if_05_an_identifier_is_locked_whatever_addresses_the_guesses_come_from() {
    let app = app(100, |s| {
        s.selfservice.flows.login.brute_force.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    app.create_person_with_password("ada@example.com").await;
    for client in ["192.0.2.1", "192.0.2.2", "2001:db8::1"] {
        let headers = [("x-forwarded-for", client)];
        let answer = sign_in_with(&app, "ada@example.com", "x", &headers).await;
        assert_eq!(refusal(&answer), INVALID, "{client}");
    }
    let headers = [("x-forwarded-for", "198.51.100.1")];
    let answer = sign_in_with(&app, "ada@example.com", PASSWORD, &headers).await;
    assert_eq!(refusal(&answer), LOCKED);
}

#[tokio::test]
async fn if_05_api_flows_are_locked_the_same_way() {
    let app = app(100, |_| {}).await;
    app.create_person_with_password("ada@example.com").await;
    let mut answers = Vec::new();
    for password in ["not it", "not it", "not it", PASSWORD] {
        let res = api_login(&app, "ada@example.com", password).await;
        let status = res.status().as_u16();
        answers.push(refusal(&(status, res.json().await.unwrap())));
    }
    assert_eq!(answers, [INVALID, INVALID, INVALID, LOCKED]);
}
