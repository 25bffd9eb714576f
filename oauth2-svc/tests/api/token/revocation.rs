//! Revocation (RFC 7009), introspection (RFC 7662), the `client_credentials` grant and JWT
//! access tokens (RFC 9068): IR-01..IR-06, TK-10, TK-13, TK-14. `DELETE /admin/oauth2/tokens`
//! and IR-07 (a storage failure) are in `lifecycle.rs`.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::refresh::{introspect, offline_tokens, refresh};
use super::{Auth, assert_oauth_error, basic, token, userinfo};
use crate::browser::flow_app;
use crate::helpers::{TestApp, fresh_database, spawn_on};

fn text<'a>(body: &'a Value, field: &str) -> &'a str {
    body[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field}: {body}"))
}

async fn revoke(app: &TestApp, id: &str, secret: &str, params: &[(&str, &str)]) -> u16 {
    let res = app
        .http
        .post(format!("{}/oauth2/revoke", app.public))
        .header("authorization", basic(id, secret))
        .form(params)
        .send()
        .await
        .unwrap();
    res.status().as_u16()
}

async fn introspect_as(app: &TestApp, auth: Option<&str>, token: &str) -> reqwest::Response {
    let mut req = app
        .http
        .post(format!("{}/oauth2/introspect", app.public))
        .form(&[("token", token)]);
    if let Some(auth) = auth {
        req = req.header("authorization", auth);
    }
    req.send().await.unwrap()
}

/// A machine client: client_credentials, scopes `read write`, audience `https://api.test`.
pub(super) async fn machine_client(app: &TestApp, extra: Value) -> (String, String) {
    let mut body = json!({"grant_types": ["client_credentials"], "scope": "read write",
        "audience": ["https://api.test"]});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let created: Value = app.create_client(body).await.json().await.unwrap();
    (
        text(&created, "client_id").into(),
        text(&created, "client_secret").into(),
    )
}

pub(super) async fn credentials(
    app: &TestApp,
    id: &str,
    secret: &str,
    params: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend_from_slice(params);
    token(app, &Auth::Basic(id, secret), &form).await
}

/// TK-10, TK-13: client_credentials gives an access token only (no refresh or ID token) for
/// allowed scopes and audiences; anything else is refused.
#[tokio::test]
async fn token_client_credentials_issue_an_access_token_within_the_client_limits() {
    let app = flow_app().await;
    let (id, secret) = machine_client(&app, json!({})).await;
    let res = credentials(
        &app,
        &id,
        &secret,
        &[("scope", "read"), ("audience", "https://api.test")],
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["scope"], "read");
    assert_eq!(body["token_type"], "bearer");
    assert!(
        body.get("refresh_token").is_none() && body.get("id_token").is_none(),
        "{body}"
    );
    let seen = introspect(&app, text(&body, "access_token")).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["sub"], id.as_str());
    assert_eq!(seen["client_id"], id.as_str());
    assert_eq!(seen["aud"], json!(["https://api.test"]));
    assert_eq!(seen["token_use"], "access_token");

    let res = credentials(&app, &id, &secret, &[("scope", "read admin")]).await;
    assert_oauth_error(res, 400, "invalid_scope", &[&secret]).await;
    let res = credentials(&app, &id, &secret, &[("audience", "https://other.test")]).await;
    assert_oauth_error(res, 400, "invalid_request", &[]).await;
    let res = credentials(&app, &id, "wrong-secret-wrong-secret-wrong-secret", &[]).await;
    assert_oauth_error(res, 401, "invalid_client", &[]).await;
}

/// IR-01: public introspection needs client authentication: none, a bearer token, a wrong
/// secret and a public client are all 401 without token metadata.
#[tokio::test]
async fn ir_01_public_introspection_requires_client_authentication() {
    let app = flow_app().await;
    let (id, secret) = machine_client(&app, json!({})).await;
    let body: Value = credentials(&app, &id, &secret, &[])
        .await
        .json()
        .await
        .unwrap();
    let at = text(&body, "access_token");
    let bearer = format!("Bearer {at}");
    let wrong = basic(&id, "not-the-secret-not-the-secret-not-the-secret");
    for auth in [None, Some(bearer.as_str()), Some(wrong.as_str())] {
        let res = introspect_as(&app, auth, at).await;
        let body = assert_oauth_error(res, 401, "invalid_client", &[at]).await;
        assert!(body.get("active").is_none());
    }
    let public = app.public_client().await;
    let res = app
        .http
        .post(format!("{}/oauth2/introspect", app.public))
        .form(&[("token", at), ("client_id", public.as_str())])
        .send()
        .await
        .unwrap();
    assert_oauth_error(res, 401, "invalid_client", &[at]).await;
    let ok = introspect_as(&app, Some(&basic(&id, &secret)), at).await;
    assert_eq!(ok.json::<Value>().await.unwrap()["active"], true);
}

