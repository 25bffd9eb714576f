//! Session management: the admin session API, the self-service `/sessions` endpoints, and
//! sliding expiry (`session.earliest_possible_extend`) on the test clock.

use std::time::Duration;

use serde_json::Value;

use crate::browser::{Browser, browser_app};
use crate::helpers::{TestApp, expect_error, fresh_database, spawn_on};

const HOUR: Duration = Duration::from_secs(3600);

/// A signed-in browser and its session JSON.
async fn signed_in(app: &TestApp, email: &str) -> (Browser, Value) {
    let browser = Browser::new();
    let body = browser.log_in(app, email).await;
    (browser, body["session"].clone())
}

fn sid(session: &Value) -> String {
    session["id"].as_str().unwrap().to_string()
}

impl Browser {
    async fn call(&self, app: &TestApp, method: reqwest::Method, path: &str) -> reqwest::Response {
        self.http
            .request(method, format!("{}{path}", app.public))
            .send()
            .await
            .unwrap()
    }
}

impl Browser {
    /// `DELETE /sessions/{id}`: this browser's user revokes one of their other sessions.
    async fn revoke_my_session(&self, app: &TestApp, session: &Value) -> reqwest::Response {
        let path = format!("/sessions/{}", sid(session));
        self.call(app, reqwest::Method::DELETE, &path).await
    }
}

async fn admin(app: &TestApp, method: reqwest::Method, path: &str) -> reqwest::Response {
    app.http
        .request(method, format!("{}{path}", app.admin))
        .send()
        .await
        .unwrap()
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(sid).collect()
}

#[tokio::test]
async fn admins_list_get_disable_and_extend_sessions() {
    let app = browser_app().await;
    let ada = app.create_person_with_password("ada@example.com").await;
    app.create_person_with_password("bob@example.com").await;
    let (ada_browser, first) = signed_in(&app, "ada@example.com").await;
    let (_, second) = signed_in(&app, "ada@example.com").await;
    let (_, bobs) = signed_in(&app, "bob@example.com").await;

    let res = admin(&app, reqwest::Method::GET, "/admin/sessions").await;
    assert_eq!(res.status(), 200);
    let all: Value = res.json().await.unwrap();
    assert_eq!(ids(&all), [sid(&first), sid(&second), sid(&bobs)]);
    assert!(
        all[0].get("identity").is_none(),
        "identity only when expanded"
    );
    assert_eq!(all[0]["active"], true);
    assert_eq!(all[0]["authentication_methods"][0]["method"], "password");

    let res = admin(
        &app,
        reqwest::Method::GET,
        "/admin/sessions?page_size=2&expand=identity",
    )
    .await;
    let link = res.headers()["link"].to_str().unwrap().to_string();
    let page: Value = res.json().await.unwrap();
    assert_eq!(ids(&page), [sid(&first), sid(&second)]);
    assert_eq!(page[0]["identity"]["id"], ada["id"]);
    let next = link.trim_start_matches('<').split('>').next().unwrap();
    assert!(next.contains("expand=identity"), "{next}");
    let page: Value = admin(&app, reqwest::Method::GET, next)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&page), [sid(&bobs)]);

    let path = format!("/admin/sessions/{}", sid(&first));
    let one: Value = admin(
        &app,
        reqwest::Method::GET,
        &format!("{path}?expand=identity"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(one["id"], first["id"]);
    assert_eq!(one["identity"]["traits"]["email"], "ada@example.com");

    // disableSession ends it for the browser; repeating is harmless.
    assert_eq!(
        admin(&app, reqwest::Method::DELETE, &path).await.status(),
        204
    );
    assert_eq!(
        admin(&app, reqwest::Method::DELETE, &path).await.status(),
        204
    );
    assert_eq!(ada_browser.whoami(&app).await.status(), 401);
    let active: Value = admin(&app, reqwest::Method::GET, "/admin/sessions?active=true")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&active), [sid(&second), sid(&bobs)]);
    let inactive: Value = admin(&app, reqwest::Method::GET, "/admin/sessions?active=false")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&inactive), [sid(&first)]);
    assert_eq!(inactive[0]["active"], false);

    // extendSession without a window: a new expiry of now + lifespan, 204.
    app.clock.advance(HOUR);
    let extend = format!("/admin/sessions/{}/extend", sid(&second));
    assert_eq!(
        admin(&app, reqwest::Method::PATCH, &extend).await.status(),
        204
    );
    let extended: Value = admin(
        &app,
        reqwest::Method::GET,
        &format!("/admin/sessions/{}", sid(&second)),
    )
    .await
    .json()
    .await
    .unwrap();
    let before: chrono::DateTime<chrono::Utc> =
        second["expires_at"].as_str().unwrap().parse().unwrap();
    let after: chrono::DateTime<chrono::Utc> =
        extended["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!((after - before).num_minutes(), 60);
    // A disabled session is not extended.
    let extend_first = format!("/admin/sessions/{}/extend", sid(&first));
    expect_error(
        admin(&app, reqwest::Method::PATCH, &extend_first).await,
        404,
    )
    .await;
}

