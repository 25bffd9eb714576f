//! Admin changes to one identity: `PUT /admin/identities/{id}` (Kratos' updateIdentity) and
//! `PATCH /admin/identities/{id}` (patchIdentity, RFC 6902), and the trait search of the list.

use actix_web::{HttpResponse, web};
use chrono::SubsecRound;
use service_kit::db::Id;
use service_kit::http::JsonObject;
use shared_types::identity::UpdateIdentityBody;

use super::patch::Operation;
use super::store::{self, IdentityRecord};
use super::update::{self, Changes};
use super::update_store::{self, Outcome, UpdateError};
use crate::credential::NewPassword;
use crate::error::ApiError;
use crate::hooks::{self, Event};
use crate::schema::Marked;
use crate::state::AppState;

/// Reads and writes tried before a change that keeps meeting concurrent changes gives up.
const MAX_ATTEMPTS: usize = 5;

#[tracing::instrument(skip_all, fields(identity_id = %id))]
pub async fn update_identity(
    state: web::Data<AppState>,
    id: web::Path<String>,
    JsonObject(mut body): JsonObject<UpdateIdentityBody>,
) -> Result<HttpResponse, ApiError> {
    let id = super::parse_id(&id)?;
    let password = NewPassword::from_credentials(body.credentials.take())?;
    let mut changes = Changes::from_put(body);
    let marked = update::validate_traits(&mut changes, &state.schemas)?;
    if let Some(password) = password {
        if marked.password_identifiers.is_empty() {
            return Err(ApiError::BadRequest(
                "a password needs a trait that the identity schema marks as a password \
                 identifier"
                    .into(),
            ));
        }
        let hash = password
            .into_hash(&marked.password_identifiers, &state.passwords)
            .await?;
        changes.hashed_password = Some(hash);
    }
    let record = apply(&state, id, |_| Ok((changes.clone(), marked.clone()))).await?;
    respond(&state, record)
}

#[tracing::instrument(skip_all, fields(identity_id = %id))]
pub async fn patch_identity(
    state: web::Data<AppState>,
    id: web::Path<String>,
    operations: web::Json<Vec<Operation>>,
) -> Result<HttpResponse, ApiError> {
    let id = super::parse_id(&id)?;
    let operations = operations.into_inner();
    let public = state.settings.public_url.clone();
    let schemas = state.clone();
    let record = apply(&state, id, move |current| {
        let identity = super::to_wire(current.clone(), &public, &[])?;
        let base = update::patch_base(&identity)?;
        let mut changes = Changes::from_patch(&base, &operations)?;
        let marked = update::validate_traits(&mut changes, &schemas.schemas)?;
        Ok((changes, marked))
    })
    .await?;
    respond(&state, record)
}

fn respond(state: &AppState, record: IdentityRecord) -> Result<HttpResponse, ApiError> {
    let identity = super::to_wire(record, &state.settings.public_url, &[])?;
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(identity))
}

/// Reads the identity, lets `changes_for` say what it should become, and writes that if nobody
/// changed the identity in between (else reads again): no update is ever lost.
async fn apply(
    state: &AppState,
    id: Id,
    mut changes_for: impl FnMut(&IdentityRecord) -> Result<(Changes, Marked), ApiError>,
) -> Result<IdentityRecord, ApiError> {
    for _ in 0..MAX_ATTEMPTS {
        let current = state
            .db
            .read(move |c| store::find(c, id, true).map_err(ApiError::from))
            .await?;
        let (changes, marked) = changes_for(&current)?;
        let now = now_micros(state);
        let plan = update::plan(current, changes, marked, now)?;
        let deactivated = plan.deactivated;
        let notice = state
            .lifecycle_hook
            .as_ref()
            .filter(|_| deactivated)
            .map(|_| hooks::notice(Event::Deactivated, id, plan.record.identity.updated_at));
        let outcome = state
            .db
            .write(move |c| update_store::update(c, &plan, notice.as_ref()).map_err(ApiError::from))
            .await?;
        if outcome == Outcome::Stale {
            continue;
        }
        if deactivated {
            tracing::info!("identity deactivated; its sessions were revoked");
            if let Some(worker) = &state.lifecycle_hook {
                worker.wake();
            }
        }
        tracing::info!("updated identity");
        return state
            .db
            .read(move |c| store::find(c, id, false).map_err(ApiError::from))
            .await;
    }
    Err(ApiError::Conflict(
        "the identity kept changing while this request was applied; try again".into(),
    ))
}

impl From<UpdateError> for ApiError {
    fn from(err: UpdateError) -> Self {
        match err {
            UpdateError::Query(e) => e.into(),
            conflict => ApiError::Conflict(conflict.to_string()),
        }
    }
}

/// The trait search of the identity list (an Olympus extension): `traits.<path>=<value>`
/// matches identities whose trait at `<path>` (dot-separated names) is exactly the string
/// `<value>`. Names are letters, digits, `_` and `-`, so they can go into SQL as literals.
pub fn trait_filter(key: &str, value: &str) -> Result<(Vec<String>, String), ApiError> {
    let path = key.strip_prefix("traits.").unwrap_or_default();
    let segments: Vec<String> = path.split('.').map(str::to_string).collect();
    let valid = |s: &String| {
        (1..=64).contains(&s.len())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if segments.len() > 8 || !segments.iter().all(valid) {
        return Err(ApiError::BadRequest(format!(
            "{key:?} is not a trait filter: use traits.<name>[.<name>…] with names of letters, \
             digits, '_' and '-'"
        )));
    }
    Ok((segments, value.to_string()))
}

/// After a successful sign-in with an imported hash (bcrypt, PBKDF2, scrypt, argon2i) or an
/// argon2id of another cost, stores an argon2id hash of `password` with the configured cost.
/// Best effort: a busy hasher or a failed write leaves the old hash, which still verifies, and
/// a password changed meanwhile is never overwritten.
pub async fn upgrade_password_hash(
    state: &AppState,
    credential: &store::PasswordCredential,
    password: &str,
) {
    let Some(old) = credential
        .hashed_password
        .clone()
        .filter(|h| !state.passwords.is_current(h))
    else {
        return;
    };
    let algorithm = crate::credential::hashes::StoredHash::parse(&old)
        .map(|h| h.algorithm())
        .unwrap_or("unknown");
    let new = match state
        .passwords
        .hash(service_kit::settings::Secret::new(password))
        .await
    {
        Ok(new) => new,
        Err(e) => {
            tracing::warn!(error = %e, "password rehash skipped");
            return;
        }
    };
    let (identity_id, at) = (credential.identity_id, now_micros(state));
    let replaced = state
        .db
        .write(move |c| {
            update_store::rehash_password(c, identity_id, &old, &new, at).map_err(ApiError::from)
        })
        .await;
    match replaced {
        Ok(true) => {
            tracing::info!(identity_id = %identity_id.0, from = algorithm, "password rehashed to argon2id")
        }
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "password rehash not stored"),
    }
}

fn now_micros(state: &AppState) -> chrono::NaiveDateTime {
    state
        .settings
        .settings
        .clock
        .now()
        .naive_utc()
        .trunc_subsecs(6)
}
