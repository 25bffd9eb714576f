//! Pairwise subject identifiers (OIDC Core §8.1; ID-01 `sub`, ID-11 userinfo, IR-03
//! introspection): different per sector, stable per sector, the local subject for public clients.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use service_kit::settings::Secret;

use crate::browser::VERIFIER;
use crate::helpers::{TestApp, fresh_database, obtain_code, spawn_on};

async fn pairwise_app() -> TestApp {
    spawn_on(fresh_database(), |s| {
        s.dev = true;
        let subjects = &mut s.oidc.subject_identifiers;
        subjects.supported_types = vec!["public".into(), "pairwise".into()];
        subjects.pairwise.salt = Some(Secret::new("pairwise-salt-pairwise-salt-pairwise"));
    })
    .await
}

/// A client at `redirect` of `subject_type`; returns (client_id, secret).
async fn client(app: &TestApp, redirect: &str, subject_type: &str) -> (String, String) {
    let res = app
        .create_client(json!({"redirect_uris": [redirect], "scope": "openid email",
            "subject_type": subject_type}))
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    (
        body["client_id"].as_str().unwrap().into(),
        body["client_secret"].as_str().unwrap().into(),
    )
}

/// The `sub` of the ID token, of userinfo and of introspection, for one sign-in of `user-1`.
async fn subs(app: &TestApp, (id, secret): &(String, String), redirect: &str) -> [String; 3] {
    let code = obtain_code(app, id, &[("redirect_uri", Some(redirect))]).await;
    let tokens: Value = app
        .http
        .post(format!("{}/oauth2/token", app.public))
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let payload = tokens["id_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let at = tokens["access_token"].as_str().unwrap();
    let userinfo: Value = app
        .http
        .get(format!("{}/userinfo", app.public))
        .bearer_auth(at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let introspected: Value = app
        .http
        .post(format!("{}/admin/oauth2/introspect", app.admin))
        .form(&[("token", at)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    [&claims["sub"], &userinfo["sub"], &introspected["sub"]]
        .map(|s| s.as_str().unwrap().to_string())
}

#[tokio::test]
async fn id_01_pairwise_subjects_differ_per_sector_and_are_stable() {
    let app = pairwise_app().await;
    let (a, b) = ("https://rp.test/cb", "https://other.test/cb");
    let first = client(&app, a, "pairwise").await;
    let same_sector = client(&app, "https://rp.test/cb", "pairwise").await;
    let other_sector = client(&app, b, "pairwise").await;
    let public = client(&app, a, "public").await;

    let one = subs(&app, &first, a).await;
    assert!(
        one.iter().all(|s| s == &one[0]),
        "ID token, userinfo and introspection agree: {one:?}"
    );
    assert_ne!(one[0], "user-1");
    assert_eq!(subs(&app, &first, a).await, one, "stable");
    assert_eq!(
        subs(&app, &same_sector, a).await,
        one,
        "one sector, one sub"
    );
    let other = subs(&app, &other_sector, b).await;
    assert_ne!(other[0], one[0]);
    assert_eq!(
        subs(&app, &public, a).await,
        ["user-1"; 3].map(String::from)
    );

    let doc: Value = app
        .http
        .get(format!("{}/.well-known/openid-configuration", app.public))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["subject_types_supported"],
        json!(["public", "pairwise"])
    );
}

#[tokio::test]
async fn pairwise_clients_need_support_and_one_host() {
    let app = pairwise_app().await;
    for body in [
        json!({"subject_type": "pairwise", "redirect_uris": ["https://a.test/cb", "https://b.test/cb"]}),
        json!({"subject_type": "pairwise", "redirect_uris": ["https://a.test/cb"],
            "sector_identifier_uri": "https://a.test/sector.json"}),
        json!({"subject_type": "ephemeral"}),
    ] {
        let res = app.create_client(body.clone()).await;
        assert_eq!(res.status(), 400, "{body}");
        assert_eq!(
            res.json::<Value>().await.unwrap()["error"],
            "invalid_client_metadata"
        );
    }
    let plain = crate::helpers::spawn().await;
    let res = plain
        .create_client(json!({"subject_type": "pairwise", "redirect_uris": ["https://a.test/cb"]}))
        .await;
    assert_eq!(res.status(), 400, "pairwise is off by default");
}

/// An `id_token_hint` carries the pairwise `sub` the client saw; authorization and logout match
/// it against the remembered login's subject as that client sees it.
#[tokio::test]
async fn pairwise_id_token_hints_match_the_remembered_login() {
    use crate::browser::{browser, follow, query_param, sign_in};

    let app = pairwise_app().await;
    let redirect = "https://rp.test/cb";
    let (id, secret) = client(&app, redirect, "pairwise").await;
    let b = browser();
    let done = sign_in(&app, &b, &app.authorize_url(&id, &[]), "user-1").await;
    let code = query_param(&done, "code").unwrap();
    let tokens: Value = app
        .http
        .post(format!("{}/oauth2/token", app.public))
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hint = tokens["id_token"].as_str().unwrap();

    let to_login = follow(
        &b,
        &app.authorize_url(&id, &[("id_token_hint", Some(hint))]),
    )
    .await;
    let challenge = query_param(&to_login, "login_challenge")
        .unwrap_or_else(|| panic!("the hint was refused: {to_login}"));
    let login: Value = app
        .admin_get("login", &challenge)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        login["skip"], true,
        "the remembered login is the hint's user"
    );
    assert_eq!(login["subject"], "user-1");

    let logout = reqwest::Url::parse_with_params(
        &format!("{}/oauth2/sessions/logout", app.public),
        &[("id_token_hint", hint)],
    )
    .unwrap();
    let to_ui = follow(&b, logout.as_str()).await;
    assert!(
        query_param(&to_ui, "logout_challenge").is_some(),
        "the hint names the browser's session, so the user is asked to log out: {to_ui}"
    );
}
