//! The authorization endpoint against security.md AZ-09, AZ-10, AZ-13, AZ-15 and AZ-17: scope,
//! parameter pollution, state and nonce echo, the shape of the response, CORS and markup.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::browser::{REDIRECT, browser, complete, flow_app, follow, location, query_param};
use crate::handoff::{sign_in_remembering, tokens};
use crate::helpers::{ERROR_UI, LOGIN_UI, obtain_code};
use crate::token::{Auth, redeem};

const EVIL: &str = "https://evil.test";

fn id_token_claims(body: &Value) -> Value {
    let payload = body["id_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// AZ-09: a scope the client may not request is `invalid_scope` at the registered redirect_uri,
/// with state and iss; an empty scope and a reordered scope are accepted.
#[tokio::test]
async fn az_09_disallowed_scopes_are_invalid_scope_at_the_registered_uri() {
    let app = flow_app().await;
    let (client_id, secret) = app.confidential_client().await;
    let url = app.authorize_url(&client_id, &[("scope", Some("openid admin:all"))]);
    let to = follow(&browser(), &url).await;
    assert!(to.starts_with(&format!("{REDIRECT}?")), "{to}");
    assert_eq!(query_param(&to, "error").as_deref(), Some("invalid_scope"));
    assert_eq!(query_param(&to, "state").as_deref(), Some("state-123"));
    assert_eq!(
        query_param(&to, "iss").as_deref(),
        Some(app.public.as_str())
    );
    assert!(query_param(&to, "code").is_none(), "{to}");

    let empty = app.authorize_url(&client_id, &[("scope", Some(""))]);
    assert!(follow(&browser(), &empty).await.starts_with(LOGIN_UI));
    let reordered = [("scope", Some("email openid"))];
    let code = obtain_code(&app, &client_id, &reordered).await;
    let res = redeem(&app, &Auth::Basic(&client_id, &secret), &code, REDIRECT).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["scope"], "email openid");
    assert_eq!(id_token_claims(&body)["email"], "ada@example.com");
}

/// AZ-10: a repeated parameter makes the request ambiguous: `invalid_request` on the error page,
/// nothing to any redirect_uri. An unknown parameter is ignored, and the same request POSTed as
/// a form succeeds.
#[tokio::test]
async fn az_10_repeated_parameters_are_refused_and_unknown_ones_ignored() {
    let app = flow_app().await;
    let (client_id, secret) = app.confidential_client().await;
    let (other, _) = app.confidential_client().await;
    let base = app.authorize_url(&client_id, &[]);
    for extra in [
        format!("client_id={other}"),
        "redirect_uri=https%3A%2F%2Frp.test%2Fcb".into(),
        "state=again".into(),
        "response_type=code".into(),
    ] {
        let to = follow(&browser(), &format!("{base}&{extra}")).await;
        assert!(to.starts_with(&format!("{ERROR_UI}?")), "{extra} → {to}");
        assert_eq!(
            query_param(&to, "error").as_deref(),
            Some("invalid_request")
        );
        let says = query_param(&to, "error_description").unwrap();
        assert!(says.contains("repeated"), "{says}");
    }

    let code = obtain_code(&app, &client_id, &[("extra", Some("foobar"))]).await;
    let auth = Auth::Basic(&client_id, &secret);
    assert_eq!(redeem(&app, &auth, &code, REDIRECT).await.status(), 200);

    let form: Vec<(String, String)> = reqwest::Url::parse(&base)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let b = browser();
    let res = b
        .post(format!("{}/oauth2/auth", app.public))
        .form(&form)
        .send()
        .await
        .unwrap();
    let to_login = location(&res);
    assert!(to_login.starts_with(LOGIN_UI), "{to_login}");
    let done = location(&complete(&app, &b, &to_login, "user-1").await);
    assert_eq!(query_param(&done, "state").as_deref(), Some("state-123"));
    let code = query_param(&done, "code").expect("a code");
    assert_eq!(redeem(&app, &auth, &code, REDIRECT).await.status(), 200);
}

/// AZ-13: state comes back byte-exact and percent-encoded, never as a header of its own; flows
/// without state or nonce succeed; a 64-character nonce is copied into the ID token verbatim.
/// Hybrid flows are off: `code id_token`, with or without nonce, is `unsupported_response_type`.
#[tokio::test]
async fn az_13_state_and_nonce_are_echoed_exactly() {
    let app = flow_app().await;
    let (client_id, secret) = app.confidential_client().await;
    let unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
    let long: String = unreserved.chars().cycle().take(2048).collect();
    for state in [long.as_str(), "a+b/c=d&e", "x\r\nSet-Cookie: y=z"] {
        let b = browser();
        let to_login = follow(
            &b,
            &app.authorize_url(&client_id, &[("state", Some(state))]),
        )
        .await;
        let res = complete(&app, &b, &to_login, "user-1").await;
        assert_eq!(res.status(), 302);
        for cookie in res.headers().get_all("set-cookie") {
            assert!(!cookie.to_str().unwrap().contains("y=z"), "{cookie:?}");
        }
        let to = location(&res);
        assert!(to.starts_with(&format!("{REDIRECT}?code=")), "{to}");
        assert!(!to.contains(['\r', '\n', ' ']), "{to}");
        assert_eq!(query_param(&to, "state").as_deref(), Some(state));
    }
    let encoded = [("state", Some("a+b/c=d&e"))];
    let done = crate::browser::sign_in(
        &app,
        &browser(),
        &app.authorize_url(&client_id, &encoded),
        "user-1",
    )
    .await;
    assert!(done.contains("&state=a%2Bb%2Fc%3Dd%26e&"), "{done}");

    let nonce = "0123456789-abcdefghijklmnopqrstuvwxyz_ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    assert_eq!(nonce.len(), 64);
    let url = app.authorize_url(&client_id, &[("nonce", Some(nonce)), ("state", None)]);
    let done = crate::browser::sign_in(&app, &browser(), &url, "user-1").await;
    assert!(query_param(&done, "state").is_none(), "{done}");
    let body = tokens(&app, &client_id, &secret, &done).await;
    assert_eq!(id_token_claims(&body)["nonce"], nonce);
    let url = app.authorize_url(&client_id, &[("nonce", None)]);
    let done = crate::browser::sign_in(&app, &browser(), &url, "user-1").await;
    let body = tokens(&app, &client_id, &secret, &done).await;
    assert!(id_token_claims(&body).get("nonce").is_none());

    for nonce in [None, Some("n-1")] {
        let hybrid = [("response_type", Some("code id_token")), ("nonce", nonce)];
        let to = follow(&browser(), &app.authorize_url(&client_id, &hybrid)).await;
        assert!(to.starts_with(&format!("{REDIRECT}?")), "{to}");
        let error = query_param(&to, "error");
        assert_eq!(error.as_deref(), Some("unsupported_response_type"));
        assert!(!to.contains("code=") && !to.contains("id_token="), "{to}");
    }
}

/// AZ-15: the authorization response is a 302 (never 307) to the redirect_uri with exactly
/// code, state and iss, `Referrer-Policy: no-referrer` and `no-store`, in the interactive and the
/// silent path; the code is `oly_ac_` plus 40 random alphanumerics (238 bits).
#[tokio::test]
async fn az_15_the_code_response_is_a_302_with_code_state_and_iss() {
    let app = flow_app().await;
    let (client_id, _) = app.confidential_client().await;
    let b = browser();
    let first = app.authorize_url(&client_id, &[]);
    let done = sign_in_remembering(&app, &b, &first, "user-1", true).await;
    assert!(query_param(&done, "code").is_some());
    let b2 = browser();
    let to_login = follow(&b2, &app.authorize_url(&client_id, &[])).await;
    let interactive = complete(&app, &b2, &to_login, "user-1").await;
    let silent_url = app.authorize_url(&client_id, &[("prompt", Some("none"))]);
    let silent = b.get(&silent_url).send().await.unwrap();
    for res in [interactive, silent] {
        assert_eq!(res.status(), 302);
        assert_eq!(res.headers()["referrer-policy"], "no-referrer");
        assert_eq!(res.headers()["cache-control"], "no-store");
        let to = location(&res);
        assert!(to.starts_with(&format!("{REDIRECT}?")), "{to}");
        let pairs: Vec<(String, String)> = reqwest::Url::parse(&to)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["code", "state", "iss"], "{to}");
        assert_eq!(pairs[1].1, "state-123");
        assert_eq!(pairs[2].1, app.public);
        let random = pairs[0].1.strip_prefix("oly_ac_").expect("the code prefix");
        assert_eq!(random.len(), 40, "{to}");
        // 40 × log2(62) ≈ 238 bits, more than the 128 required.
        assert!(random.bytes().all(|c| c.is_ascii_alphanumeric()), "{to}");
    }
}

