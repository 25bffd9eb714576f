use chrono::Duration;
use service_kit::db::{Id, Json};

use super::*;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// RFC 7636 Appendix B.
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn row(now: DateTime<Utc>) -> CodeRow {
    let grant = serde_json::json!({
        "login_session_id": uuid::Uuid::now_v7(),
        "auth_time": now,
        "nonce": null,
        "scope": ["openid"],
        "audience": [],
        "acr": null,
        "amr": [],
        "id_token_claims": {},
        "access_token_claims": {},
    });
    CodeRow {
        id: Id::new_v7(),
        code_hash: "h".into(),
        flow_id: Id::new_v7(),
        client_id: "c1".into(),
        redirect_uri: "https://rp.test/cb".into(),
        code_challenge: Some(CHALLENGE.into()),
        subject: "user-1".into(),
        grant_data: Json(grant),
        used: true,
        expires_at: (now + Duration::minutes(10)).naive_utc(),
        created_at: now.naive_utc(),
    }
}

fn request(redirect_uri: Option<&str>, verifier: Option<&str>) -> CodeExchange {
    CodeExchange {
        code: "oly_ac_x".into(),
        redirect_uri: redirect_uri.map(str::to_string),
        code_verifier: verifier.map(str::to_string),
    }
}

fn grant_error(result: Result<Grant, OAuth2Error>) -> &'static str {
    match result {
        Err(OAuth2Error::InvalidGrant(hint)) => hint,
        other => panic!("expected invalid_grant, got {other:?}"),
    }
}

#[test]
fn a_matching_redemption_yields_the_grant() {
    let now = Utc::now();
    let grant = check_redemption(
        &row(now),
        &request(Some("https://rp.test/cb"), Some(VERIFIER)),
        "c1",
        now,
    )
    .unwrap();
    assert_eq!(grant.scope, ["openid"]);
}

/// TK-03, and a code of another client or past its TTL.
#[test]
fn client_expiry_and_redirect_uri_are_checked() {
    let now = Utc::now();
    let good = request(Some("https://rp.test/cb"), Some(VERIFIER));
    assert!(grant_error(check_redemption(&row(now), &good, "c2", now)).contains("another client"));
    let later = now + Duration::minutes(10);
    assert!(grant_error(check_redemption(&row(now), &good, "c1", later)).contains("expired"));
    for uri in [
        None,
        Some("https://rp.test/cb2"),
        Some("https://rp.test/cb?x"),
        Some("https://rp.test/cb/"),
    ] {
        let result = check_redemption(&row(now), &request(uri, Some(VERIFIER)), "c1", now);
        assert!(grant_error(result).contains("redirect_uri"), "{uri:?}");
    }
}

/// TK-05, TK-06, TK-07: PKCE S256 only, verifier syntax, no downgrade.
#[test]
fn pkce_is_verified() {
    assert!(verify_pkce(Some(CHALLENGE), Some(VERIFIER)).is_ok());
    assert!(verify_pkce(None, None).is_ok());
    let wrong = "x".repeat(43);
    let short = &VERIFIER[..42];
    let long = "a".repeat(129);
    let plus = format!("{}+", &VERIFIER[..43]);
    let space = format!("{} ", &VERIFIER[..43]);
    let nul = format!("{}\0", &VERIFIER[..43]);
    for (challenge, verifier) in [
        (Some(CHALLENGE), None),
        (Some(CHALLENGE), Some(wrong.as_str())),
        (Some(CHALLENGE), Some(CHALLENGE)),
        (Some(CHALLENGE), Some(short)),
        (Some(CHALLENGE), Some(long.as_str())),
        (Some(CHALLENGE), Some(plus.as_str())),
        (Some(CHALLENGE), Some(space.as_str())),
        (Some(CHALLENGE), Some(nul.as_str())),
        (None, Some(VERIFIER)),
    ] {
        let result = verify_pkce(challenge, verifier);
        assert!(
            matches!(result, Err(OAuth2Error::InvalidGrant(_))),
            "{challenge:?} {verifier:?}"
        );
    }
}

#[test]
fn constant_time_eq_compares_whole_values() {
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"ab"));
}

#[test]
fn a_code_is_required() {
    let form = Form::parse(
        Some(form::FORM_MEDIA_TYPE),
        b"grant_type=authorization_code",
    )
    .unwrap();
    assert!(matches!(
        CodeExchange::try_from(&form),
        Err(OAuth2Error::InvalidRequest(_))
    ));
}

#[test]
fn the_token_response_has_the_rfc_shape() {
    let response = TokenResponse {
        access_token: "oly_at_x".into(),
        token_type: "bearer",
        expires_in: 3600,
        scope: "openid email".into(),
        refresh_token: None,
        id_token: None,
    };
    let json = serde_json::to_value(response).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"access_token": "oly_at_x", "token_type": "bearer", "expires_in": 3600, "scope": "openid email"})
    );
}