#[tokio::test]
async fn admin_session_endpoints_refuse_bad_input() {
    let app = browser_app().await;
    let unknown = uuid::Uuid::now_v7();
    for (method, path, code) in [
        (
            reqwest::Method::GET,
            format!("/admin/sessions/{unknown}"),
            404,
        ),
        (
            reqwest::Method::GET,
            "/admin/sessions/not-a-uuid".into(),
            404,
        ),
        (
            reqwest::Method::DELETE,
            format!("/admin/sessions/{unknown}"),
            404,
        ),
        (
            reqwest::Method::PATCH,
            format!("/admin/sessions/{unknown}/extend"),
            404,
        ),
        (
            reqwest::Method::GET,
            format!("/admin/identities/{unknown}/sessions"),
            404,
        ),
        (
            reqwest::Method::DELETE,
            format!("/admin/identities/{unknown}/sessions"),
            404,
        ),
        (
            reqwest::Method::GET,
            "/admin/sessions?active=maybe".into(),
            400,
        ),
        (
            reqwest::Method::GET,
            "/admin/sessions?expand=secrets".into(),
            400,
        ),
        (
            reqwest::Method::GET,
            "/admin/sessions?page_size=5000".into(),
            400,
        ),
        (
            reqwest::Method::GET,
            "/admin/sessions?page_token=zz".into(),
            400,
        ),
        (
            reqwest::Method::GET,
            "/admin/sessions?identity=1".into(),
            400,
        ),
    ] {
        let res = admin(&app, method.clone(), &path).await;
        expect_error(res, code).await;
    }
}

#[tokio::test]
async fn admins_list_and_delete_the_sessions_of_an_identity() {
    let app = browser_app().await;
    let ada = app.create_person_with_password("ada@example.com").await;
    app.create_person_with_password("bob@example.com").await;
    let (ada_browser, first) = signed_in(&app, "ada@example.com").await;
    let (_, second) = signed_in(&app, "ada@example.com").await;
    let (bob_browser, _) = signed_in(&app, "bob@example.com").await;
    let path = format!("/admin/identities/{}/sessions", ada["id"].as_str().unwrap());
    let listed: Value = admin(&app, reqwest::Method::GET, &path)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&listed), [sid(&first), sid(&second)]);
    assert_eq!(listed[0]["identity"]["id"], ada["id"]);

    assert_eq!(
        admin(&app, reqwest::Method::DELETE, &path).await.status(),
        204
    );
    let listed: Value = admin(&app, reqwest::Method::GET, &path)
        .await
        .json()
        .await
        .unwrap();
    assert!(ids(&listed).is_empty(), "deleted, not only ended");
    assert_eq!(ada_browser.whoami(&app).await.status(), 401);
    assert_eq!(
        bob_browser.whoami(&app).await.status(),
        200,
        "others keep theirs"
    );
}