/// AZ-17 (a): no CORS at the authorization endpoint: neither a preflight nor a GET or POST from
/// another origin gets an `Access-Control-Allow-*` header.
#[tokio::test]
async fn az_17_no_cors_at_the_authorization_endpoint() {
    let app = flow_app().await;
    let (client_id, _) = app.confidential_client().await;
    let url = app.authorize_url(&client_id, &[]);
    let endpoint = format!("{}/oauth2/auth", app.public);
    let responses = [
        app.http
            .request(reqwest::Method::OPTIONS, &endpoint)
            .header("origin", EVIL)
            .header("access-control-request-method", "GET")
            .send()
            .await
            .unwrap(),
        app.http
            .get(&url)
            .header("origin", EVIL)
            .send()
            .await
            .unwrap(),
        app.http
            .post(&endpoint)
            .header("origin", EVIL)
            .form(&[("client_id", client_id.as_str())])
            .send()
            .await
            .unwrap(),
    ];
    for res in responses {
        let cors: Vec<_> = res
            .headers()
            .keys()
            .filter(|k| k.as_str().starts_with("access-control-"))
            .collect();
        assert!(cors.is_empty(), "{}: {cors:?}", res.status());
    }
}

/// AZ-17 (b): markup in scope, ui_locales and login_hint is data. The scope error reaches the
/// client percent-encoded (query) or HTML-escaped (form_post); ui_locales and login_hint reach the
/// login UI only as JSON strings of the login request, never in a URL or page of oauth2-svc.
#[tokio::test]
async fn az_17_markup_in_parameters_is_never_rendered() {
    let app = flow_app().await;
    let (client_id, _) = app.confidential_client().await;
    let script = "<script>alert(1)</script>";
    let url = app.authorize_url(&client_id, &[("scope", Some(script))]);
    let to = follow(&browser(), &url).await;
    assert!(to.starts_with(&format!("{REDIRECT}?")), "{to}");
    assert!(!to.contains(['<', '>', '"']), "{to}");
    assert_eq!(query_param(&to, "error").as_deref(), Some("invalid_scope"));
    let as_form = [
        ("scope", Some(script)),
        ("response_mode", Some("form_post")),
    ];
    let res = browser()
        .get(app.authorize_url(&client_id, &as_form))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(
        !html.contains(script) && !html.contains("alert(1)</"),
        "{html}"
    );
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("javascript:"), "{html}");

    let (locales, hint) = ("\"><svg/onload=alert(1)>", "<img src=x onerror=alert(1)>");
    let hinted = [("ui_locales", Some(locales)), ("login_hint", Some(hint))];
    let res = browser()
        .get(app.authorize_url(&client_id, &hinted))
        .send()
        .await
        .unwrap();
    let to_login = location(&res);
    assert!(
        !to_login.contains("svg") && !to_login.contains("img"),
        "{to_login}"
    );
    assert!(res.text().await.unwrap().is_empty());
    let challenge = query_param(&to_login, "login_challenge").unwrap();
    let request: Value = app
        .admin_get("login", &challenge)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(request["oidc_context"]["login_hint"], hint);
    assert_eq!(request["oidc_context"]["ui_locales"], json!([locales]));
}
