//! The `urn:ietf:params:oauth:grant-type:device_code` grant (RFC 8628 §3.4–3.5): the device
//! polls with its device code. Every poll is recorded; polling faster than the interval answers
//! `slow_down` and adds 5 seconds to it. Tokens are issued once, by the conditional update that
//! moves the approved code to used, in the transaction that stores them.

use chrono::{DateTime, Utc};
use diesel::Connection;
use service_kit::db::{AnyConnection, Id, Json};

use super::error::{GrantError, respond};
use super::store::{self, DeviceCodeRow};
use super::verify::decided;
use super::{APPROVED, CLAIMED, DENIED, GRANT_TYPE, PENDING, SLOW_DOWN_STEP_SECS, USED};
use crate::flow::code::Grant;
use crate::keyed::Purpose;
use crate::state::AppState;
use crate::token::client_auth::AuthenticatedClient;
use crate::token::form::Form;
use crate::token::issue::{self, AccessSpec, Pending};
use crate::token::refresh_store::{self, RefreshTokenRow};
use crate::token::store::AccessTokenRow;
use crate::token::{TokenClaims, TokenKind, TokenResponse, opaque, token_lifespan};

/// The token endpoint's answer to a device polling.
pub async fn exchange(
    state: &AppState,
    client: &AuthenticatedClient,
    form: &Form,
) -> actix_web::HttpResponse {
    respond(poll(state, client, form).await)
}

async fn poll(
    state: &AppState,
    client: &AuthenticatedClient,
    form: &Form,
) -> Result<TokenResponse, GrantError> {
    if !client.may_use_grant(GRANT_TYPE) {
        return Err(GrantError::new(
            "unauthorized_client",
            "The client is not allowed to use the device_code grant.",
        ));
    }
    let device_code = form.get("device_code").ok_or(GrantError::new(
        "invalid_request",
        "The request is missing the 'device_code' parameter",
    ))?;
    let settings = &state.settings.settings;
    let now = settings.clock.now();
    let lifespan = |kind| token_lifespan(&settings.ttl, &client.document, GRANT_TYPE, kind);
    let access = Pending::new(state, issue::strategy(state, &client.document));
    let refresh_token = client
        .may_use_grant(crate::token::GRANT_REFRESH_TOKEN)
        .then(|| opaque::mint(&state.hasher, opaque::REFRESH_TOKEN_PREFIX));
    let attempt = Attempt {
        hashes: state.hasher.candidates(Purpose::DeviceCode, device_code),
        client_id: client.client_id.clone(),
        access_hash: access.hash.clone(),
        refresh_hash: refresh_token
            .as_ref()
            .map(|t| state.hasher.hash(Purpose::RefreshToken, t)),
        now,
        expires_at: now + lifespan(TokenKind::AccessToken),
        refresh_expires_at: now + lifespan(TokenKind::RefreshToken),
    };
    let issued = state.db.write(move |c| attempt.run(c)).await??;
    let access_token = access.finish(state, &issued.access)?;
    let id_token = match issued.grant.scope.iter().any(|s| s == "openid") {
        true => Some(crate::token::exchange::sign_id_token(
            state,
            &crate::subject::seen_by(state, &client.document, &issued.access.subject),
            &client.client_id,
            &issued.grant,
            &access_token,
            now,
            lifespan(TokenKind::IdToken),
        )?),
        false => None,
    };
    tracing::info!(client_id = %client.client_id, offline = issued.offline, "issued tokens for a device code");
    Ok(TokenResponse {
        access_token,
        token_type: "bearer",
        expires_in: lifespan(TokenKind::AccessToken).as_secs(),
        scope: issued.grant.scope.join(" "),
        refresh_token: refresh_token.filter(|_| issued.offline),
        id_token,
    })
}

/// One poll, moved onto the database thread.
struct Attempt {
    hashes: Vec<String>,
    client_id: String,
    access_hash: String,
    refresh_hash: Option<String>,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    refresh_expires_at: DateTime<Utc>,
}

struct Issued {
    grant: Grant,
    access: AccessTokenRow,
    offline: bool,
}

