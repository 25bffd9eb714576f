//! Untrusted redirect URIs and clients at `/oauth2/auth` (security.md AZ-01, AZ-02, AZ-03,
//! AZ-06): every one of them ends on the error page, never at the supplied URI. Which redirect
//! URIs a client may register at all (AZ-07). oauth2-svc shows
//! errors by redirecting to `urls.error` (login-ui's `/error`, design: Decisions); the "error
//! page" of security.md is that redirect.

use serde_json::{Value, json};

use crate::browser::{REDIRECT, browser, flow_app, query_param};
use crate::handoff::client_with;
use crate::helpers::{ERROR_UI, spawn};

/// Sends `url` (GET, or the same parameters as a POSTed form) in a fresh browser and asserts
/// the error page with `error`: a redirect to the error UI only, which names nothing of `avoid`,
/// with no body that could link or post anywhere.
async fn assert_error_page(url: &str, error: &str, avoid: &str) {
    let (endpoint, query) = url.split_once('?').unwrap();
    let form: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    for res in [
        browser().get(url).send().await.unwrap(),
        browser().post(endpoint).form(&form).send().await.unwrap(),
    ] {
        assert_eq!(res.status(), 302, "{url}");
        let to = res.headers()["location"].to_str().unwrap().to_string();
        assert!(to.starts_with(&format!("{ERROR_UI}?")), "{avoid} → {to}");
        assert_eq!(query_param(&to, "error").as_deref(), Some(error), "{to}");
        let encoded: String = url::form_urlencoded::byte_serialize(avoid.as_bytes()).collect();
        assert!(
            !avoid.is_empty() && !to.contains(avoid) && !to.contains(&encoded),
            "the error page URL names the supplied URI: {to}"
        );
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert!(res.text().await.unwrap().is_empty());
    }
}

/// AZ-01: an unregistered redirect_uri is the error page (`invalid_request`).
#[tokio::test]
async fn az_01_unregistered_redirect_uris_get_an_error_page() {
    let app = flow_app().await;
    let (client_id, _) = app.confidential_client().await;
    let evil = "https://evil.test/cb";
    let url = app.authorize_url(&client_id, &[("redirect_uri", Some(evil))]);
    assert_error_page(&url, "invalid_request", evil).await;
    // With errors that would otherwise go to the client, the untrusted URI still gets nothing.
    let url = app.authorize_url(
        &client_id,
        &[
            ("redirect_uri", Some(evil)),
            ("response_type", Some("token")),
            ("scope", Some("admin")),
            ("response_mode", Some("form_post")),
        ],
    );
    assert_error_page(&url, "invalid_request", evil).await;
}

/// AZ-02: path variants of the registered URI are compared as strings, not normalised.
#[tokio::test]
async fn az_02_path_confusion_gets_an_error_page() {
    let app = flow_app().await;
    let (client_id, _) = app.confidential_client().await;
    for uri in [
        "https://rp.test/CB",
        "https://rp.test/cb/",
        "https://rp.test/cb/x",
        "https://rp.test/cb/../evil",
        "https://rp.test/cb/..;/evil",
        "https://rp.test/cb%2F..%2Fevil",
        "https://rp.test/cb/%252e%252e%252fevil",
        "https://rp.test/cb/FAKEPATH/..",
        "https://rp.test/cb#x",
        "https://rp.test/cb?x=1",
    ] {
        let url = app.authorize_url(&client_id, &[("redirect_uri", Some(uri))]);
        assert_error_page(&url, "invalid_request", uri).await;
    }
}

/// AZ-03: host, userinfo, scheme, port and case variants: only a byte-identical URI counts.
#[tokio::test]
async fn az_03_host_scheme_and_port_confusion_gets_an_error_page() {
    let app = flow_app().await;
    let (client_id, _) = app.confidential_client().await;
    for uri in [
        "https://rp.test.evil.test/cb",
        "https://rp.test@evil.test/cb",
        "https://a@b@evil.test/cb",
        "https://evil.test\\@rp.test/cb",
        "https://evil.test%23@rp.test/cb",
        "http://rp.test/cb",
        "https://rp.test:8443/cb",
        "https://rp.test:443/cb",
        "HTTPS://RP.TEST/cb",
    ] {
        let url = app.authorize_url(&client_id, &[("redirect_uri", Some(uri))]);
        assert_error_page(&url, "invalid_request", uri).await;
    }
    // The registered URI itself is accepted: the flow goes on to the login UI.
    let res = browser()
        .get(app.authorize_url(&client_id, &[]))
        .send()
        .await
        .unwrap();
    assert!(
        crate::browser::location(&res).starts_with(crate::helpers::LOGIN_UI),
        "{REDIRECT}"
    );
}

