//! The `refresh_token` grant: issuance (RT-01), rotation (RT-02), reuse detection (RT-03, TK-01),
//! client binding (RT-06), scope (RT-07), the grace period and concurrency. Restarts (RT-05) and
//! the end of a chain (RT-09) are in `lifecycle.rs`.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::{Auth, PUBLIC_REDIRECT, assert_oauth_error, redeem, token, userinfo};
use crate::browser::{REDIRECT, flow_app};
use crate::helpers::{TestApp, fresh_database, obtain_code, spawn_on};

pub const OFFLINE: &[(&str, Option<&str>)] = &[("scope", Some("openid offline_access email"))];

/// Walks the flow with `offline_access` and redeems the code: the token response.
pub async fn offline_tokens(app: &TestApp, id: &str, secret: &str) -> Value {
    let code = obtain_code(app, id, OFFLINE).await;
    let res = redeem(app, &Auth::Basic(id, secret), &code, REDIRECT).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

pub async fn refresh(app: &TestApp, auth: &Auth<'_>, rt: &str) -> reqwest::Response {
    token(
        app,
        auth,
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await
}

/// Admin introspection (no client authentication).
pub async fn introspect(app: &TestApp, token: &str) -> Value {
    let res = app
        .http
        .post(format!("{}/admin/oauth2/introspect", app.admin))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn claims(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn text<'a>(body: &'a Value, field: &str) -> &'a str {
    body[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field}: {body}"))
}

/// A public client (`none`, PKCE) allowed `offline_access` and the refresh_token grant, and its
/// first token response.
async fn public_offline_tokens(app: &TestApp) -> (String, Value) {
    let created: Value = app
        .create_client(json!({"redirect_uris": [PUBLIC_REDIRECT], "scope": "openid offline_access",
            "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none"}))
        .await
        .json()
        .await
        .unwrap();
    let id = text(&created, "client_id").to_string();
    let params = [
        ("redirect_uri", Some(PUBLIC_REDIRECT)),
        ("scope", Some("openid offline_access")),
    ];
    let code = obtain_code(app, &id, &params).await;
    let res = redeem(app, &Auth::Public(&id), &code, PUBLIC_REDIRECT).await;
    assert_eq!(res.status(), 200);
    (id, res.json().await.unwrap())
}

/// RT-01: a refresh token only with offline_access and the refresh_token grant; TK-14: the
/// opaque format `oly_rt_<key>.<signature>`. A public client gets one too, because every
/// refresh token rotates: once used, it is spent.
#[tokio::test]
async fn rt_01_refresh_tokens_need_offline_access_and_the_grant() {
    let app = flow_app().await;
    let (id, secret) = app.confidential_client().await;
    let code = obtain_code(&app, &id, &[("scope", Some("openid email"))]).await;
    let body: Value = redeem(&app, &Auth::Basic(&id, &secret), &code, REDIRECT)
        .await
        .json()
        .await
        .unwrap();
    assert!(body.get("refresh_token").is_none(), "{body}");
    let body = offline_tokens(&app, &id, &secret).await;
    let rt = text(&body, "refresh_token");
    let (key, sig) = rt.strip_prefix("oly_rt_").unwrap().split_once('.').unwrap();
    assert_eq!((key.len(), sig.len()), (43, 22), "{rt}");
    let at = text(&body, "access_token");
    assert!(at.starts_with("oly_at_") && at.contains('.'), "{at}");

    let created: Value = app
        .create_client(
            json!({"redirect_uris": [REDIRECT], "scope": "openid offline_access",
            "grant_types": ["authorization_code"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let (id, secret) = (text(&created, "client_id"), text(&created, "client_secret"));
    let code = obtain_code(&app, id, &[("scope", Some("openid offline_access"))]).await;
    let body: Value = redeem(&app, &Auth::Basic(id, secret), &code, REDIRECT)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        body.get("refresh_token").is_none(),
        "no refresh_token grant: {body}"
    );

    let (public, body) = public_offline_tokens(&app).await;
    let rt1 = text(&body, "refresh_token");
    let res = refresh(&app, &Auth::Public(&public), rt1).await;
    assert_eq!(res.status(), 200);
    assert_ne!(res.json::<Value>().await.unwrap()["refresh_token"], rt1);
    let again = refresh(&app, &Auth::Public(&public), rt1).await;
    assert_oauth_error(again, 400, "invalid_grant", &[rt1]).await;
}

/// RT-02, ID-01: rotation gives a new pair and a new ID token with the original auth_time and
/// no nonce; the used token is spent; the new one works.
#[tokio::test]
async fn rt_02_rotation_issues_a_new_pair_and_spends_the_old_token() {
    let app = flow_app().await;
    let (id, secret) = app.confidential_client().await;
    let auth = Auth::Basic(&id, &secret);
    let first = offline_tokens(&app, &id, &secret).await;
    let rt1 = text(&first, "refresh_token");
    let res = refresh(&app, &auth, rt1).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let second: Value = res.json().await.unwrap();
    let rt2 = text(&second, "refresh_token");
    assert_ne!(rt1, rt2);
    assert_ne!(text(&first, "access_token"), text(&second, "access_token"));
    assert_eq!(second["scope"], "openid offline_access email");
    assert_eq!(second["expires_in"], 3600);
    let (before, after) = (
        claims(text(&first, "id_token")),
        claims(text(&second, "id_token")),
    );
    assert_eq!(after["auth_time"], before["auth_time"]);
    assert_eq!(after["sid"], before["sid"]);
    assert_eq!(after["email"], "ada@example.com");
    assert!(after.get("nonce").is_none(), "{after}");
    assert_eq!(
        userinfo(&app, text(&second, "access_token")).await.status(),
        200
    );
    let again = refresh(&app, &auth, rt1).await;
    assert_oauth_error(again, 400, "invalid_grant", &[rt1, &secret]).await;
}

/// RT-03: replaying a used refresh token revokes the whole chain: the successor refresh token
/// and every access token of the grant.
#[tokio::test]
async fn rt_03_reuse_revokes_the_whole_chain() {
    let app = flow_app().await;
    let (id, secret) = app.confidential_client().await;
    let auth = Auth::Basic(&id, &secret);
    let first = offline_tokens(&app, &id, &secret).await;
    let rt1 = text(&first, "refresh_token");
    let second: Value = refresh(&app, &auth, rt1).await.json().await.unwrap();
    let (rt2, at2) = (
        text(&second, "refresh_token"),
        text(&second, "access_token"),
    );
    assert_eq!(introspect(&app, at2).await["active"], true);

    let replay = refresh(&app, &auth, rt1).await;
    let body = assert_oauth_error(replay, 400, "invalid_grant", &[rt1]).await;
    assert!(text(&body, "error_description").contains("already used"));
    assert_oauth_error(refresh(&app, &auth, rt2).await, 400, "invalid_grant", &[]).await;
    assert_eq!(userinfo(&app, at2).await.status(), 401);
    assert_eq!(introspect(&app, at2).await, json!({"active": false}));
    assert_eq!(
        introspect(&app, text(&first, "access_token")).await,
        json!({"active": false})
    );
    assert_eq!(introspect(&app, rt2).await, json!({"active": false}));
}

/// TK-01: a replayed authorization code revokes the refresh token it issued too.
#[tokio::test]
async fn tk_01_code_replay_revokes_the_refresh_token() {
    let app = flow_app().await;
    let (id, secret) = app.confidential_client().await;
    let auth = Auth::Basic(&id, &secret);
    let code = obtain_code(&app, &id, OFFLINE).await;
    let body: Value = redeem(&app, &auth, &code, REDIRECT)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(redeem(&app, &auth, &code, REDIRECT).await.status(), 400);
    let res = refresh(&app, &auth, text(&body, "refresh_token")).await;
    assert_oauth_error(res, 400, "invalid_grant", &[]).await;
}

/// RT-06: another client's credentials are `invalid_grant` and do not spend the token; no
/// authentication is `invalid_client`; a public client's token presented by a confidential
/// client is `invalid_grant`; the owners can still refresh afterwards. Forged tokens are
/// `invalid_grant` (checked before any lookup).
#[tokio::test]
async fn rt_06_refresh_tokens_are_bound_to_their_client() {
    let app = flow_app().await;
    let (id, secret) = app.confidential_client().await;
    let (other, other_secret) = app.confidential_client().await;
    let rt = text(&offline_tokens(&app, &id, &secret).await, "refresh_token").to_string();
    let stolen = refresh(&app, &Auth::Basic(&other, &other_secret), &rt).await;
    assert_oauth_error(stolen, 400, "invalid_grant", &[&rt]).await;
    let anonymous = refresh(&app, &Auth::Public(&id), &rt).await;
    assert_oauth_error(anonymous, 401, "invalid_client", &[&rt]).await;
    let mut forged = rt.clone();
    forged.pop();
    forged.push(if rt.ends_with('A') { 'B' } else { 'A' });
    let auth = Auth::Basic(&id, &secret);
    for bad in [forged.as_str(), "oly_rt_garbage", "nonsense"] {
        assert_oauth_error(
            refresh(&app, &auth, bad).await,
            400,
            "invalid_grant",
            &[bad],
        )
        .await;
    }
    assert_eq!(refresh(&app, &auth, &rt).await.status(), 200);

    let (public, body) = public_offline_tokens(&app).await;
    let public_rt = text(&body, "refresh_token");
    let res = refresh(&app, &Auth::Basic(&id, &secret), public_rt).await;
    assert_oauth_error(res, 400, "invalid_grant", &[public_rt]).await;
    let res = refresh(&app, &Auth::Public(&id), public_rt).await;
    assert_oauth_error(res, 401, "invalid_client", &[public_rt]).await;
    let res = refresh(&app, &Auth::Public(&public), public_rt).await;
    assert_eq!(res.status(), 200, "still the owner's");
}

/// RT-07: a narrower scope gives a narrower access token (and no ID token without openid); a
/// wider one is `invalid_scope` and does not spend the token.
#[tokio::test]
async fn rt_07_scope_may_narrow_but_never_widen() {
    let app = flow_app().await;
    let (id, secret) = app.confidential_client().await;
    let auth = Auth::Basic(&id, &secret);
    let rt = text(&offline_tokens(&app, &id, &secret).await, "refresh_token").to_string();
    let wider = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
        ("scope", "openid profile"),
    ];
    assert_oauth_error(token(&app, &auth, &wider).await, 400, "invalid_scope", &[]).await;
    let narrower = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
        ("scope", "email"),
    ];
    let res = token(&app, &auth, &narrower).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["scope"], "email");
    assert!(body.get("id_token").is_none(), "{body}");
    assert_eq!(
        introspect(&app, text(&body, "access_token")).await["scope"],
        "email"
    );
    let next: Value = refresh(&app, &auth, text(&body, "refresh_token"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        next["scope"], "openid offline_access email",
        "the refresh token keeps the chain's scope (RFC 6749 §6)"
    );
}

/// The grace period: one retry of the just-used token gets a new pair of the same chain and
/// revokes nothing; a second retry is a replay and revokes the chain; after the period the
/// first reuse already is.
#[tokio::test]
async fn token_rt_grace_period_tolerates_one_retry() {
    let app = spawn_on(fresh_database(), |s| {
        s.dev = true;
        s.oauth2.grant.refresh_token.rotation_grace_period = Duration::from_secs(30);
    })
    .await;
    let (id, secret) = app.confidential_client().await;
    let auth = Auth::Basic(&id, &secret);
    let rt1 = text(&offline_tokens(&app, &id, &secret).await, "refresh_token").to_string();
    let second: Value = refresh(&app, &auth, &rt1).await.json().await.unwrap();
    let retry = refresh(&app, &auth, &rt1).await;
    assert_eq!(retry.status(), 200, "the retry within the grace period");
    let third: Value = retry.json().await.unwrap();
    assert_ne!(third["refresh_token"], second["refresh_token"]);
    assert_eq!(
        introspect(&app, text(&second, "access_token")).await["active"],
        true
    );
    assert_eq!(
        introspect(&app, text(&third, "refresh_token")).await["active"],
        true
    );

    assert_oauth_error(refresh(&app, &auth, &rt1).await, 400, "invalid_grant", &[]).await;
    assert_eq!(
        introspect(&app, text(&third, "access_token")).await,
        json!({"active": false})
    );
    let res = refresh(&app, &auth, text(&second, "refresh_token")).await;
    assert_oauth_error(res, 400, "invalid_grant", &[]).await;

    let rt = text(&offline_tokens(&app, &id, &secret).await, "refresh_token").to_string();
    let next: Value = refresh(&app, &auth, &rt).await.json().await.unwrap();
    app.clock.advance(Duration::from_secs(31));
    assert_oauth_error(refresh(&app, &auth, &rt).await, 400, "invalid_grant", &[]).await;
    let res = refresh(&app, &auth, text(&next, "refresh_token")).await;
    assert_oauth_error(res, 400, "invalid_grant", &[]).await;
}

/// 16 parallel refreshes of one token: exactly one 200, the others `invalid_grant`, never a
/// 5xx. The losers count as replays (design), so the chain ends up revoked. Runs on PostgreSQL
/// when OLYMPUS_TEST_POSTGRES is set.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_rt_concurrent_refreshes_have_exactly_one_winner() {
    let app = Arc::new(flow_app().await);
    let (id, secret) = app.confidential_client().await;
    let rt = text(&offline_tokens(&app, &id, &secret).await, "refresh_token").to_string();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (app, id, secret, rt) = (app.clone(), id.clone(), secret.clone(), rt.clone());
            tokio::spawn(async move {
                let res = refresh(&app, &Auth::Basic(&id, &secret), &rt).await;
                (res.status().as_u16(), res.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            (200, body) => winners.push(body),
            (400, body) => assert_eq!(body["error"], "invalid_grant", "{body}"),
            (status, body) => panic!("unexpected {status}: {body}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let res = refresh(
        &app,
        &Auth::Basic(&id, &secret),
        text(&winners[0], "refresh_token"),
    )
    .await;
    assert_oauth_error(res, 400, "invalid_grant", &[]).await;
}