impl Attempt {
    /// Answers after the poll was recorded are returned inside `Ok`, so that the record commits.
    fn run(self, conn: &mut AnyConnection) -> Result<Result<Issued, GrantError>, GrantError> {
        conn.transaction(|c| {
            let unknown = GrantError::invalid_grant("The device code is invalid.");
            let Some(row) = store::find_code_by_hash(c, &self.hashes)? else {
                return Ok(Err(unknown));
            };
            if row.client_id != self.client_id {
                return Ok(Err(unknown));
            }
            if row.expires_at <= self.now.naive_utc() {
                return Ok(Err(GrantError::new(
                    "expired_token",
                    "The device code has expired; start a new device authorization.",
                )));
            }
            if let Some(slow) = self.pace(c, &row)? {
                return Ok(Err(slow));
            }
            Ok(match row.state.as_str() {
                PENDING | CLAIMED => Err(GrantError::new(
                    "authorization_pending",
                    "The user has not yet approved or denied the device.",
                )),
                DENIED => Err(GrantError::new(
                    "access_denied",
                    "The user denied the device authorization.",
                )),
                APPROVED => self.issue(c, &row),
                _ => Err(GrantError::invalid_grant(
                    "The device code was already used.",
                )),
            })
        })
    }

    /// Records the poll; a poll sooner than the interval is `slow_down` and lengthens it.
    fn pace(
        &self,
        c: &mut AnyConnection,
        row: &DeviceCodeRow,
    ) -> Result<Option<GrantError>, GrantError> {
        let now = self.now.naive_utc();
        let too_soon = row.last_polled_at.is_some_and(|last| {
            now < last + chrono::Duration::seconds(i64::from(row.interval_secs))
        });
        let interval = match too_soon {
            true => row.interval_secs.saturating_add(SLOW_DOWN_STEP_SECS),
            false => row.interval_secs,
        };
        store::record_poll(c, row.id, interval, now)?;
        Ok(too_soon.then(|| {
            GrantError::new(
                "slow_down",
                "The device is polling too fast; wait 5 seconds longer between requests.",
            )
        }))
    }

    /// Approved → used, and the tokens stored; the loser of a race is told the code is used.
    fn issue(&self, c: &mut AnyConnection, row: &DeviceCodeRow) -> Result<Issued, GrantError> {
        if !store::transition_code(c, row.id, APPROVED, decided(USED, self.now))? {
            return Err(GrantError::invalid_grant(
                "The device code was already used.",
            ));
        }
        let grant: Grant = row
            .grant_data
            .as_ref()
            .map(|g| serde_json::from_value(g.0.clone()))
            .transpose()
            .map_err(anyhow::Error::from)?
            .ok_or_else(|| anyhow::anyhow!("approved device code without a grant"))?;
        let subject = row.subject.clone().unwrap_or_default();
        let access = issue::access_row(
            self.access_hash.clone(),
            AccessSpec {
                chain: Some(row.id),
                client_id: row.client_id.clone(),
                subject: subject.clone(),
                scope: grant.scope.clone(),
                audience: grant.audience.clone(),
                claims: TokenClaims {
                    userinfo: grant.id_token_claims.clone(),
                    ext: grant.access_token_claims.clone(),
                },
                now: self.now,
                expires_at: self.expires_at,
            },
        );
        crate::token::store::insert(c, &access)?;
        let offline = match &self.refresh_hash {
            Some(hash) if crate::token::exchange::wants_refresh_token(&grant.scope) => {
                refresh_store::insert(c, &self.refresh_row(row.id, &subject, &grant, hash))?;
                true
            }
            _ => false,
        };
        Ok(Issued {
            grant,
            access,
            offline,
        })
    }

    fn refresh_row(&self, chain: Id, subject: &str, grant: &Grant, hash: &str) -> RefreshTokenRow {
        RefreshTokenRow {
            id: Id::new_v7(),
            token_hash: hash.to_string(),
            chain_id: chain,
            client_id: self.client_id.clone(),
            subject: subject.to_string(),
            scope: Json(grant.scope.clone().into()),
            grant_data: Json(serde_json::to_value(grant).unwrap_or_default()),
            used_at: None,
            grace_used: false,
            revoked: false,
            expires_at: self.refresh_expires_at.naive_utc(),
            created_at: self.now.naive_utc(),
        }
    }
}