/// AZ-06: a missing redirect_uri (even with one registered URI, or two), an unknown, empty or
/// missing client_id and a deleted client are the error page, never a redirect to the client.
/// Clients cannot be disabled in Olympus (nor in Hydra): deleting one is the way to stop it.
#[tokio::test]
async fn az_06_missing_or_invalid_client_or_redirect_gets_an_error_page() {
    let app = flow_app().await;
    let (one, _) = app.confidential_client().await;
    let (two, _) = client_with(
        &app,
        json!({"redirect_uris": [REDIRECT, "https://rp.test/cb2"]}),
    )
    .await;
    for client_id in [&one, &two] {
        let url = app.authorize_url(client_id, &[("redirect_uri", None)]);
        assert_error_page(&url, "invalid_request", REDIRECT).await;
        let to = crate::browser::follow(&browser(), &url).await;
        assert!(
            query_param(&to, "error_description")
                .unwrap()
                .contains("redirect_uri"),
            "{to}"
        );
    }
    for unknown in ["unknown", ""] {
        let url = app.authorize_url(unknown, &[]);
        assert_error_page(&url, "invalid_client", REDIRECT).await;
    }
    let url = app.authorize_url(&one, &[("client_id", None)]);
    assert_error_page(&url, "invalid_request", REDIRECT).await;

    let (deleted, _) = app.confidential_client().await;
    let res = app
        .http
        .delete(format!("{}/admin/clients/{deleted}", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let url = app.authorize_url(&deleted, &[]);
    assert_error_page(&url, "invalid_client", REDIRECT).await;
}

/// AZ-07: script and data URIs, fragments, plain http off loopback, wildcards and (for a web
/// client) private-use schemes are 400 `invalid_redirect_uri`, on create and on replace;
/// nothing is stored. Loopback http and a private-use scheme for a public client are accepted.
#[tokio::test]
async fn az_07_unsafe_redirect_uris_are_invalid_redirect_uri() {
    let app = spawn().await;
    let web = json!({"client_id": "web", "redirect_uris": ["https://rp.test/cb"]});
    assert_eq!(app.create_client(web).await.status(), 201);
    for (uri, says) in [
        ("javascript:alert(1)", "https"),
        ("data:text/html,x", "https"),
        ("https://rp.test/cb#frag", "fragment"),
        ("http://rp.test/cb", "https"),
        ("https://*.rp.test/cb", "wildcard"),
        ("https://rp.test/*", "wildcard"),
        ("app.native:/cb", "public clients"),
        ("not a url", "absolute"),
    ] {
        let body = json!({"redirect_uris": ["https://rp.test/ok", uri]});
        let res = app.create_client(body.clone()).await;
        let put = app
            .http
            .put(format!("{}/admin/clients/web", app.admin))
            .json(&body)
            .send()
            .await
            .unwrap();
        for res in [res, put] {
            assert_eq!(res.status(), 400, "{uri}");
            let err: Value = res.json().await.unwrap();
            assert_eq!(err["error"], "invalid_redirect_uri", "{uri}");
            let description = err["error_description"].as_str().unwrap();
            assert!(description.contains(says), "{uri}: {description}");
        }
    }
    let list: Vec<Value> = app
        .http
        .get(format!("{}/admin/clients", app.admin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["redirect_uris"], json!(["https://rp.test/cb"]));

    let web = json!({"redirect_uris": ["http://127.0.0.1:8080/cb", "http://[::1]/cb", "http://localhost/cb"]});
    assert_eq!(app.create_client(web).await.status(), 201);
    let native = json!({"token_endpoint_auth_method": "none",
        "redirect_uris": ["app.native:/cb", "http://127.0.0.1/cb"]});
    assert_eq!(app.create_client(native).await.status(), 201);
}
