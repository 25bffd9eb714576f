//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523 §2.1, §3): the assertion
//! must be signed by a trusted, unexpired key of its `iss`, name a trusted `sub`, be meant for
//! this token endpoint (`aud`), carry `exp` (at most `oauth2.grant.jwt.max_ttl` ahead), `iat`
//! (not from the future, not older than the same bound) and a `jti` never seen before; the
//! requested scope must be within the trusted scope and the client's. The answer is an access
//! token for `sub`: no refresh token and no ID token.

use chrono::{DateTime, Utc};
use diesel::Connection;
use service_kit::db::AnyConnection;

use super::GRANT_TYPE;
use super::store::{self, TrustedIssuerRow};
use super::trust::Assertion;
use crate::device::error::{GrantError, respond};
use crate::keyed::Purpose;
use crate::state::AppState;
use crate::token::client_auth::AuthenticatedClient;
use crate::token::form::Form;
use crate::token::issue::{self, AccessSpec, Pending};
use crate::token::{TokenClaims, TokenKind, TokenResponse, token_lifespan};

/// Leeway for clocks of other parties.
const SKEW_SECS: i64 = 60;

pub async fn exchange(
    state: &AppState,
    client: &AuthenticatedClient,
    form: &Form,
) -> actix_web::HttpResponse {
    respond(grant(state, client, form).await)
}

fn invalid(description: &'static str) -> GrantError {
    GrantError::invalid_grant(description)
}

async fn grant(
    state: &AppState,
    client: &AuthenticatedClient,
    form: &Form,
) -> Result<TokenResponse, GrantError> {
    if !client.may_use_grant(GRANT_TYPE) {
        return Err(GrantError::new(
            "unauthorized_client",
            "The client is not allowed to use the jwt-bearer grant.",
        ));
    }
    let raw = form.get("assertion").ok_or(GrantError::new(
        "invalid_request",
        "The request is missing the 'assertion' parameter",
    ))?;
    let scope: Vec<String> = form
        .get("scope")
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let allowed: Vec<&str> = client.document.scope.split_whitespace().collect();
    if scope.iter().any(|s| !allowed.contains(&s.as_str())) {
        return Err(GrantError::new(
            "invalid_scope",
            "The client may not request one of the scopes.",
        ));
    }
    let assertion =
        Assertion::parse(raw).ok_or_else(|| invalid("The assertion is not a well-formed JWT."))?;
    let now = state.settings.settings.clock.now();
    let trusted = trusted_key(state, &assertion, now).await?;
    let claims = check_claims(state, &assertion, &trusted, now)?;
    if scope.iter().any(|s| !claims.trusted_scope.contains(s)) {
        return Err(GrantError::new(
            "invalid_scope",
            "The trust relationship does not allow one of the requested scopes.",
        ));
    }
    issue_token(state, client, claims, scope, now).await
}

/// The trust relationship whose key signed the assertion, for its `iss` and `sub`.
async fn trusted_key(
    state: &AppState,
    assertion: &Assertion,
    now: DateTime<Utc>,
) -> Result<TrustedIssuerRow, GrantError> {
    let untrusted = || invalid("The assertion's issuer, subject or key is not trusted.");
    let issuer = assertion.text("iss").ok_or_else(untrusted)?.to_string();
    let subject = assertion.text("sub").ok_or_else(untrusted)?.to_string();
    let at = now.naive_utc();
    let rows = state
        .db
        .read(move |c| store::active_for(c, &issuer, at).map_err(GrantError::from))
        .await?;
    rows.into_iter()
        .filter(|row| row.allow_any_subject || row.subject == subject)
        .find(|row| assertion.signed_by(&row.public_jwk.0))
        .ok_or_else(untrusted)
}

struct Checked {
    subject: String,
    jti_hash: String,
    expires_at: DateTime<Utc>,
    trusted_scope: Vec<String>,
}

