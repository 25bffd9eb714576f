//! ID token claims (OIDC Core §2, §3.1.3.6) and the userinfo answer (§5.3.2). The consent's
//! extra claims never replace a registered claim.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::flow::code::Grant;

/// Claims only the server sets; consent claims with these names are dropped.
pub const REGISTERED: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "c_hash",
    "sid",
    "acr",
    "amr",
    "azp",
    "jti",
];

/// Everything an ID token is made of.
pub struct IdToken<'a> {
    /// `urls.self.issuer` byte for byte.
    pub issuer: &'a str,
    pub subject: &'a str,
    pub client_id: &'a str,
    pub grant: &'a Grant,
    /// The `at_hash` of the access token issued with it.
    pub at_hash: String,
    pub now: DateTime<Utc>,
    pub ttl: Duration,
}

impl IdToken<'_> {
    /// The claims to sign: registered claims first, then the consent's `session.id_token`.
    pub fn claims(&self) -> Value {
        let grant = self.grant;
        let iat = self.now.timestamp();
        let mut claims = json!({
            "iss": self.issuer,
            "sub": self.subject,
            "aud": [self.client_id],
            "exp": iat + i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2),
            "iat": iat,
            "auth_time": grant.auth_time.timestamp(),
            "at_hash": self.at_hash,
            "sid": grant.login_session_id.to_string(),
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        let object = claims.as_object_mut().expect("a JSON object");
        if let Some(nonce) = &grant.nonce {
            object.insert("nonce".into(), nonce.clone().into());
        }
        if let Some(acr) = &grant.acr {
            object.insert("acr".into(), acr.clone().into());
        }
        if !grant.amr.is_empty() {
            object.insert("amr".into(), grant.amr.clone().into());
        }
        object.extend(extra_claims(&grant.id_token_claims));
        claims
    }
}

/// The consent's claims without any registered name.
pub fn extra_claims(claims: &Map<String, Value>) -> impl Iterator<Item = (String, Value)> + '_ {
    claims
        .iter()
        .filter(|(name, _)| !REGISTERED.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
}

/// The `/userinfo` answer: `sub` and the consented claims, nothing else (ID-13).
pub fn userinfo(subject: &str, claims: &Map<String, Value>) -> Value {
    let mut answer = Map::new();
    answer.insert("sub".into(), subject.into());
    answer.extend(extra_claims(claims));
    Value::Object(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(extra: Value) -> Grant {
        Grant {
            login_session_id: uuid::Uuid::now_v7(),
            auth_time: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            nonce: Some("n-1".into()),
            scope: vec!["openid".into(), "email".into()],
            audience: vec![],
            acr: Some("1".into()),
            amr: vec!["pwd".into()],
            id_token_claims: extra.as_object().unwrap().clone(),
            access_token_claims: Map::new(),
        }
    }

    /// ID-01: the registered claims; consent claims cannot override them.
    #[test]
    fn registered_claims_win_over_consent_claims() {
        let grant = grant(
            json!({"email": "a@b.c", "iss": "evil", "sub": "root", "aud": ["x"], "nonce": "n-2", "azp": "x"}),
        );
        let now = DateTime::from_timestamp(1_700_000_100, 0).unwrap();
        let token = IdToken {
            issuer: "https://auth.test",
            subject: "user-1",
            client_id: "c1",
            grant: &grant,
            at_hash: "h".into(),
            now,
            ttl: Duration::from_secs(3600),
        };
        let claims = token.claims();
        assert_eq!(claims["iss"], "https://auth.test");
        assert_eq!(claims["sub"], "user-1");
        assert_eq!(claims["aud"], json!(["c1"]));
        assert_eq!(claims["iat"], 1_700_000_100);
        assert_eq!(claims["exp"], 1_700_003_700);
        assert_eq!(claims["auth_time"], 1_700_000_000);
        assert_eq!(claims["nonce"], "n-1");
        assert_eq!(claims["sid"], grant.login_session_id.to_string());
        assert_eq!(claims["acr"], "1");
        assert_eq!(claims["amr"], json!(["pwd"]));
        assert_eq!(claims["email"], "a@b.c");
        assert!(claims.get("azp").is_none());
        assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    }

    /// ID-02: no nonce requested, no nonce claim; no acr/amr when the login gave none.
    #[test]
    fn optional_claims_are_absent_when_not_given() {
        let mut grant = grant(json!({}));
        (grant.nonce, grant.acr, grant.amr) = (None, None, vec![]);
        let token = IdToken {
            issuer: "https://auth.test",
            subject: "s",
            client_id: "c",
            grant: &grant,
            at_hash: "h".into(),
            now: Utc::now(),
            ttl: Duration::from_secs(60),
        };
        let claims = token.claims();
        for absent in ["nonce", "acr", "amr"] {
            assert!(claims.get(absent).is_none(), "{absent}");
        }
    }

    /// ID-13: userinfo is `sub` plus the consented claims, never a registered claim.
    #[test]
    fn userinfo_is_sub_and_consented_claims() {
        let claims = json!({"email": "a@b.c", "sub": "other", "nonce": "n", "exp": 1});
        let answer = userinfo("user-1", claims.as_object().unwrap());
        assert_eq!(answer, json!({"sub": "user-1", "email": "a@b.c"}));
    }
}
