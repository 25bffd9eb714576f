//! Token introspection (RFC 7662) in Hydra's `introspectedOAuth2Token` shape. An inactive token
//! (unknown, forged, expired, revoked, a used refresh token, an ID token) answers
//! `{"active": false}` and nothing else (IR-02). On the public listener the caller is an
//! authenticated client and sees a token as active only if it is the token's client or in the
//! token's audience (IR-03); on the admin listener (Hydra-compatible, no authentication) every
//! token of ours is visible.

use chrono::NaiveDateTime;
use serde_json::{Map, Value, json};

use super::form::Form;
use super::issue;
use super::refresh_store::{self, RefreshTokenRow};
use super::store::{self, AccessTokenRow};
use super::{OAuth2Error, TokenClaims, opaque};
use crate::flow::code::Grant;
use crate::keyed::Purpose;
use crate::state::AppState;

/// Who asks.
pub enum Caller {
    /// The admin listener: network placement is the authentication.
    Admin,
    /// An authenticated client on the public listener.
    Client(String),
}

/// `token` and the optional space-separated `scope` the token must have.
pub struct IntrospectRequest {
    pub token: String,
    pub scope: Vec<String>,
}

impl TryFrom<&Form> for IntrospectRequest {
    type Error = OAuth2Error;

    fn try_from(form: &Form) -> Result<Self, Self::Error> {
        let token = form.get("token").ok_or_else(|| {
            OAuth2Error::InvalidRequest("The request is missing the 'token' parameter".into())
        })?;
        Ok(IntrospectRequest {
            token: token.to_string(),
            scope: form
                .get("scope")
                .map(|s| s.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default(),
        })
    }
}

/// What a token says about itself, whichever kind it is.
struct Facts {
    use_: &'static str,
    client_id: String,
    subject: String,
    scope: Vec<String>,
    audience: Vec<String>,
    ext: Map<String, Value>,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

pub async fn introspect(
    state: &AppState,
    request: IntrospectRequest,
    caller: Caller,
) -> Result<Value, OAuth2Error> {
    let inactive = json!({"active": false});
    let Some(facts) = facts(state, &request.token).await? else {
        return Ok(inactive);
    };
    let visible = match &caller {
        Caller::Admin => true,
        Caller::Client(id) => *id == facts.client_id || facts.audience.contains(id),
    };
    let scoped = request.scope.iter().all(|s| facts.scope.contains(s));
    if !visible || !scoped {
        return Ok(inactive);
    }
    let iat = facts.created_at.and_utc().timestamp();
    let sub = crate::subject::for_client_id(state, &facts.client_id, &facts.subject).await?;
    let mut answer = json!({
        "active": true,
        "scope": facts.scope.join(" "),
        "client_id": facts.client_id,
        "sub": sub,
        "exp": facts.expires_at.and_utc().timestamp(),
        "iat": iat,
        "nbf": iat,
        "aud": facts.audience,
        "iss": issue::issuer(state),
        "token_use": facts.use_,
        "ext": facts.ext,
    });
    if facts.use_ == "access_token" {
        answer["token_type"] = "Bearer".into();
    }
    Ok(answer)
}

/// The facts of an active token of ours; signatures are checked before any lookup.
async fn facts(state: &AppState, token: &str) -> Result<Option<Facts>, OAuth2Error> {
    let now = state.settings.settings.clock.now().naive_utc();
    if token.starts_with(opaque::REFRESH_TOKEN_PREFIX) {
        if !opaque::verify(&state.hasher, opaque::REFRESH_TOKEN_PREFIX, token) {
            return Ok(None);
        }
        let hashes = state.hasher.candidates(Purpose::RefreshToken, token);
        let row = state
            .db
            .read(move |c| refresh_store::find(c, &hashes).map_err(OAuth2Error::from))
            .await?;
        return Ok(row
            .filter(|r| !r.revoked && r.used_at.is_none() && r.expires_at > now)
            .and_then(refresh_facts));
    }
    let Some(handle) = issue::lookup_handle(state, token) else {
        return Ok(None);
    };
    let hashes = state.hasher.candidates(Purpose::AccessToken, &handle);
    let row = state
        .db
        .read(move |c| store::find_active(c, &hashes, now).map_err(OAuth2Error::from))
        .await?;
    Ok(row.and_then(access_facts))
}

fn access_facts(row: AccessTokenRow) -> Option<Facts> {
    let claims: TokenClaims = serde_json::from_value(row.claims.0).ok()?;
    Some(Facts {
        use_: "access_token",
        client_id: row.client_id,
        subject: row.subject,
        scope: serde_json::from_value(row.scope.0).ok()?,
        audience: serde_json::from_value(row.audience.0).ok()?,
        ext: claims.ext,
        created_at: row.created_at,
        expires_at: row.expires_at,
    })
}

fn refresh_facts(row: RefreshTokenRow) -> Option<Facts> {
    let grant: Grant = serde_json::from_value(row.grant_data.0).ok()?;
    Some(Facts {
        use_: "refresh_token",
        client_id: row.client_id,
        subject: row.subject,
        scope: serde_json::from_value(row.scope.0).ok()?,
        audience: grant.audience,
        ext: grant.access_token_claims,
        created_at: row.created_at,
        expires_at: row.expires_at,
    })
}
