//! Signing keys, `/.well-known/jwks.json` and `/.well-known/openid-configuration`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth2_svc::Settings;
use serde_json::Value;
use service_kit::db::{Db, DbError, Dsn};
use service_kit::server::{Listeners, StopHandle};
use service_kit::settings::SecretList;
use sha2::{Digest, Sha256};

use crate::helpers::{self, fresh_database, random_secret, spawn, spawn_on};

async fn get(http: &reqwest::Client, url: &str) -> reqwest::Response {
    let res = http.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200, "{url}");
    res
}

async fn jwks(base: &str) -> Value {
    get(
        &reqwest::Client::new(),
        &format!("{base}/.well-known/jwks.json"),
    )
    .await
    .json()
    .await
    .unwrap()
}

/// The one key's kid, after checking the JWKS has exactly one key.
async fn only_kid(base: &str) -> String {
    let jwks = jwks(base).await;
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{jwks}");
    keys[0]["kid"].as_str().unwrap().to_string()
}

/// RFC 7638 §3, computed here without the service's code: the required members in
/// lexicographic order, no whitespace, SHA-256, base64url.
fn thumbprint(jwk: &Value) -> String {
    let canonical = format!(
        r#"{{"e":{},"kty":{},"n":{}}}"#,
        jwk["e"], jwk["kty"], jwk["n"]
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[derive(diesel::QueryableByName, Debug)]
struct StoredKey {
    #[diesel(sql_type = diesel::sql_types::Text)]
    kid: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    private_ciphertext: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    secret_fingerprint: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    public_jwk: String,
}

async fn stored_keys(dsn: &str) -> Vec<StoredKey> {
    let db = Db::connect(&Dsn::parse(dsn).unwrap(), &Default::default()).unwrap();
    db.read(|c| {
        use diesel::RunQueryDsl;
        diesel::sql_query(
            "SELECT kid, private_ciphertext, secret_fingerprint, \
             CAST(public_jwk AS TEXT) AS public_jwk FROM oauth2_jwk",
        )
        .load(c)
        .map_err(DbError::from)
    })
    .await
    .unwrap()
}

/// Starts the service on `dsn` with `system` as `secrets.system`, or returns the start error.
async fn start(dsn: &str, system: &SecretList) -> Result<(String, StopHandle), String> {
    let listeners = Listeners::ephemeral().unwrap();
    let base = format!(
        "http://127.0.0.1:{}",
        listeners.public.local_addr().unwrap().port()
    );
    let mut settings = Settings {
        dsn: dsn.to_string(),
        ..helpers::settings_for(&base)
    };
    settings.secrets.system = system.clone();
    let app = oauth2_svc::build(settings, Some(listeners))
        .await
        .map_err(|e| format!("{e:#}"))?;
    let stop = app.handle();
    tokio::spawn(app.run_until_stopped());
    Ok((base, stop))
}

fn two_secrets(first: &SecretList, second: &SecretList) -> SecretList {
    SecretList::new(first.all().iter().chain(second.all()).cloned())
}

/// ID-10: public members only, `kid`, `kty`, `use` and `alg` on the key, RSA of at least 2048
/// bits (rotation: `keys_admin.rs`).
#[tokio::test]
async fn id_10_the_jwks_publishes_one_public_rsa_key_named_by_its_thumbprint() {
    let app = spawn().await;
    let res = get(&app.http, &format!("{}/.well-known/jwks.json", app.public)).await;
    let cache = res.headers()["cache-control"].to_str().unwrap().to_string();
    assert!(cache.starts_with("public, max-age="), "{cache}");
    let jwks: Value = res.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{jwks}");
    let key = &keys[0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["kid"], thumbprint(key));
    let n = URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
    assert!(n.len() >= 256, "at least 2048 bits");
    for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        assert!(key.get(private).is_none(), "{private} published: {key}");
    }
}

#[tokio::test]
async fn the_private_key_is_encrypted_at_rest() {
    let app = spawn().await;
    let kid = only_kid(&app.public).await;
    let rows = stored_keys(&app.db.dsn).await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.kid, kid);
    for plain in ["PRIVATE KEY", "BEGIN", "\"d\"", "\"p\""] {
        assert!(
            !row.private_ciphertext.contains(plain),
            "{plain} in the row"
        );
    }
    let sealed = URL_SAFE_NO_PAD.decode(&row.private_ciphertext).unwrap();
    assert!(
        sealed.len() > 12 + 16 + 1000,
        "nonce, tag and an RSA-2048 key"
    );
    let public: Value = serde_json::from_str(&row.public_jwk).unwrap();
    assert!(public.get("d").is_none(), "{public}");
    assert_eq!(public["kid"], kid);
}

