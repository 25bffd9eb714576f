//! Authorization codes at the token endpoint (security.md TK-05, TK-06, TK-07, TK-09, TK-13,
//! TK-14): PKCE, forged codes, scope escalation, and how random codes and tokens are.

use std::collections::HashSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::refresh::{OFFLINE, introspect, refresh};
use super::{Auth, PUBLIC_REDIRECT, assert_oauth_error, redeem, token};
use crate::browser::{CHALLENGE, REDIRECT, VERIFIER, browser, flow_app, follow, query_param};
use crate::handoff::{client_with, sign_in_remembering};
use crate::helpers::{TestApp, fresh_database, obtain_code, spawn_on};

/// A code exchange with `verifier` (or none) and `extra` parameters.
async fn exchange(
    app: &TestApp,
    auth: &Auth<'_>,
    (code, redirect): (&str, &str),
    verifier: Option<&str>,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut params = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect),
    ];
    params.extend(verifier.map(|v| ("code_verifier", v)));
    params.extend_from_slice(extra);
    token(app, auth, &params).await
}

async fn public_code(app: &TestApp, client_id: &str) -> String {
    obtain_code(app, client_id, &[("redirect_uri", Some(PUBLIC_REDIRECT))]).await
}

/// TK-05: P1's code redeemed without a code_verifier, or with a random well-formed one, is
/// `invalid_grant`, and the attempt spends the code.
#[tokio::test]
async fn tk_05_a_missing_or_wrong_verifier_is_invalid_grant() {
    let app = flow_app().await;
    let client_id = app.public_client().await;
    let auth = Auth::Public(&client_id);
    let random = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    for (verifier, says) in [(None, "missing"), (Some(random.as_str()), "did not match")] {
        let code = public_code(&app, &client_id).await;
        let res = exchange(&app, &auth, (&code, PUBLIC_REDIRECT), verifier, &[]).await;
        let body = assert_oauth_error(res, 400, "invalid_grant", &[&code]).await;
        let description = body["error_description"].as_str().unwrap();
        assert!(description.contains(says), "{description}");
        let retry = redeem(&app, &auth, &code, PUBLIC_REDIRECT).await;
        assert_oauth_error(retry, 400, "invalid_grant", &[]).await;
    }
}

/// TK-06: (a) with PKCE optional for confidential clients (`oauth2.pkce.enforced: false`, not
/// the default), a code issued without a challenge and redeemed with a verifier is
/// `invalid_grant` with fosite's hint; (b) the S256 challenge sent as the verifier, also with
/// `code_challenge_method=plain`, is `invalid_grant`. The method is fixed at authorization: a
/// `code_challenge_method` in the token request changes nothing.
#[tokio::test]
async fn tk_06_pkce_downgrades_are_invalid_grant() {
    let app = spawn_on(fresh_database(), |s| {
        s.dev = true;
        s.oauth2.pkce.enforced = false;
    })
    .await;
    let (client_id, secret) = app.confidential_client().await;
    let auth = Auth::Basic(&client_id, &secret);
    let no_pkce = [("code_challenge", None), ("code_challenge_method", None)];
    let code = obtain_code(&app, &client_id, &no_pkce).await;
    let res = exchange(&app, &auth, (&code, REDIRECT), Some(VERIFIER), &[]).await;
    let body = assert_oauth_error(res, 400, "invalid_grant", &[&code]).await;
    let says = body["error_description"].as_str().unwrap();
    assert!(
        says.contains("code challenge was absent from the authorization request"),
        "{says}"
    );

    let plain = [("code_challenge_method", "plain")];
    for extra in [&[][..], &plain[..]] {
        let code = obtain_code(&app, &client_id, &[]).await;
        let res = exchange(&app, &auth, (&code, REDIRECT), Some(CHALLENGE), extra).await;
        assert_oauth_error(res, 400, "invalid_grant", &[&code]).await;
    }
    let code = obtain_code(&app, &client_id, &[]).await;
    let res = exchange(&app, &auth, (&code, REDIRECT), Some(VERIFIER), &plain).await;
    assert_eq!(
        res.status(),
        200,
        "the S256 challenge of the authorization counts"
    );
}

