//! How a token chain ends, and that it stays ended: reuse detection across a restart and across
//! replicas (RT-05), the end of a refresh token by lifetime, consent revocation and logout
//! (RT-09), `DELETE /admin/oauth2/tokens`, and a revocation that cannot reach storage (IR-07).

use std::time::Duration;

use diesel::connection::SimpleConnection;
use oauth2_svc::Settings;
use serde_json::{Value, json};
use service_kit::db::{Backend, Db, DbError, Dsn};
use service_kit::server::{Listeners, StopHandle};
use service_kit::settings::SecretList;

use super::refresh::{introspect, offline_tokens, refresh};
use super::revocation::{credentials, machine_client};
use super::{Auth, assert_oauth_error, basic};
use crate::browser::{browser, flow_app, follow, query_param};
use crate::handoff::{client_with, sign_in_remembering, tokens};
use crate::helpers::{self, fresh_database, random_secret, spawn_on};

fn text<'a>(body: &'a Value, field: &str) -> &'a str {
    body[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field}: {body}"))
}

/// Settings of one deployment: dev mode and the same secrets for every instance.
fn deployment(system: &SecretList, cookie: &SecretList) -> impl FnOnce(&mut Settings) {
    let (system, cookie) = (system.clone(), cookie.clone());
    move |s| {
        s.dev = true;
        s.secrets.system = system;
        s.secrets.cookie = cookie;
    }
}

/// A second instance (replica) of the deployment on the database at `dsn`: its public URL.
async fn replica(dsn: &str, tune: impl FnOnce(&mut Settings)) -> (String, StopHandle) {
    let listeners = Listeners::ephemeral().unwrap();
    let public = format!(
        "http://127.0.0.1:{}",
        listeners.public.local_addr().unwrap().port()
    );
    let mut settings = Settings {
        dsn: dsn.to_string(),
        ..helpers::settings_for(&public)
    };
    tune(&mut settings);
    let app = oauth2_svc::build(settings, Some(listeners)).await.unwrap();
    let stop = app.handle();
    tokio::spawn(app.run_until_stopped());
    (public, stop)
}

