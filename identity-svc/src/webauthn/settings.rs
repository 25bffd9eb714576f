//! Adding and removing passkeys and security keys in the settings flow. Each render offers a
//! fresh registration challenge whose state is sealed in the flow's `internal_context`; a
//! submission consumes it (a replayed attestation finds no state), and the privileged-session
//! rule applies to both adding and removing.

use actix_web::HttpResponse;
use chrono::SubsecRound;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use shared_types::identity::Identity;
use webauthn_rs::prelude::{PasskeyRegistration, RegisterPublicKeyCredential, Uuid};

use super::{CredentialsConfig, Method, StoredKey, credential_id, nodes, store};
use crate::error::ApiError;
use crate::flow::http::{no_store, see_other};
use crate::flow::lifecycle;
use crate::flow::messages::FlowMessages;
use crate::flow::settings::complete::{Submit, reject};
use crate::flow::settings::store::SettingsFlowRow;
use crate::flow::settings::{STATE_DONE, is_privileged, to_wire};
use crate::flow::submit::Submission;
use crate::flow::text;
use crate::state::AppState;

/// Keys of one kind (passkeys, security keys) an identity may register: each is checked at
/// sign-in, so an unbounded list would be a cost anyone signed in could inflate.
pub const MAX_KEYS: usize = 20;

#[derive(Serialize, Deserialize)]
struct Ceremony {
    registration: PasskeyRegistration,
    handle: Uuid,
}

/// Stores fresh registration options for every enabled method on the flow (and on `row`).
pub async fn prepare(
    state: &AppState,
    row: &mut SettingsFlowRow,
    identity: &Identity,
) -> Result<(), ApiError> {
    for method in Method::ALL {
        if method.relying_party(state).is_some() {
            refresh(state, row, identity, method).await?;
        }
    }
    Ok(())
}

/// A flow made without the options (the replacement of an expired flow) gets them when it is
/// first shown.
pub async fn ensure(
    state: &AppState,
    row: &mut SettingsFlowRow,
    identity: &Identity,
) -> Result<(), ApiError> {
    for method in Method::ALL {
        let missing = row.internal_context.0.get(method.name()).is_none();
        if missing && method.relying_party(state).is_some() {
            refresh(state, row, identity, method).await?;
        }
    }
    Ok(())
}

async fn refresh(
    state: &AppState,
    row: &mut SettingsFlowRow,
    identity: &Identity,
    method: Method,
) -> Result<(), ApiError> {
    let context = registration_context(state, row.id, identity, method).await?;
    let now = state
        .settings
        .settings
        .clock
        .now()
        .naive_utc()
        .trunc_subsecs(6);
    let (id, stored) = (row.id, context.clone());
    state
        .db
        .write(move |c| {
            store::swap_settings_context(c, id, None, method.name(), stored, now)
                .map_err(ApiError::from)
        })
        .await?;
    set_key(&mut row.internal_context.0, method.name(), context);
    row.updated_at = now;
    Ok(())
}

fn set_key(context: &mut Value, key: &str, value: Value) {
    if !context.is_object() {
        *context = json!({});
    }
    if let Some(object) = context.as_object_mut() {
        object.insert(key.into(), value);
    }
}

async fn registration_context(
    state: &AppState,
    flow: service_kit::db::Id,
    identity: &Identity,
    method: Method,
) -> Result<Value, ApiError> {
    let Some(rp) = method.relying_party(state) else {
        return Ok(Value::Null);
    };
    let config = current(state, identity, method).await?;
    let handle = Uuid::parse_str(&config.user_handle).unwrap_or_else(|_| Uuid::new_v4());
    let exclude = config
        .credentials
        .iter()
        .map(|k| k.key.cred_id().clone())
        .collect();
    let name = user_name(identity);
    let (options, registration) = rp
        .start_passkey_registration(handle, &name, &name, Some(exclude))
        .map_err(|e| anyhow::anyhow!("starting a {} registration: {e}", method.name()))?;
    let mut options = serde_json::to_value(options).map_err(anyhow::Error::from)?;
    if method == Method::Passkey {
        // Usernameless sign-in needs a discoverable credential.
        let selection = &mut options["publicKey"]["authenticatorSelection"];
        selection["residentKey"] = json!("required");
        selection["requireResidentKey"] = json!(true);
    }
    let ceremony = Ceremony {
        registration,
        handle,
    };
    let ceremony = serde_json::to_value(&ceremony).map_err(anyhow::Error::from)?;
    let existing: Vec<Value> = config
        .credentials
        .iter()
        .map(|k| json!({"id": k.id, "display_name": k.display_name, "added_at": k.added_at}))
        .collect();
    Ok(json!({
        "options": options,
        "state": super::seal(state, flow, method, &ceremony)?,
        "existing": existing,
    }))
}