/// IR-02: inactive tokens answer exactly `{"active": false}`: a random string, a forged token,
/// an expired, a revoked, a rotated refresh token and an ID token.
#[tokio::test]
async fn ir_02_inactive_tokens_reveal_nothing() {
    let app = flow_app().await;
    let (id, secret) = app.confidential_client().await;
    let first = offline_tokens(&app, &id, &secret).await;
    let rt1 = text(&first, "refresh_token");
    let second: Value = refresh(&app, &Auth::Basic(&id, &secret), rt1)
        .await
        .json()
        .await
        .unwrap();
    let at2 = text(&second, "access_token");
    let forged = format!("{}x", &at2[..at2.len() - 1]);
    let inactive = json!({"active": false});
    for token in ["random", forged.as_str(), rt1, text(&second, "id_token")] {
        assert_eq!(introspect(&app, token).await, inactive, "{token}");
    }
    assert_eq!(revoke(&app, &id, &secret, &[("token", at2)]).await, 200);
    assert_eq!(introspect(&app, at2).await, inactive);
    let third = offline_tokens(&app, &id, &secret).await;
    app.clock.advance(Duration::from_secs(3601));
    assert_eq!(
        introspect(&app, text(&third, "access_token")).await,
        inactive
    );
    assert_eq!(
        introspect(&app, text(&third, "refresh_token")).await["active"],
        true
    );
}

/// IR-03: an active token's fields (Hydra's introspectedOAuth2Token); a client that is neither
/// the token's client nor in its audience sees it inactive; required scopes are honoured.
#[tokio::test]
async fn ir_03_active_tokens_show_their_fields_to_the_right_callers() {
    let app = flow_app().await;
    let (id, secret) = app.confidential_client().await;
    let tokens = offline_tokens(&app, &id, &secret).await;
    let at = text(&tokens, "access_token");
    let res = introspect_as(&app, Some(&basic(&id, &secret)), at).await;
    assert_eq!(res.headers()["cache-control"], "no-store");
    let seen: Value = res.json().await.unwrap();
    assert_eq!(seen["active"], true);
    assert_eq!(seen["client_id"], id.as_str());
    assert_eq!(seen["sub"], "user-1");
    assert_eq!(seen["scope"], "openid offline_access email");
    assert_eq!(seen["token_type"], "Bearer");
    assert_eq!(seen["token_use"], "access_token");
    assert_eq!(seen["iss"], app.public.as_str());
    assert_eq!(seen["aud"], json!([]));
    assert_eq!(
        seen["exp"].as_i64().unwrap() - seen["iat"].as_i64().unwrap(),
        3600
    );
    assert!(seen["ext"].is_object());
    let rt = introspect(&app, text(&tokens, "refresh_token")).await;
    assert_eq!(
        (rt["active"].clone(), rt["token_use"].clone()),
        (json!(true), json!("refresh_token"))
    );

    let (other, other_secret) = machine_client(&app, json!({})).await;
    let res = introspect_as(&app, Some(&basic(&other, &other_secret)), at).await;
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"active": false}));
    let scoped = app
        .http
        .post(format!("{}/admin/oauth2/introspect", app.admin))
        .form(&[("token", at), ("scope", "profile")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        scoped.json::<Value>().await.unwrap(),
        json!({"active": false})
    );
    let missing = app
        .http
        .post(format!("{}/admin/oauth2/introspect", app.admin))
        .form(&[("scope", "x")])
        .send()
        .await
        .unwrap();
    assert_oauth_error(missing, 400, "invalid_request", &[]).await;
}

/// IR-03: a resource server named in a token's audience sees it active (and whose it is); a
/// token aimed elsewhere stays inactive for it.
#[tokio::test]
async fn ir_03_a_resource_server_in_the_audience_sees_the_token() {
    let app = flow_app().await;
    let (id, secret) = app.confidential_client().await;
    let at = text(&offline_tokens(&app, &id, &secret).await, "access_token").to_string();
    let (other, other_secret) = machine_client(&app, json!({})).await;
    // A resource server named in the token's audience sees it active.
    let rs = json!({"client_id": "https://api.test", "grant_types": ["client_credentials"]});
    let rs: Value = app.create_client(rs).await.json().await.unwrap();
    let rs_auth = basic("https://api.test", text(&rs, "client_secret"));
    let aimed: Value = credentials(
        &app,
        &other,
        &other_secret,
        &[("audience", "https://api.test")],
    )
    .await
    .json()
    .await
    .unwrap();
    let aimed = text(&aimed, "access_token");
    let seen: Value = introspect_as(&app, Some(&rs_auth), aimed)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (seen["active"].clone(), seen["client_id"].clone()),
        (json!(true), json!(other))
    );
    let res = introspect_as(&app, Some(&rs_auth), &at).await;
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"active": false}));
}

/// IR-05: another client's revocation is a 200 no-op; the tokens stay active.
#[tokio::test]
async fn ir_05_other_clients_cannot_revoke() {
    let app = flow_app().await;
    let (id, secret) = app.confidential_client().await;
    let (other, other_secret) = app.confidential_client().await;
    let tokens = offline_tokens(&app, &id, &secret).await;
    for field in ["access_token", "refresh_token"] {
        let token = text(&tokens, field);
        assert_eq!(
            revoke(&app, &other, &other_secret, &[("token", token)]).await,
            200
        );
        assert_eq!(introspect(&app, token).await["active"], true, "{field}");
    }
}