/// RT-05: a rotated refresh token replayed after a restart, or at another replica, is
/// `invalid_grant` and revokes its family: nothing of the detection lived in memory.
#[tokio::test]
async fn rt_05_reuse_detection_survives_a_restart_and_a_fail_over() {
    let (system, cookie) = (random_secret(), random_secret());
    let app = spawn_on(fresh_database(), deployment(&system, &cookie)).await;
    let (id, secret) = app.confidential_client().await;
    let auth = Auth::Basic(&id, &secret);
    let first = offline_tokens(&app, &id, &secret).await;
    let rt1 = text(&first, "refresh_token");
    let second: Value = refresh(&app, &auth, rt1).await.json().await.unwrap();
    app.stop.stop(true).await;

    let app = spawn_on(app.db, deployment(&system, &cookie)).await;
    let replay = refresh(&app, &auth, rt1).await;
    assert_oauth_error(replay, 400, "invalid_grant", &[rt1]).await;
    let rt2 = text(&second, "refresh_token");
    assert_oauth_error(refresh(&app, &auth, rt2).await, 400, "invalid_grant", &[]).await;
    let inactive = json!({"active": false});
    assert_eq!(
        introspect(&app, text(&second, "access_token")).await,
        inactive
    );
    assert_eq!(introspect(&app, rt2).await, inactive);

    // Fail-over: rotated at one replica, replayed at another.
    let third = offline_tokens(&app, &id, &secret).await;
    let rt3 = text(&third, "refresh_token");
    let fourth: Value = refresh(&app, &auth, rt3).await.json().await.unwrap();
    let (other, stop_other) = replica(&app.db.dsn, deployment(&system, &cookie)).await;
    let replay = app
        .http
        .post(format!("{other}/oauth2/token"))
        .header("authorization", basic(&id, &secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", rt3)])
        .send()
        .await
        .unwrap();
    assert_oauth_error(replay, 400, "invalid_grant", &[rt3]).await;
    let rt4 = text(&fourth, "refresh_token");
    assert_oauth_error(refresh(&app, &auth, rt4).await, 400, "invalid_grant", &[]).await;
    assert_eq!(
        introspect(&app, text(&fourth, "access_token")).await,
        inactive
    );
    stop_other.stop(true).await;
}

/// RT-09 (a), (d), (e): a refresh token is `invalid_grant` past its lifetime ("The refresh
/// token expired.", rotated or not) and once the user's consent is revoked. RP-initiated
/// logout: a grant without `offline_access` never had a refresh token (RT-01), so none
/// outlives the session; an offline one is not revoked by logout (OIDC Back-Channel Logout
/// §2.7). (b) and (c) are identity-svc's (identity deleted or disabled, password reset).
#[tokio::test]
async fn rt_09_refresh_ends_with_lifetime_consent_revocation_and_logout() {
    let app = flow_app().await;
    let bye = "https://rp.test/bye";
    let (id, secret) = client_with(&app, json!({"post_logout_redirect_uris": [bye]})).await;
    let auth = Auth::Basic(&id, &secret);

    // (a) Lifetime (ttl.refresh_token, 720 h): a fresh token and a rotated one.
    let fresh = text(&offline_tokens(&app, &id, &secret).await, "refresh_token").to_string();
    let rotated = text(&offline_tokens(&app, &id, &secret).await, "refresh_token").to_string();
    let rotated: Value = refresh(&app, &auth, &rotated).await.json().await.unwrap();
    app.clock.advance(Duration::from_secs(721 * 3600));
    for rt in [fresh.as_str(), text(&rotated, "refresh_token")] {
        let body =
            assert_oauth_error(refresh(&app, &auth, rt).await, 400, "invalid_grant", &[rt]).await;
        assert_eq!(body["error_description"], "The refresh token expired.");
    }

    // (d) The user revokes the consent: the chain's tokens are dead.
    let tokens_d = offline_tokens(&app, &id, &secret).await;
    let res = app
        .http
        .delete(format!(
            "{}/admin/oauth2/auth/sessions/consent?subject=user-1&client={id}",
            app.admin
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let rt = text(&tokens_d, "refresh_token");
    assert_oauth_error(refresh(&app, &auth, rt).await, 400, "invalid_grant", &[rt]).await;
    let at = text(&tokens_d, "access_token");
    assert_eq!(introspect(&app, at).await, json!({"active": false}));

    // (e) RP-initiated logout of a session with an online and an offline grant.
    let b = browser();
    let offline_url = app.authorize_url(&id, &[("scope", Some("openid offline_access email"))]);
    let done = sign_in_remembering(&app, &b, &offline_url, "user-1", false).await;
    let offline = tokens(&app, &id, &secret, &done).await;
    let done = sign_in_remembering(&app, &b, &app.authorize_url(&id, &[]), "user-1", false).await;
    let online = tokens(&app, &id, &secret, &done).await;
    assert!(online.get("refresh_token").is_none(), "{online}");
    let logout = reqwest::Url::parse_with_params(
        &format!("{}/oauth2/sessions/logout", app.public),
        &[
            ("id_token_hint", text(&online, "id_token")),
            ("post_logout_redirect_uri", bye),
        ],
    )
    .unwrap();
    let challenge = query_param(&follow(&b, logout.as_str()).await, "logout_challenge").unwrap();
    let accepted: Value = app
        .http
        .put(format!(
            "{}/admin/oauth2/auth/requests/logout/accept?logout_challenge={challenge}",
            app.admin
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(follow(&b, text(&accepted, "redirect_to")).await, bye);
    let silent = follow(&b, &app.authorize_url(&id, &[("prompt", Some("none"))])).await;
    assert_eq!(
        query_param(&silent, "error").as_deref(),
        Some("login_required")
    );
    let res = refresh(&app, &auth, text(&offline, "refresh_token")).await;
    assert_eq!(
        res.status(),
        200,
        "offline access outlives the login session"
    );
}

/// `DELETE /admin/oauth2/tokens?client_id=` revokes every token of the client (204) and only
/// that client's; without client_id it is 400.
#[tokio::test]
async fn token_delete_all_tokens_of_a_client() {
    let app = flow_app().await;
    let (id, secret) = app.confidential_client().await;
    let (other, other_secret) = machine_client(&app, json!({})).await;
    let tokens = offline_tokens(&app, &id, &secret).await;
    let kept: Value = credentials(&app, &other, &other_secret, &[])
        .await
        .json()
        .await
        .unwrap();
    let url = format!("{}/admin/oauth2/tokens", app.admin);
    let res = app
        .http
        .delete(format!("{url}?client_id={id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    for field in ["access_token", "refresh_token"] {
        assert_eq!(
            introspect(&app, text(&tokens, field)).await,
            json!({"active": false})
        );
    }
    assert_eq!(
        introspect(&app, text(&kept, "access_token")).await["active"],
        true
    );
    let res = app.http.delete(&url).send().await.unwrap();
    assert_oauth_error(res, 400, "invalid_request", &[]).await;
}

/// SQL that makes every write the revocation needs fail, as a read-only or failing database
/// would; and the SQL that undoes it.
fn failing_storage(backend: Backend) -> (&'static str, &'static str) {
    match backend {
        Backend::Sqlite => (
            "CREATE TRIGGER olympus_fail_rt BEFORE UPDATE ON oauth2_refresh_tokens \
               BEGIN SELECT RAISE(ABORT, 'attempt to write a readonly database'); END; \
             CREATE TRIGGER olympus_fail_at BEFORE DELETE ON oauth2_access_tokens \
               BEGIN SELECT RAISE(ABORT, 'attempt to write a readonly database'); END;",
            "DROP TRIGGER olympus_fail_rt; DROP TRIGGER olympus_fail_at;",
        ),
        Backend::Postgres => (
            "CREATE FUNCTION olympus_fail() RETURNS trigger LANGUAGE plpgsql AS \
               $$ BEGIN RAISE EXCEPTION 'cannot execute in a read-only transaction'; END $$; \
             CREATE TRIGGER olympus_fail_rt BEFORE UPDATE ON oauth2_refresh_tokens \
               FOR EACH STATEMENT EXECUTE FUNCTION olympus_fail(); \
             CREATE TRIGGER olympus_fail_at BEFORE DELETE ON oauth2_access_tokens \
               FOR EACH STATEMENT EXECUTE FUNCTION olympus_fail();",
            "DROP TRIGGER olympus_fail_rt ON oauth2_refresh_tokens; \
             DROP TRIGGER olympus_fail_at ON oauth2_access_tokens; DROP FUNCTION olympus_fail();",
        ),
    }
}

async fn execute(db: &Db, sql: &'static str) {
    db.write(move |c| c.batch_execute(sql).map_err(DbError::from))
        .await
        .unwrap();
}

/// Asserts a storage failure's answer: a 5xx in the envelope (`server_error`, or
/// `temporarily_unavailable` with 503), `no-store`, never a success.
async fn assert_storage_failure(res: reqwest::Response, what: &str) {
    let status = res.status().as_u16();
    assert!(matches!(status, 500 | 503), "{what}: {status}");
    assert_eq!(res.headers()["cache-control"], "no-store", "{what}");
    let body: Value = res.json().await.unwrap();
    let expected = if status == 503 {
        "temporarily_unavailable"
    } else {
        "server_error"
    };
    assert_eq!(body["error"], expected, "{what}: {body}");
}

/// IR-07: while storage refuses writes, revoking a refresh token, an access token or all of a
/// client's tokens answers a 5xx, never a success; the tokens are still active (the answer did
/// not lie). Once storage works again the same calls revoke them.
#[tokio::test]
async fn ir_07_revocation_never_answers_200_when_storage_fails() {
    let app = flow_app().await;
    let (id, secret) = app.confidential_client().await;
    let issued = offline_tokens(&app, &id, &secret).await;
    let (at, rt) = (
        text(&issued, "access_token"),
        text(&issued, "refresh_token"),
    );
    let db = Db::connect(&Dsn::parse(&app.db.dsn).unwrap(), &Default::default()).unwrap();
    let (fail, heal) = failing_storage(db.backend());
    execute(&db, fail).await;

    let revoke = |token: &str| {
        app.http
            .post(format!("{}/oauth2/revoke", app.public))
            .header("authorization", basic(&id, &secret))
            .form(&[("token", token)])
            .send()
    };
    assert_storage_failure(revoke(rt).await.unwrap(), "revoke the refresh token").await;
    assert_storage_failure(revoke(at).await.unwrap(), "revoke the access token").await;
    let all = format!("{}/admin/oauth2/tokens?client_id={id}", app.admin);
    assert_storage_failure(app.http.delete(&all).send().await.unwrap(), "delete all").await;
    for token in [at, rt] {
        assert_eq!(introspect(&app, token).await["active"], true, "not revoked");
    }

    execute(&db, heal).await;
    assert_eq!(revoke(rt).await.unwrap().status(), 200);
    for token in [at, rt] {
        assert_eq!(introspect(&app, token).await, json!({"active": false}));
    }
}