#[tokio::test]
async fn users_list_and_revoke_their_other_sessions_only() {
    let app = browser_app().await;
    app.create_person_with_password("ada@example.com").await;
    app.create_person_with_password("bob@example.com").await;
    let (laptop, current) = signed_in(&app, "ada@example.com").await;
    let (phone, other) = signed_in(&app, "ada@example.com").await;
    let (tablet, third) = signed_in(&app, "ada@example.com").await;
    let third = sid(&third);
    let (bob, bobs) = signed_in(&app, "bob@example.com").await;

    let res = laptop.call(&app, reqwest::Method::GET, "/sessions").await;
    assert_eq!(res.status(), 200);
    let mine: Value = res.json().await.unwrap();
    assert_eq!(
        ids(&mine),
        [sid(&other), third],
        "the current one is whoami's"
    );
    assert!(mine[0]["identity"].get("metadata_admin").is_none());

    // Another user's session is answered like an unknown one, and stays.
    let res = laptop.revoke_my_session(&app, &bobs).await;
    expect_error(res, 404).await;
    assert_eq!(bob.whoami(&app).await.status(), 200);
    // The current session is ended by logout, not here.
    let res = laptop.revoke_my_session(&app, &current).await;
    expect_error(res, 400).await;
    let res = laptop.revoke_my_session(&app, &other).await;
    assert_eq!(res.status(), 204);
    assert_eq!(phone.whoami(&app).await.status(), 401);
    let res = laptop.revoke_my_session(&app, &other).await;
    expect_error(res, 404).await;

    let res = laptop
        .call(&app, reqwest::Method::DELETE, "/sessions")
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        serde_json::json!({"count": 1})
    );
    assert_eq!(tablet.whoami(&app).await.status(), 401);
    assert_eq!(
        laptop.whoami(&app).await.status(),
        200,
        "the caller's own stays"
    );
    assert_eq!(bob.whoami(&app).await.status(), 200);

    // Without a session: 401 everywhere.
    let stranger = Browser::new();
    for (method, path) in [
        (reqwest::Method::GET, "/sessions".to_string()),
        (reqwest::Method::DELETE, "/sessions".to_string()),
        (reqwest::Method::DELETE, format!("/sessions/{}", sid(&bobs))),
    ] {
        let res = stranger.call(&app, method, &path).await;
        assert_eq!(expect_error(res, 401).await["id"], "session_inactive");
    }
}

/// Kratos' `session.earliest_possible_extend`: whoami slides the expiry once the session is
/// within the window, with one conditional write; admin extend works only inside it (else 404).
#[tokio::test]
async fn whoami_slides_sessions_within_earliest_possible_extend() {
    let app = spawn_on(fresh_database(), |s| {
        s.dev = true;
        s.session.lifespan = 24 * HOUR;
        s.session.earliest_possible_extend = Some(2 * HOUR);
    })
    .await;
    app.create_person_with_password("ada@example.com").await;
    let (browser, session) = signed_in(&app, "ada@example.com").await;
    let expires = |v: &Value| -> chrono::DateTime<chrono::Utc> {
        v["expires_at"].as_str().unwrap().parse().unwrap()
    };
    let issued = expires(&session);

    // Outside the window nothing moves (and no cookie is re-issued).
    app.clock.advance(21 * HOUR);
    let res = browser.whoami(&app).await;
    assert!(res.headers().get("set-cookie").is_none());
    assert_eq!(expires(&res.json().await.unwrap()), issued);
    let extend = format!("/admin/sessions/{}/extend", sid(&session));
    expect_error(admin(&app, reqwest::Method::PATCH, &extend).await, 404).await;

    // Inside it, whoami extends to now + lifespan and renews the cookie.
    app.clock.advance(2 * HOUR);
    let now = app.clock.now();
    let res = browser.whoami(&app).await;
    assert_eq!(res.status(), 200);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    let max_age: i64 = cookie
        .split("Max-Age=")
        .nth(1)
        .and_then(|v| v.split(';').next()?.parse().ok())
        .unwrap();
    assert!((86399..=86400).contains(&max_age), "{cookie}");
    let slid = expires(&res.json().await.unwrap());
    assert!(
        (slid - (now + chrono::Duration::hours(24)))
            .num_seconds()
            .abs()
            <= 1,
        "{slid}"
    );
    let again = expires(&browser.whoami(&app).await.json().await.unwrap());
    assert_eq!(again, slid, "once per window");
    // Past the old expiry the session lives on.
    app.clock.advance(3 * HOUR);
    assert_eq!(browser.whoami(&app).await.status(), 200);

    // A lapsed session is not revived by whoami.
    app.clock.advance(30 * HOUR);
    assert_eq!(browser.whoami(&app).await.status(), 401);
}

#[tokio::test]
async fn sessions_do_not_slide_without_the_setting() {
    let app = browser_app().await;
    app.create_person_with_password("ada@example.com").await;
    let (browser, session) = signed_in(&app, "ada@example.com").await;
    app.clock.advance(23 * HOUR + Duration::from_secs(59 * 60));
    let res = browser.whoami(&app).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["expires_at"], session["expires_at"]);
    app.clock.advance(2 * 60 * Duration::from_secs(1));
    assert_eq!(browser.whoami(&app).await.status(), 401);
}