async fn current(
    state: &AppState,
    identity: &Identity,
    method: Method,
) -> Result<CredentialsConfig, ApiError> {
    let id = service_kit::db::Id(identity.id);
    let row = state
        .db
        .read(move |c| store::find(c, id, method).map_err(ApiError::from))
        .await?;
    Ok(row
        .and_then(|r| CredentialsConfig::from_json(r.config.as_ref().map(|c| &c.0)))
        .unwrap_or_default())
}

/// What the authenticator shows for the account: the e-mail trait, else the identity id.
fn user_name(identity: &Identity) -> String {
    identity.traits["email"]
        .as_str()
        .map_or_else(|| identity.id.to_string(), str::to_string)
}

/// Which of the two methods a settings submission is for: `method`, or the fields it carries
/// (the script posts only the credential).
pub fn method_of(submission: &Submission) -> Option<Method> {
    match submission.get("method").unwrap_or_default() {
        "passkey" => return Some(Method::Passkey),
        "webauthn" => return Some(Method::Webauthn),
        "" => {}
        _ => return None,
    }
    Method::ALL.into_iter().find(|m| {
        submission
            .non_empty(&format!("{}_register", m.name()))
            .is_some()
            || submission
                .non_empty(&format!("{}_remove", m.name()))
                .is_some()
    })
}

/// `passkey_register` / `passkey_remove` (and the `webauthn_*` twins).
pub async fn update(
    submit: Submit<'_>,
    method: Method,
    submission: &Submission,
) -> Result<HttpResponse, ApiError> {
    let Some(rp) = method.relying_party(submit.state) else {
        let messages = FlowMessages::form(text::settings_unsupported_method(method.name()));
        return reject(submit, None, None, messages).await;
    };
    let state = submit.state;
    let now = state.settings.settings.clock.now();
    let max_age = state.settings.flows.settings.privileged_session_max_age;
    if !is_privileged(submit.session.authenticated_at.and_utc(), now, max_age) {
        return refresh_required(submit);
    }
    let name = method.name();
    if let Some(id) = submission.non_empty(&format!("{name}_remove")) {
        return remove(submit, method, id.to_string()).await;
    }
    let Some(response) = submission.non_empty(&format!("{name}_register")) else {
        let reason = format!("{name}_register or {name}_remove is required");
        return reject(
            submit,
            Some(name),
            None,
            FlowMessages::form(nodes::validation(&reason)),
        )
        .await;
    };
    let display_name = submission
        .non_empty("webauthn_register_displayname")
        .filter(|_| method == Method::Webauthn)
        .map(|n| n.chars().take(64).collect::<String>());
    let sealed = submit.row.internal_context.0[name]["state"].clone();
    // Consume the challenge before verifying: a second submission finds a new one.
    let mut submit = submit;
    let seen = submit.row.updated_at;
    let identity = submit.identity.clone();
    let fresh = registration_context(state, submit.row.id, &identity, method).await?;
    let at = now.naive_utc().trunc_subsecs(6);
    let (id, stored) = (submit.row.id, fresh.clone());
    let consumed = state
        .db
        .write(move |c| {
            store::swap_settings_context(c, id, Some(seen), name, stored, at)
                .map_err(ApiError::from)
        })
        .await?;
    set_key(&mut submit.row.internal_context.0, name, fresh);
    let ceremony: Option<Ceremony> = consumed
        .then(|| super::open(state, submit.row.id, method, &sealed))
        .flatten();
    let credential = serde_json::from_str::<RegisterPublicKeyCredential>(response).ok();
    let (Some(ceremony), Some(credential)) = (ceremony, credential) else {
        let messages = FlowMessages::form(nodes::validation(
            "The security key response was malformed or its challenge was already used; try again.",
        ));
        return reject(submit, Some(name), None, messages).await;
    };
    let key = match rp.finish_passkey_registration(&credential, &ceremony.registration) {
        Ok(key) => key,
        Err(e) => {
            tracing::info!(error = %e, method = name, "a key registration did not verify");
            let messages = FlowMessages::form(nodes::invalid_credentials());
            return reject(submit, Some(name), None, messages).await;
        }
    };
    let mut config = current(state, &identity, method).await?;
    config.user_handle = ceremony.handle.to_string();
    let id = credential_id(&key);
    config.credentials.retain(|k| k.id != id);
    if config.credentials.len() >= MAX_KEYS {
        let messages = FlowMessages::form(nodes::validation(&format!(
            "You already have {MAX_KEYS} keys of this kind; remove one before adding another."
        )));
        return reject(submit, Some(name), None, messages).await;
    }
    config.credentials.push(StoredKey {
        id,
        display_name: display_name.unwrap_or_else(|| user_name(&identity)),
        added_at: now,
        key,
    });
    save(&submit, method, config).await?;
    refresh(state, &mut submit.row, &identity, method).await?;
    tracing::info!(identity_id = %identity.id, method = name, "key added");
    saved(submit, method).await
}

