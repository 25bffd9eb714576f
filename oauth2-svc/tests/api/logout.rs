//! RP-initiated logout, the logout challenge table, front- and back-channel logout, and the
//! login-session admin API (security.md LC-01, LC-02, LC-03, LC-05 for logout; ID-07 at logout).

use serde_json::{Value, json};

use crate::browser::{browser, flow_app, follow, location, query_param};
use crate::handoff::{client_with, receiver, sign_in_remembering, tokens, verify_with_jwks};
use crate::helpers::{ERROR_UI, TestApp};

const BYE: &str = "https://rp.test/bye";
const LOGOUT_UI: &str = "https://ui.test/logout";

/// A client with a registered post-logout URI (plus `extra`), a browser signed in as `user-1`
/// with login and consent remembered, and that browser's ID token.
async fn signed_in(app: &TestApp, extra: Value) -> (String, reqwest::Client, String) {
    let mut metadata = json!({"post_logout_redirect_uris": [BYE]});
    metadata
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let (client_id, secret) = client_with(app, metadata).await;
    let b = browser();
    let done =
        sign_in_remembering(app, &b, &app.authorize_url(&client_id, &[]), "user-1", true).await;
    let id_token = tokens(app, &client_id, &secret, &done).await["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    (client_id, b, id_token)
}

fn logout_url(app: &TestApp, params: &[(&str, &str)]) -> String {
    reqwest::Url::parse_with_params(&format!("{}/oauth2/sessions/logout", app.public), params)
        .unwrap()
        .into()
}

async fn logout_admin(app: &TestApp, action: &str, challenge: &str) -> reqwest::Response {
    let path = if action.is_empty() {
        String::new()
    } else {
        format!("/{action}")
    };
    let url = format!(
        "{}/admin/oauth2/auth/requests/logout{path}?logout_challenge={challenge}",
        app.admin
    );
    if action.is_empty() {
        app.http.get(url).send().await.unwrap()
    } else {
        app.http.put(url).json(&json!({})).send().await.unwrap()
    }
}

/// LC-01, LC-02, LC-03: the logout challenge follows the challenge table; the verifier works
/// once, in the browser that started, and ends the login session.
#[tokio::test]
async fn lc_logout_challenge_table_and_single_use_verifier() {
    let app = flow_app().await;
    let (client_id, b, id_token) = signed_in(&app, json!({})).await;
    let url = logout_url(
        &app,
        &[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", BYE),
            ("state", "s-1"),
        ],
    );
    let to_ui = follow(&b, &url).await;
    assert!(to_ui.starts_with(LOGOUT_UI), "{to_ui}");
    let challenge = query_param(&to_ui, "logout_challenge").unwrap();
    assert_eq!(logout_admin(&app, "", "oly_ch_unknown").await.status(), 404);
    let request: Value = logout_admin(&app, "", &challenge)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(request["subject"], "user-1");
    assert_eq!(request["rp_initiated"], true);
    assert_eq!(request["client"]["client_id"], client_id.as_str());
    assert!(request["sid"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(request["request_url"], url.as_str());
    let accepted = logout_admin(&app, "accept", &challenge).await;
    assert_eq!(accepted.status(), 200);
    let redirect_to = accepted.json::<Value>().await.unwrap()["redirect_to"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(redirect_to.starts_with(&format!(
        "{}/oauth2/sessions/logout?logout_verifier=",
        app.public
    )));
    for action in ["accept", "reject", ""] {
        let again = logout_admin(&app, action, &challenge).await;
        assert_eq!(again.status(), 410, "{action}");
        assert_eq!(
            again.json::<Value>().await.unwrap()["redirect_to"],
            url.as_str()
        );
    }
    let stranger = browser().get(&redirect_to).send().await.unwrap();
    assert_eq!(stranger.status(), 403, "another browser");
    let done = b.get(&redirect_to).send().await.unwrap();
    let cleared = done.headers().get_all("set-cookie").iter().any(|c| {
        let c = c.to_str().unwrap();
        c.starts_with("olympus_oauth2_session=;") && c.contains("Max-Age=0")
    });
    assert!(cleared, "the remember cookie is cleared");
    assert_eq!(location(&done), format!("{BYE}?state=s-1"));
    let replay = follow(&b, &redirect_to).await;
    assert!(replay.starts_with(ERROR_UI), "{replay}");
    // The login session is gone: a silent request now needs a login.
    let silent = follow(
        &b,
        &app.authorize_url(&client_id, &[("prompt", Some("none"))]),
    )
    .await;
    assert_eq!(
        query_param(&silent, "error").as_deref(),
        Some("login_required")
    );
}

/// LC-05 and reject: an expired logout challenge is 410 with the way back; a rejection is 204
/// and keeps the session.
#[tokio::test]
async fn lc_logout_challenges_expire_and_can_be_rejected() {
    let app = flow_app().await;
    let (client_id, b, id_token) = signed_in(&app, json!({})).await;
    let url = logout_url(&app, &[("id_token_hint", &id_token)]);
    let rejected = query_param(&follow(&b, &url).await, "logout_challenge").unwrap();
    let expiring = query_param(&follow(&b, &url).await, "logout_challenge").unwrap();
    let res = logout_admin(&app, "reject", &rejected).await;
    assert_eq!(res.status(), 204);
    assert_eq!(logout_admin(&app, "", &rejected).await.status(), 410);
    app.clock.advance(std::time::Duration::from_secs(31 * 60));
    let gone = logout_admin(&app, "accept", &expiring).await;
    assert_eq!(gone.status(), 410);
    assert_eq!(
        gone.json::<Value>().await.unwrap()["redirect_to"],
        url.as_str()
    );
    // Still signed in (the remembered login outlives the challenge TTL).
    let login = follow(&b, &app.authorize_url(&client_id, &[])).await;
    let challenge = query_param(&login, "login_challenge").unwrap();
    let request: Value = app
        .admin_get("login", &challenge)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(request["skip"], true);
}

/// ID-07 and RP-initiated logout rules: state or post_logout_redirect_uri need a hint; the URI
/// must be registered exactly; tampered, `alg: none`, HS256-with-the-public-key and foreign
/// issuers' hints are refused, as is a hint for another client than `client_id`; with no
/// session the browser goes straight on. An expired but otherwise valid hint still signs out
/// (logging out with an old ID token is the common case): recorded as accepted.
#[tokio::test]
async fn id_07_logout_rejects_bad_hints_and_unregistered_uris() {
    let app = flow_app().await;
    let (client_id, b, id_token) = signed_in(&app, json!({})).await;
    let (other, _, other_hint) = signed_in(&app, json!({})).await;
    let elsewhere = flow_app().await;
    let (_, _, foreign) = signed_in(&elsewhere, json!({})).await;
    let mut forged = crate::id_token_hints::forged_hints(&app, &id_token).await;
    forged.push(("another issuer's", foreign));
    for (what, hint) in &forged {
        let to = follow(&b, &logout_url(&app, &[("id_token_hint", hint)])).await;
        assert!(to.starts_with(ERROR_UI), "{what}: {to}");
    }
    let to = follow(
        &b,
        &logout_url(
            &app,
            &[("id_token_hint", &other_hint), ("client_id", &client_id)],
        ),
    )
    .await;
    assert!(to.starts_with(ERROR_UI), "another client's hint: {to}");
    assert_ne!(other, client_id);
    let mut parts: Vec<String> = id_token.split('.').map(str::to_string).collect();
    parts[2] = parts[2].chars().rev().collect();
    let tampered = parts.join(".");
    for params in [
        vec![("state", "s")],
        vec![("post_logout_redirect_uri", BYE)],
        vec![("id_token_hint", tampered.as_str())],
        vec![
            ("id_token_hint", id_token.as_str()),
            ("post_logout_redirect_uri", "https://evil.test/bye"),
        ],
        vec![
            ("id_token_hint", id_token.as_str()),
            ("post_logout_redirect_uri", "https://rp.test/bye?x=1"),
        ],
    ] {
        let to = follow(&b, &logout_url(&app, &params)).await;
        assert!(to.starts_with(ERROR_UI), "{params:?}: {to}");
        assert!(!to.contains("evil.test"));
    }
    // Without any session the browser is sent on at once.
    let to = follow(&browser(), &logout_url(&app, &[])).await;
    assert_eq!(
        to,
        format!("{}/oauth2/fallbacks/logout/callback", app.public)
    );
    // A POSTed logout works like a GET.
    let res = b
        .post(format!("{}/oauth2/sessions/logout", app.public))
        .form(&[("id_token_hint", id_token.as_str())])
        .send()
        .await
        .unwrap();
    assert!(location(&res).starts_with(LOGOUT_UI));
    // An expired hint, with its own client_id, still leads to the logout UI.
    app.clock.advance(std::time::Duration::from_secs(7200));
    let expired = [
        ("id_token_hint", id_token.as_str()),
        ("client_id", &client_id),
    ];
    let to = follow(&b, &logout_url(&app, &expired)).await;
    assert!(to.starts_with(LOGOUT_UI), "{to}");
}

/// Back-channel and front-channel logout: a signed logout_token (verified with the JWKS) reaches
/// the client's receiver; the browser gets a page with the front-channel iframe.
#[tokio::test]
async fn logout_notifies_clients_on_both_channels() {
    let app = flow_app().await;
    let rp = receiver(200).await;
    let extra =
        json!({"backchannel_logout_uri": rp.url, "frontchannel_logout_uri": "https://rp.test/fc"});
    let (client_id, b, id_token) = signed_in(&app, extra).await;
    let sid = verify_with_jwks(&app, &id_token).await["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let to_ui = follow(&b, &logout_url(&app, &[("id_token_hint", &id_token)])).await;
    let challenge = query_param(&to_ui, "logout_challenge").unwrap();
    let accepted: Value = logout_admin(&app, "accept", &challenge)
        .await
        .json()
        .await
        .unwrap();
    let res = b
        .get(accepted["redirect_to"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("frame-src https://rp.test"), "{csp}");
    let html = res.text().await.unwrap();
    let iss = url::form_urlencoded::byte_serialize(app.public.as_bytes()).collect::<String>();
    assert!(
        html.contains(&format!("https://rp.test/fc?iss={iss}&amp;sid={sid}")),
        "{html}"
    );
    assert!(html.contains("/oauth2/fallbacks/logout/callback"));
    let bodies = rp.wait_for(1).await;
    assert_eq!(bodies.len(), 1);
    let token: String = url::form_urlencoded::parse(bodies[0].as_bytes())
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned())
        .expect("a logout_token");
    let claims = verify_with_jwks(&app, &token).await;
    assert_eq!(claims["iss"], app.public.as_str());
    assert_eq!(claims["aud"], json!([client_id]));
    assert_eq!(claims["sid"], sid.as_str());
    assert_eq!(
        claims["events"],
        json!({"http://schemas.openid.net/event/backchannel-logout": {}})
    );
    assert!(claims["jti"].is_string() && claims["iat"].is_number());
    assert!(claims.get("nonce").is_none());
}

/// Back-channel failures are retried a bounded number of times and counted in /metrics; the
/// admin DELETE of a login session by sid triggers back-channel logout, by subject does not.
#[tokio::test]
async fn logout_backchannel_failures_are_retried_and_counted() {
    let app = flow_app().await;
    let failing = receiver(500).await;
    let (_, _, id_token) = signed_in(&app, json!({"backchannel_logout_uri": failing.url})).await;
    let sid = verify_with_jwks(&app, &id_token).await["sid"]
        .as_str()
        .unwrap()
        .to_string();
    let delete = |query: String| {
        let url = format!("{}/admin/oauth2/auth/sessions/login?{query}", app.admin);
        app.http.delete(url).send()
    };
    assert_eq!(delete(String::new()).await.unwrap().status(), 400);
    assert_eq!(
        delete("subject=a&sid=b".into()).await.unwrap().status(),
        400
    );
    assert_eq!(delete(format!("sid={sid}")).await.unwrap().status(), 204);
    let attempts = failing.wait_for(3).await;
    assert_eq!(attempts.len(), 3, "three attempts");
    let mut counted = false;
    for _ in 0..100 {
        let metrics = app
            .http
            .get(format!("{}/metrics", app.admin))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        counted = metrics.lines().any(|l| {
            l.starts_with("olympus_oauth2_backchannel_logout_failures_total") && l.ends_with(" 1")
        });
        if counted {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(counted, "the failure is counted");
    assert_eq!(
        failing.wait_for(4).await.len(),
        3,
        "no more than three attempts"
    );
}