/// TK-07: verifiers of 42 or 129 characters, or with `+`, a space or NUL, are `invalid_grant`
/// with a hint on the syntax, never a 5xx.
#[tokio::test]
async fn tk_07_malformed_verifiers_are_invalid_grant() {
    let app = flow_app().await;
    let client_id = app.public_client().await;
    let auth = Auth::Public(&client_id);
    let base = "a".repeat(43);
    for verifier in [
        "a".repeat(42),
        "a".repeat(129),
        format!("{base}+"),
        format!("{base} b"),
        format!("{base}\0"),
    ] {
        let code = public_code(&app, &client_id).await;
        let res = exchange(&app, &auth, (&code, PUBLIC_REDIRECT), Some(&verifier), &[]).await;
        let body = assert_oauth_error(res, 400, "invalid_grant", &[&code]).await;
        let says = body["error_description"].as_str().unwrap();
        assert!(
            says.contains("43 to 128 characters"),
            "{verifier:?}: {says}"
        );
    }
}

/// TK-09: a random code, the real code with its last character flipped, truncated by 1, 4 or 8
/// characters or with an `x` appended, and a real code of another deployment are all
/// `invalid_grant` with one and the same body; none of them spends the real code.
#[tokio::test]
async fn tk_09_forged_codes_are_invalid_grant() {
    let app = flow_app().await;
    let (client_id, secret) = app.confidential_client().await;
    let auth = Auth::Basic(&client_id, &secret);
    let code = obtain_code(&app, &client_id, &[]).await;
    let elsewhere = flow_app().await;
    let (other_id, _) = elsewhere.confidential_client().await;
    let foreign = obtain_code(&elsewhere, &other_id, &[]).await;
    let random = format!("oly_ac_{}", uuid::Uuid::new_v4().simple());
    let mut flipped = code.clone();
    let last = flipped.pop().unwrap();
    flipped.push(if last == 'A' { 'B' } else { 'A' });
    let cut = |n: usize| code[..code.len() - n].to_string();
    let forged = [
        random,
        flipped,
        cut(1),
        cut(4),
        cut(8),
        format!("{code}x"),
        foreign,
    ];
    let mut bodies = Vec::new();
    for forged in &forged {
        let res = redeem(&app, &auth, forged, REDIRECT).await;
        bodies.push(assert_oauth_error(res, 400, "invalid_grant", &[forged]).await);
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "one body for every forged code: {bodies:?}"
    );
    assert_eq!(redeem(&app, &auth, &code, REDIRECT).await.status(), 200);
}

/// TK-13: `scope` and `resource` added to the code exchange are ignored: the token carries the
/// consented scope and audience, and the response's `scope` says what was granted.
#[tokio::test]
async fn tk_13_scope_and_resource_in_the_exchange_are_ignored() {
    let app = flow_app().await;
    let (client_id, secret) = app.confidential_client().await;
    let auth = Auth::Basic(&client_id, &secret);
    let code = obtain_code(&app, &client_id, &[]).await;
    let escalate = [
        ("scope", "openid email admin offline_access"),
        ("resource", "https://other-api.test"),
        ("audience", "https://other-api.test"),
    ];
    let res = exchange(&app, &auth, (&code, REDIRECT), Some(VERIFIER), &escalate).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["scope"], "openid email");
    assert!(body.get("refresh_token").is_none(), "{body}");
    let seen = introspect(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["scope"], "openid email");
    assert!(!seen.to_string().contains("other-api"), "{seen}");
}

/// The random parts of one kind of token: distinct, at least 128 bits by length and alphabet,
/// and no position fixed (or nearly) across the sample, as a counter or a clock would make it.
fn assert_random(kind: &str, parts: &[&str], bits_per_char: f64) {
    let distinct: HashSet<&&str> = parts.iter().collect();
    assert_eq!(distinct.len(), parts.len(), "{kind}: all distinct");
    let len = parts[0].len();
    assert!(parts.iter().all(|p| p.len() == len), "{kind}: {parts:?}");
    assert!(
        len as f64 * bits_per_char >= 128.0,
        "{kind}: {len} characters"
    );
    for i in 0..len {
        let seen: HashSet<u8> = parts.iter().map(|p| p.as_bytes()[i]).collect();
        assert!(seen.len() >= 10, "{kind}: position {i} takes {seen:?}");
    }
}