async fn remove(
    mut submit: Submit<'_>,
    method: Method,
    id: String,
) -> Result<HttpResponse, ApiError> {
    let state = submit.state;
    let identity = submit.identity.clone();
    let mut config = current(state, &identity, method).await?;
    let before = config.credentials.len();
    config.credentials.retain(|k| k.id != id);
    if config.credentials.len() == before {
        let messages = FlowMessages::form(nodes::validation("No such key is registered."));
        return reject(submit, Some(method.name()), None, messages).await;
    }
    if method == Method::Passkey && config.credentials.is_empty() {
        let identity_id = service_kit::db::Id(identity.id);
        let other = state
            .db
            .read(move |c| store::has_other_first_factor(c, identity_id).map_err(ApiError::from))
            .await?;
        if !other {
            let messages = FlowMessages::form(nodes::validation(
                "You cannot remove the last passkey: the account would have no way to sign in.",
            ));
            return reject(submit, Some(method.name()), None, messages).await;
        }
    }
    save(&submit, method, config).await?;
    refresh(state, &mut submit.row, &identity, method).await?;
    tracing::info!(identity_id = %identity.id, method = method.name(), "key removed");
    saved(submit, method).await
}

async fn save(
    submit: &Submit<'_>,
    method: Method,
    config: CredentialsConfig,
) -> Result<(), ApiError> {
    let identity_id = submit.session.identity_id;
    let now = submit
        .state
        .settings
        .settings
        .clock
        .now()
        .naive_utc()
        .trunc_subsecs(6);
    let handle = config.user_handle.clone();
    let stored = (!config.credentials.is_empty()).then(|| config.to_json());
    submit
        .state
        .db
        .write(move |c| {
            store::save(c, identity_id, method, &handle, stored, now).map_err(ApiError::from)
        })
        .await
}

/// The flow's success, answered as the password method answers it.
async fn saved(mut submit: Submit<'_>, method: Method) -> Result<HttpResponse, ApiError> {
    let state = submit.state;
    let now = state.settings.settings.clock.now().naive_utc();
    submit.row.state = STATE_DONE.into();
    submit.row.active = Some(method.name().into());
    submit.row.traits = None;
    submit.row.ui_messages = FlowMessages::form(text::settings_saved()).to_json();
    let row = submit.row.clone();
    state
        .db
        .write(move |c| {
            crate::flow::settings::store::update_ui(c, &row, now).map_err(ApiError::from)
        })
        .await?;
    if submit.json {
        let schema = state
            .schemas
            .get(&submit.identity.schema_id)
            .ok_or_else(|| anyhow::anyhow!("the identity's schema is gone"))?;
        let masked = submit.token.as_ref().map(|t| state.csrf.mask(t));
        let public = &state.settings.public_url;
        let flow = to_wire(
            &submit.row,
            submit.identity,
            schema,
            public,
            masked,
            Vec::new(),
        );
        return Ok(no_store(HttpResponse::Ok()).json(flow));
    }
    let target = match &submit.row.return_to {
        Some(return_to) => return_to.clone(),
        None => lifecycle::ui_url(state, &submit.row).into(),
    };
    Ok(see_other(&target).finish())
}

/// As the password method: sign in again first (403 `session_refresh_required` for JSON).
fn refresh_required(submit: Submit<'_>) -> Result<HttpResponse, ApiError> {
    let state = submit.state;
    let mut login = state
        .settings
        .public_url
        .join("self-service/login/browser")
        .expect("a fixed relative path joins");
    login
        .query_pairs_mut()
        .append_pair("refresh", "true")
        .append_pair("return_to", state.settings.flows.settings.ui.as_str());
    if submit.json {
        return Err(ApiError::SessionRefreshRequired(login.into()));
    }
    Ok(see_other(login.as_str()).finish())
}
