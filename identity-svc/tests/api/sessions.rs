//! Sessions, whoami and browser logout (security.md IF-15, IF-17).

use serde_json::Value;

use crate::browser::{Browser, browser_app};
use crate::helpers::expect_error;

#[tokio::test]
async fn whoami_without_a_session_is_401() {
    let app = browser_app().await;
    for token in [None, Some("oly_st_notarealtoken"), Some("garbage")] {
        let mut req = app.http.get(format!("{}/sessions/whoami", app.public));
        if let Some(token) = token {
            req = req.header("x-session-token", token);
        }
        let res = req.send().await.unwrap();
        assert!(res.headers().contains_key("www-authenticate"));
        assert_eq!(expect_error(res, 401).await["id"], "session_inactive");
    }
}

#[tokio::test]
async fn whoami_accepts_the_token_as_a_header_too() {
    let app = browser_app().await;
    app.create_person_with_password("ada@example.com").await;
    // The cookie's value is the session token an app would send.
    let login = Browser::new();
    let flow = login.start_login(&app, "").await;
    let res = login
        .submit(
            &flow,
            &[
                ("identifier", "ada@example.com"),
                ("password", crate::browser::PASSWORD),
            ],
            true,
        )
        .await;
    let token = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap())
        .find_map(|c| c.strip_prefix("olympus_session="))
        .map(|c| c.split(';').next().unwrap().to_string())
        .unwrap();
    assert!(token.starts_with("oly_st_"));
    for (name, value) in [
        ("x-session-token", token.clone()),
        ("authorization", format!("Bearer {token}")),
        ("authorization", format!("bearer {token}")),
    ] {
        let res = app
            .http
            .get(format!("{}/sessions/whoami", app.public))
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{name}");
    }
}

#[tokio::test]
async fn sessions_expire_with_their_lifespan() {
    let app = browser_app().await;
    app.create_person_with_password("ada@example.com").await;
    let browser = Browser::new();
    let login = browser.log_in(&app, "ada@example.com").await;
    let expires: chrono::DateTime<chrono::Utc> = login["session"]["expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let issued: chrono::DateTime<chrono::Utc> = login["session"]["issued_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!((expires - issued).num_hours(), 24);
    assert_eq!(browser.whoami(&app).await.status(), 200);
    app.clock
        .advance(std::time::Duration::from_secs(24 * 3600 + 1));
    assert_eq!(browser.whoami(&app).await.status(), 401);
}

/// IF-17: logout needs the session's own logout token; afterwards the session is gone.
#[tokio::test]
async fn logout_ends_the_session_once() {
    let app = browser_app().await;
    app.create_person_with_password("ada@example.com").await;
    app.create_person_with_password("bob@example.com").await;
    let ada = Browser::new();
    let bob = Browser::new();
    ada.log_in(&app, "ada@example.com").await;
    bob.log_in(&app, "bob@example.com").await;

    let res = ada
        .http
        .get(format!(
            "{}/self-service/logout/browser?return_to=https://app.test/bye",
            app.public
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let flow: Value = res.json().await.unwrap();
    let logout_url = flow["logout_url"].as_str().unwrap().to_string();
    assert!(
        flow["logout_token"]
            .as_str()
            .unwrap()
            .starts_with("oly_lo_")
    );
    assert!(logout_url.starts_with(&format!("{}/self-service/logout?token=oly_lo_", app.public)));

    // Bob's browser cannot end Ada's session with her token.
    let res = bob.http.get(&logout_url).send().await.unwrap();
    expect_error(res, 401).await;
    assert_eq!(ada.whoami(&app).await.status(), 200);

    let res = ada.http.get(&logout_url).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "https://app.test/bye");
    let cleared = res.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cleared.starts_with("olympus_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    assert_eq!(ada.whoami(&app).await.status(), 401);
    assert_eq!(bob.whoami(&app).await.status(), 200, "other sessions stay");

    // Replaying the token, or logging out with none, is refused.
    let res = app.http.get(&logout_url).send().await.unwrap();
    expect_error(res, 401).await;
    let res = app
        .http
        .get(format!("{}/self-service/logout", app.public))
        .send()
        .await
        .unwrap();
    expect_error(res, 401).await;
    let res = ada
        .http
        .get(format!("{}/self-service/logout/browser", app.public))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_error(res, 401).await["id"], "session_inactive");
}

#[tokio::test]
async fn logout_answers_json_clients_with_204() {
    let app = browser_app().await;
    app.create_person_with_password("ada@example.com").await;
    let browser = Browser::new();
    browser.log_in(&app, "ada@example.com").await;
    let flow: Value = browser
        .http
        .get(format!("{}/self-service/logout/browser", app.public))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = browser
        .http
        .get(flow["logout_url"].as_str().unwrap())
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(browser.whoami(&app).await.status(), 401);
}

#[tokio::test]
async fn deleting_an_identity_ends_its_sessions() {
    let app = browser_app().await;
    let person = app.create_person_with_password("ada@example.com").await;
    let browser = Browser::new();
    browser.log_in(&app, "ada@example.com").await;
    let id = person["id"].as_str().unwrap();
    let res = app
        .http
        .delete(format!("{}/admin/identities/{id}", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(browser.whoami(&app).await.status(), 401);
}