#[tokio::test]
async fn two_services_starting_together_agree_on_one_key() {
    let db = fresh_database();
    let system = random_secret();
    let (a, b) = tokio::join!(start(&db.dsn, &system), start(&db.dsn, &system));
    let ((a, stop_a), (b, stop_b)) = (a.unwrap(), b.unwrap());
    assert_eq!(only_kid(&a).await, only_kid(&b).await);
    assert_eq!(stored_keys(&db.dsn).await.len(), 1);
    stop_a.stop(true).await;
    stop_b.stop(true).await;
}

#[tokio::test]
async fn a_restart_keeps_the_key() {
    let system = random_secret();
    let first = spawn_on(fresh_database(), |s| s.secrets.system = system.clone()).await;
    let kid = only_kid(&first.public).await;
    first.stop.stop(true).await;
    let again = spawn_on(first.db, |s| s.secrets.system = system.clone()).await;
    assert_eq!(only_kid(&again.public).await, kid);
}

#[tokio::test]
async fn rotating_secrets_system_keeps_the_key_and_re_encrypts_it() {
    let (old, new) = (random_secret(), random_secret());
    let first = spawn_on(fresh_database(), |s| s.secrets.system = old.clone()).await;
    let kid = only_kid(&first.public).await;
    let before = stored_keys(&first.db.dsn).await.remove(0);
    first.stop.stop(true).await;

    let rotated = two_secrets(&new, &old);
    let (base, stop) = start(&first.db.dsn, &rotated).await.unwrap();
    assert_eq!(only_kid(&base).await, kid);
    let after = stored_keys(&first.db.dsn).await.remove(0);
    assert_ne!(after.secret_fingerprint, before.secret_fingerprint);
    assert_ne!(after.private_ciphertext, before.private_ciphertext);
    stop.stop(true).await;

    // Re-encrypted under the new secret: the old one can now be dropped.
    let (base, stop) = start(&first.db.dsn, &new).await.unwrap();
    assert_eq!(only_kid(&base).await, kid);
    stop.stop(true).await;
}

#[tokio::test]
async fn a_key_no_configured_secret_decrypts_stops_the_service() {
    let first = spawn().await;
    first.stop.stop(true).await;
    let err = start(&first.db.dsn, &random_secret()).await.err().unwrap();
    assert!(
        err.contains("cannot be decrypted with any secrets.system value"),
        "{err}"
    );
}

