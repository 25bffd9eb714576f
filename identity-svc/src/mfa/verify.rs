//! Checking a second factor of an identity: a TOTP code (each step once) or a recovery code
//! (each code once). `Ok(Err(message))` is a wrong or replayed code, with Kratos' message.

use service_kit::db::Id;
use shared_types::flow::UiText;

use super::store::{self, Consumed};
use super::{LOOKUP, TOTP, lookup, text, totp};
use crate::error::ApiError;
use crate::state::AppState;

pub type Verdict = Result<(), UiText>;

/// A TOTP code of the identity's app: valid now and of a later step than any used before.
pub async fn totp(state: &AppState, identity_id: Id, typed: &str) -> Result<Verdict, ApiError> {
    let now = state.settings.settings.clock.now();
    let credential = state
        .db
        .read(move |c| store::find_credential(c, identity_id, TOTP).map_err(ApiError::from))
        .await?;
    let Some(credential) = credential else {
        return Ok(Err(text::no_totp()));
    };
    let config = credential.config.map(|c| c.0).unwrap_or_default();
    let (url, stale) = totp::open_with_age(&state.mfa.totp_cipher, &config, credential.id)?;
    if stale {
        // Sealed under a secret that is no longer the first: seal it again under the current.
        let resealed =
            service_kit::db::Json(totp::seal(&state.mfa.totp_cipher, &url, credential.id)?);
        let at = now.naive_utc();
        state
            .db
            .write(move |c| {
                store::update_config(c, credential.id, resealed, at).map_err(ApiError::from)
            })
            .await?;
    }
    let Some(step) = totp::check(&url, typed, now)? else {
        return Ok(Err(text::totp_invalid()));
    };
    let at = now.naive_utc();
    let fresh = state
        .db
        .write(move |c| store::use_totp_step(c, credential.id, step, at).map_err(ApiError::from))
        .await?;
    // A replayed code gets the answer of a wrong one: it tells an onlooker nothing more.
    Ok(if fresh {
        Ok(())
    } else {
        Err(text::totp_invalid())
    })
}

/// One of the identity's recovery codes, used now.
pub async fn lookup(state: &AppState, identity_id: Id, typed: &str) -> Result<Verdict, ApiError> {
    let Some(code) = lookup::normalise(typed) else {
        return Ok(Err(text::lookup_invalid()));
    };
    let credential = state
        .db
        .read(move |c| store::find_credential(c, identity_id, LOOKUP).map_err(ApiError::from))
        .await?;
    let Some(credential) = credential else {
        return Ok(Err(text::no_lookup()));
    };
    let hashes = lookup::candidates(&state.mfa.lookup_hash_keys, &code);
    let at = state.settings.settings.clock.now().naive_utc();
    let consumed = state
        .db
        .write(move |c| store::consume_code(c, credential.id, &hashes, at).map_err(ApiError::from))
        .await?;
    if consumed == Consumed::Now {
        // Re-seals codes an older secret sealed; one that no secret opens is logged there.
        lookup::open_codes(state, credential.id).await?;
    }
    Ok(match consumed {
        Consumed::Now => Ok(()),
        Consumed::Before => Err(text::lookup_used()),
        Consumed::Unknown => Err(text::lookup_invalid()),
    })
}