/// The key of an opaque token (`<prefix><key>.<signature>`): 32 random bytes, nothing else.
fn opaque_key<'a>(token: &'a str, prefix: &str) -> &'a str {
    let (key, signature) = token.strip_prefix(prefix).unwrap().split_once('.').unwrap();
    assert_eq!(signature.len(), 22, "{token}");
    let bytes = URL_SAFE_NO_PAD.decode(key).unwrap();
    assert_eq!(bytes.len(), 32, "{token}");
    assert!(!bytes.windows(6).any(|w| w == b"user-1"), "{token}");
    key
}

/// The share of one bits in the decoded keys: near one half for random bytes.
fn ones(keys: &[&str]) -> f64 {
    let bytes: Vec<u8> = keys
        .iter()
        .flat_map(|k| URL_SAFE_NO_PAD.decode(k).unwrap())
        .collect();
    let ones: u32 = bytes.iter().map(|b| b.count_ones()).sum();
    f64::from(ones) / (bytes.len() * 8) as f64
}

/// TK-14: 50 codes, 50 access tokens and 50 refresh tokens are random (see `assert_random`;
/// codes: 40 alphanumerics, 238 bits; opaque tokens: 32 random bytes plus an HMAC), and
/// nothing in them names the user or the client. JWT access tokens carry `typ: at+jwt`, `aud`,
/// `exp` and `client_id`.
#[tokio::test]
async fn tk_14_codes_and_tokens_are_random_and_opaque() {
    let app = flow_app().await;
    let (client_id, secret) = app.confidential_client().await;
    let b = browser();
    let first = app.authorize_url(&client_id, OFFLINE);
    let done = sign_in_remembering(&app, &b, &first, "user-1", true).await;
    let silent = [OFFLINE[0], ("prompt", Some("none"))];
    let silent = app.authorize_url(&client_id, &silent);
    let mut codes = vec![query_param(&done, "code").unwrap()];
    while codes.len() < 50 {
        codes.push(query_param(&follow(&b, &silent).await, "code").expect("a code"));
    }
    let auth = Auth::Basic(&client_id, &secret);
    let body: Value = redeem(&app, &auth, &codes[0], REDIRECT)
        .await
        .json()
        .await
        .unwrap();
    let mut tokens = vec![body];
    while tokens.len() < 50 {
        let rt = tokens.last().unwrap()["refresh_token"].as_str().unwrap();
        let res = refresh(&app, &auth, rt).await;
        assert_eq!(res.status(), 200);
        tokens.push(res.json().await.unwrap());
    }
    let codes: Vec<&str> = codes
        .iter()
        .map(|c| c.strip_prefix("oly_ac_").unwrap())
        .collect();
    assert_random("code", &codes, 62f64.log2());
    assert!(
        codes
            .iter()
            .all(|c| c.bytes().all(|b| b.is_ascii_alphanumeric()))
    );
    for (field, prefix) in [("access_token", "oly_at_"), ("refresh_token", "oly_rt_")] {
        let keys: Vec<&str> = tokens
            .iter()
            .map(|t| opaque_key(t[field].as_str().unwrap(), prefix))
            .collect();
        assert_random(field, &keys, 6.0);
        let share = ones(&keys);
        assert!((0.45..0.55).contains(&share), "{field}: {share} ones");
        assert!(
            tokens
                .iter()
                .all(|t| !t[field].as_str().unwrap().contains(&client_id))
        );
    }

    let (jwt_client, jwt_secret) = client_with(&app, json!({"access_token_strategy": "jwt"})).await;
    let code = obtain_code(&app, &jwt_client, &[]).await;
    let res = redeem(
        &app,
        &Auth::Basic(&jwt_client, &jwt_secret),
        &code,
        REDIRECT,
    )
    .await;
    let body: Value = res.json().await.unwrap();
    let parts: Vec<Value> = body["access_token"]
        .as_str()
        .unwrap()
        .split('.')
        .take(2)
        .map(|p| serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap())
        .collect();
    assert_eq!(parts[0]["typ"], "at+jwt");
    assert_eq!(parts[1]["client_id"], jwt_client.as_str());
    assert!(
        parts[1]["aud"].is_array() && parts[1]["exp"].is_i64(),
        "{}",
        parts[1]
    );
}