/// ID-09: the issuer byte for byte with every endpoint under it; S256 only; only the code
/// response type; no password or implicit grant; signed ID tokens only; the enabled client
/// authentication methods; RFC 9207 `iss`.
#[tokio::test]
async fn id_09_discovery_names_the_issuer_and_only_what_is_enabled() {
    let app = spawn().await;
    let res = get(
        &app.http,
        &format!("{}/.well-known/openid-configuration", app.public),
    )
    .await;
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["issuer"], app.public.as_str(), "byte for byte");
    let endpoints = doc.as_object().unwrap().iter();
    for (field, url) in endpoints.filter(|(k, _)| k.ends_with("_endpoint") || *k == "jwks_uri") {
        let url = url.as_str().unwrap();
        assert!(
            url.starts_with(&format!("{}/", app.public)),
            "{field}: {url}"
        );
    }
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    for grant in doc["grant_types_supported"].as_array().unwrap() {
        assert!(
            !matches!(grant.as_str(), Some("password" | "implicit")),
            "{grant}"
        );
    }
    let algs = doc["id_token_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    assert!(algs.contains(&serde_json::json!("RS256")));
    assert!(
        !algs
            .iter()
            .any(|a| a == "none" || a.as_str().unwrap().starts_with("HS"))
    );
    for field in [
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "userinfo_endpoint",
    ] {
        let url = doc[field].as_str().unwrap();
        assert!(
            url.starts_with(&format!("{}/", app.public)),
            "{field}: {url}"
        );
    }
    assert_eq!(
        doc["token_endpoint"],
        format!("{}/oauth2/token", app.public)
    );
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(doc["request_parameter_supported"], false);
    // Exactly what the token endpoint accepts, and nothing that is not issued yet.
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        serde_json::json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "none"
        ])
    );
    // CA-07: private_key_jwt signs with RS256 or ES256; subject types and ID-token algorithms
    // are what this deployment has (public only by default, one RS256 key).
    assert_eq!(
        doc["token_endpoint_auth_signing_alg_values_supported"],
        serde_json::json!(["RS256", "ES256"])
    );
    assert_eq!(
        doc["subject_types_supported"],
        serde_json::json!(["public"])
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    // RT-01, IR-*: refresh tokens, client credentials, revocation and public introspection
    // exist, so discovery names them.
    // The device flow (RFC 8628) and its endpoint, and the JWT bearer grant (RFC 7523).
    assert_eq!(
        doc["device_authorization_endpoint"],
        format!("{}/oauth2/device/auth", app.public)
    );
    for grant in [
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
    ] {
        assert!(
            doc["grant_types_supported"]
                .as_array()
                .unwrap()
                .contains(&serde_json::json!(grant)),
            "{grant}"
        );
    }
    assert!(
        doc["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("offline_access"))
    );
    assert_eq!(
        doc["revocation_endpoint"],
        format!("{}/oauth2/revoke", app.public)
    );
    assert_eq!(
        doc["introspection_endpoint"],
        format!("{}/oauth2/introspect", app.public)
    );
    assert_eq!(
        doc["introspection_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post"])
    );
    assert!(
        doc["revocation_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("none"))
    );
    // AZ-14, AZ-15 and logout: response modes, prompt values, and RP-initiated, front- and
    // back-channel logout with session ids.
    assert_eq!(
        doc["response_modes_supported"],
        serde_json::json!(["query", "fragment", "form_post"])
    );
    assert_eq!(
        doc["prompt_values_supported"],
        serde_json::json!(["none", "login", "consent", "select_account"])
    );
    assert_eq!(
        doc["end_session_endpoint"],
        format!("{}/oauth2/sessions/logout", app.public)
    );
    for flag in [
        "frontchannel_logout_supported",
        "frontchannel_logout_session_supported",
        "backchannel_logout_supported",
        "backchannel_logout_session_supported",
    ] {
        assert_eq!(doc[flag], true, "{flag}");
    }

    // The advertised jwks_uri serves the JWKS.
    let jwks: Value = get(&app.http, doc["jwks_uri"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
}

/// ID-09 outside dev mode: an https issuer, and every endpoint on https under it.
#[tokio::test]
async fn id_09_discovery_with_an_https_issuer_names_only_https_endpoints() {
    let issuer = "https://auth.olympus.test";
    let app = spawn_on(fresh_database(), |s| {
        s.urls.self_.issuer = Some(issuer.into());
    })
    .await;
    let url = format!("{}/.well-known/openid-configuration", app.public);
    let doc: Value = get(&app.http, &url).await.json().await.unwrap();
    assert_eq!(doc["issuer"], issuer);
    let endpoints = doc.as_object().unwrap().iter();
    for (field, url) in endpoints.filter(|(k, _)| k.ends_with("_endpoint") || *k == "jwks_uri") {
        let url = url.as_str().unwrap();
        assert!(url.starts_with(&format!("{issuer}/")), "{field}: {url}");
    }
}

#[tokio::test]
async fn discovery_keeps_an_issuer_path() {
    let app = spawn_on(fresh_database(), |s| {
        let issuer = s.urls.self_.issuer.take().unwrap();
        s.urls.self_.issuer = Some(format!("{issuer}/auth"));
    })
    .await;
    let doc: Value = get(
        &app.http,
        &format!("{}/.well-known/openid-configuration", app.public),
    )
    .await
    .json()
    .await
    .unwrap();
    let issuer = format!("{}/auth", app.public);
    assert_eq!(doc["issuer"], issuer.as_str());
    assert_eq!(doc["token_endpoint"], format!("{issuer}/oauth2/token"));
    assert_eq!(doc["jwks_uri"], format!("{issuer}/.well-known/jwks.json"));
}
