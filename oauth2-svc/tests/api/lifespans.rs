//! Per-client token lifespans reach every token a grant issues, ID tokens included.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::browser::{REDIRECT, flow_app};
use crate::helpers::obtain_code;
use crate::token::{Auth, redeem, token};

fn lifetime(jwt: &str) -> i64 {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap()
}

#[tokio::test]
async fn id_token_lifespans_are_the_clients_per_grant() {
    let app = flow_app().await;
    let (id, secret) = app.confidential_client().await;
    let auth = Auth::Basic(&id, &secret);
    let scope = [("scope", Some("openid offline_access"))];

    // Without lifespans of its own the client gets ttl.id_token (1h).
    let code = obtain_code(&app, &id, &scope).await;
    let tokens: Value = redeem(&app, &auth, &code, REDIRECT)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(lifetime(tokens["id_token"].as_str().unwrap()), 3600);

    let lifespans = json!({
        "authorization_code_grant_access_token_lifespan": "10m",
        "authorization_code_grant_id_token_lifespan": "5m",
        "refresh_token_grant_id_token_lifespan": "7m",
    });
    let res = app
        .http
        .put(format!("{}/admin/clients/{id}/lifespans", app.admin))
        .json(&lifespans)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let code = obtain_code(&app, &id, &scope).await;
    let tokens: Value = redeem(&app, &auth, &code, REDIRECT)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tokens["expires_in"], 600);
    assert_eq!(lifetime(tokens["id_token"].as_str().unwrap()), 300);

    let params = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
    ];
    let refreshed: Value = token(&app, &auth, &params).await.json().await.unwrap();
    assert_eq!(lifetime(refreshed["id_token"].as_str().unwrap()), 420);
    assert_eq!(
        refreshed["expires_in"], 3600,
        "no refresh-grant access lifespan set"
    );
}