/// IR-06: revoking the refresh token kills the grant's access tokens; revoking an access
/// token kills it at userinfo; unknown tokens and unknown hints are 200; no token is 400.
#[tokio::test]
async fn ir_06_revocation_takes_effect() {
    let app = flow_app().await;
    let (id, secret) = app.confidential_client().await;
    let tokens = offline_tokens(&app, &id, &secret).await;
    let (at, rt) = (
        text(&tokens, "access_token"),
        text(&tokens, "refresh_token"),
    );
    let params = [("token", rt), ("token_type_hint", "refresh_token")];
    assert_eq!(revoke(&app, &id, &secret, &params).await, 200);
    assert_eq!(introspect(&app, at).await, json!({"active": false}));
    let res = refresh(&app, &Auth::Basic(&id, &secret), rt).await;
    assert_oauth_error(res, 400, "invalid_grant", &[]).await;

    let tokens = offline_tokens(&app, &id, &secret).await;
    let at = text(&tokens, "access_token");
    assert_eq!(userinfo(&app, at).await.status(), 200);
    assert_eq!(
        revoke(
            &app,
            &id,
            &secret,
            &[("token", at), ("token_type_hint", "foo")]
        )
        .await,
        200
    );
    assert_eq!(userinfo(&app, at).await.status(), 401);
    assert_eq!(
        revoke(&app, &id, &secret, &[("token", "oly_at_unknown.x")]).await,
        200
    );
    assert_eq!(
        revoke(&app, &id, &secret, &[("token_type_hint", "access_token")]).await,
        400
    );
    let res = app
        .http
        .post(format!("{}/oauth2/revoke", app.public))
        .form(&[("token", at)])
        .send()
        .await
        .unwrap();
    assert_oauth_error(res, 401, "invalid_client", &[at]).await;
}

fn decode(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// TK-14, RFC 9068: a client with `access_token_strategy: jwt` gets `typ: at+jwt` access
/// tokens with aud, exp, client_id and scope, still introspectable, usable and revocable.
#[tokio::test]
async fn token_jwt_access_tokens_per_client_are_introspectable_and_revocable() {
    let app = flow_app().await;
    let created: Value = app
        .create_client(json!({"redirect_uris": [crate::browser::REDIRECT],
            "scope": "openid offline_access email", "access_token_strategy": "jwt",
            "grant_types": ["authorization_code", "refresh_token"]}))
        .await
        .json()
        .await
        .unwrap();
    let (id, secret) = (text(&created, "client_id"), text(&created, "client_secret"));
    let tokens = offline_tokens(&app, id, secret).await;
    let at = text(&tokens, "access_token");
    let parts: Vec<&str> = at.split('.').collect();
    assert_eq!(parts.len(), 3, "{at}");
    let (header, claims) = (decode(parts[0]), decode(parts[1]));
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "RS256");
    assert_eq!(claims["client_id"], id);
    assert_eq!(claims["sub"], "user-1");
    assert_eq!(claims["aud"], json!([id]));
    assert_eq!(claims["scope"], "openid offline_access email");
    assert_eq!(claims["iss"], app.public.as_str());
    assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());
    assert!(claims["jti"].is_string());
    assert_eq!(introspect(&app, at).await["active"], true);
    assert_eq!(userinfo(&app, at).await.status(), 200);
    let mut tampered = at.to_string();
    tampered.replace_range(at.len() - 4.., "AAAA");
    assert_eq!(introspect(&app, &tampered).await, json!({"active": false}));
    assert_eq!(revoke(&app, id, secret, &[("token", at)]).await, 200);
    assert_eq!(introspect(&app, at).await, json!({"active": false}));
    assert_eq!(userinfo(&app, at).await.status(), 401);
}

/// `strategies.access_token: jwt` makes every client's access tokens JWTs.
#[tokio::test]
async fn token_jwt_access_tokens_globally() {
    let app = spawn_on(fresh_database(), |s| {
        s.strategies.access_token = "jwt".into()
    })
    .await;
    let (id, secret) = machine_client(&app, json!({})).await;
    let body: Value = credentials(&app, &id, &secret, &[("audience", "https://api.test")])
        .await
        .json()
        .await
        .unwrap();
    let at = text(&body, "access_token");
    let claims = decode(at.split('.').nth(1).unwrap());
    assert_eq!(claims["aud"], json!(["https://api.test"]));
    assert_eq!(claims["sub"], id.as_str());
    let seen = introspect(&app, at).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["sub"], id.as_str());
    let (opaque_id, opaque_secret) =
        machine_client(&app, json!({"access_token_strategy": "opaque"})).await;
    let body: Value = credentials(&app, &opaque_id, &opaque_secret, &[])
        .await
        .json()
        .await
        .unwrap();
    assert!(text(&body, "access_token").starts_with("oly_at_"));
}