fn check_claims(
    state: &AppState,
    assertion: &Assertion,
    trusted: &TrustedIssuerRow,
    now: DateTime<Utc>,
) -> Result<Checked, GrantError> {
    let issuer = issue::issuer(state).trim_end_matches('/');
    let token_endpoint = format!("{issuer}/oauth2/token");
    let audience = assertion.audience();
    if !audience
        .iter()
        .any(|a| *a == token_endpoint || a.trim_end_matches('/') == issuer)
    {
        return Err(invalid(
            "The assertion's audience is not this token endpoint.",
        ));
    }
    let max_ttl = i64::try_from(state.settings.settings.oauth2.grant.jwt.max_ttl.as_secs())
        .unwrap_or(i64::MAX / 4);
    let now_s = now.timestamp();
    let exp = assertion
        .number("exp")
        .ok_or_else(|| invalid("The assertion has no exp."))?;
    if exp <= now_s - SKEW_SECS {
        return Err(invalid("The assertion has expired."));
    }
    if exp > now_s + max_ttl {
        return Err(invalid("The assertion's exp is too far in the future."));
    }
    let iat = assertion
        .number("iat")
        .ok_or_else(|| invalid("The assertion has no iat."))?;
    if iat > now_s + SKEW_SECS || iat < now_s - max_ttl {
        return Err(invalid("The assertion's iat is in the future or too old."));
    }
    if assertion
        .number("nbf")
        .is_some_and(|nbf| nbf > now_s + SKEW_SECS)
    {
        return Err(invalid("The assertion is not valid yet."));
    }
    let jti = assertion
        .text("jti")
        .filter(|j| !j.is_empty() && j.len() <= 512);
    let jti = jti.ok_or_else(|| invalid("The assertion has no jti."))?;
    let key = format!("{}\n{jti}", trusted.issuer);
    Ok(Checked {
        subject: assertion.text("sub").unwrap_or_default().to_string(),
        jti_hash: state.hasher.hash(Purpose::AssertionId, &key),
        expires_at: DateTime::from_timestamp(exp.max(now_s) + SKEW_SECS, 0).unwrap_or(now),
        trusted_scope: serde_json::from_value(trusted.scope.0.clone()).unwrap_or_default(),
    })
}

/// Records the `jti` and stores the access token in one transaction.
async fn issue_token(
    state: &AppState,
    client: &AuthenticatedClient,
    claims: Checked,
    scope: Vec<String>,
    now: DateTime<Utc>,
) -> Result<TokenResponse, GrantError> {
    let settings = &state.settings.settings;
    let ttl = token_lifespan(
        &settings.ttl,
        &client.document,
        GRANT_TYPE,
        TokenKind::AccessToken,
    );
    let access = Pending::new(state, issue::strategy(state, &client.document));
    let row = issue::access_row(
        access.hash.clone(),
        AccessSpec {
            chain: None,
            client_id: client.client_id.clone(),
            subject: claims.subject.clone(),
            scope: scope.clone(),
            audience: vec![],
            claims: TokenClaims {
                userinfo: Default::default(),
                ext: Default::default(),
            },
            now,
            expires_at: now + ttl,
        },
    );
    let (stored, jti_hash, seen_until) = (row.clone(), claims.jti_hash, claims.expires_at);
    let fresh = state
        .db
        .write(move |c: &mut AnyConnection| {
            c.transaction::<_, diesel::result::Error, _>(|c| {
                if !store::remember_jti(c, &jti_hash, seen_until.naive_utc(), now.naive_utc())? {
                    return Ok(false);
                }
                crate::token::store::insert(c, &stored)?;
                Ok(true)
            })
            .map_err(GrantError::from)
        })
        .await?;
    if !fresh {
        tracing::warn!(client_id = %client.client_id, "a JWT bearer assertion was replayed");
        return Err(invalid("The assertion's jti was already used."));
    }
    let access_token = access.finish(state, &row)?;
    tracing::info!(client_id = %client.client_id, "issued an access token for a JWT bearer assertion");
    Ok(TokenResponse {
        access_token,
        token_type: "bearer",
        expires_in: ttl.as_secs(),
        scope: scope.join(" "),
        refresh_token: None,
        id_token: None,
    })
}
