//! Dynamic client registration on the public listener, off by default:
//! `POST /oauth2/register` (RFC 7591, Hydra's createOidcDynamicClient) and
//! `GET|PUT|DELETE /oauth2/register/{id}` (RFC 7592, getOidcDynamicClient, setOidcDynamicClient,
//! deleteOidcDynamicClient).
//!
//! A registration gets a registration access token (shown once, stored as a keyed hash) that
//! manages that client and nothing else; every PUT rotates it. What only an operator may decide
//! is refused here and left to the admin API: `metadata`, `access_token_strategy`,
//! `skip_consent`, `skip_logout_consent` (as Hydra), and — beyond Hydra — `audience`, token
//! lifespans, scopes outside `allowed_scope`, and back-channel logout URIs that are not https
//! or name an IP address (the service would POST to them).

use actix_web::{HttpRequest, HttpResponse, web};
use service_kit::http::JsonObject;
use shared_types::client::OAuth2Client;
use url::{Host, Url};

use super::store::{self, ClientRow};
use super::{NewClient, handlers, update};
use crate::config::DynamicClientRegistration;
use crate::error::ApiError;
use crate::keyed::{self, Purpose};
use crate::state::AppState;

const TOKEN_PREFIX: &str = "oly_rat_";

pub fn public_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/oauth2/register").route(web::post().to(create_oidc_dynamic_client)),
    )
    .service(
        web::resource("/oauth2/register/{id}")
            .route(web::get().to(get_oidc_dynamic_client))
            .route(web::put().to(set_oidc_dynamic_client))
            .route(web::delete().to(delete_oidc_dynamic_client)),
    );
}

#[tracing::instrument(skip_all)]
async fn create_oidc_dynamic_client(
    state: web::Data<AppState>,
    req: HttpRequest,
    JsonObject(mut body): JsonObject<OAuth2Client>,
) -> Result<HttpResponse, ApiError> {
    let settings = enabled(&state)?;
    check_initial_access_token(&state, settings, &req)?;
    if body.client_secret.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(ApiError::InvalidRequest(
            "client_secret cannot be chosen; the server generates it".into(),
        ));
    }
    // The server names dynamically registered clients (RFC 7591 §3.2.1).
    body.client_id = None;
    let body = restrict(settings, body)?;
    let (token, hash) = new_registration_token(&state);
    let client = handlers::insert(&state, NewClient::parse(body)?, Some(hash)).await?;
    Ok(answer(HttpResponse::Created(), &state, client, Some(token)))
}

#[tracing::instrument(skip_all, fields(client_id = %id))]
async fn get_oidc_dynamic_client(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    enabled(&state)?;
    let row = authenticate(&state, &req, &id).await?;
    let client = handlers::to_wire(row)?;
    Ok(answer(HttpResponse::Ok(), &state, client, None))
}

/// A full replace (RFC 7592 §2.2). A `client_secret` in the body must be the current one; the
/// secret itself changes only through the admin API or a change of authentication method.
#[tracing::instrument(skip_all, fields(client_id = %id))]
async fn set_oidc_dynamic_client(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    JsonObject(mut body): JsonObject<OAuth2Client>,
) -> Result<HttpResponse, ApiError> {
    let settings = enabled(&state)?;
    let row = authenticate(&state, &req, &id).await?;
    if body
        .client_id
        .as_deref()
        .is_some_and(|b| !b.is_empty() && b != row.client_id)
    {
        return Err(ApiError::InvalidRequest(
            "client_id must be the registered client's".into(),
        ));
    }
    if let Some(secret) = body.client_secret.take().filter(|s| !s.is_empty()) {
        let current = row
            .secret_hash
            .as_deref()
            .and_then(|stored| state.hasher.verify(Purpose::ClientSecret, &secret, stored));
        if current.is_none() {
            return Err(ApiError::InvalidRequest(
                "client_secret must be the current secret; it cannot be chosen".into(),
            ));
        }
    }
    let mut body = restrict(settings, body)?;
    body.client_id = Some(row.client_id.clone());
    keep_operator_fields(&mut body, handlers::to_wire(row.clone())?);
    let (token, hash) = new_registration_token(&state);
    let client = update::save(&state, row, body, Some(hash)).await?;
    Ok(answer(HttpResponse::Ok(), &state, client, Some(token)))
}

#[tracing::instrument(skip_all, fields(client_id = %id))]
async fn delete_oidc_dynamic_client(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    enabled(&state)?;
    let row = authenticate(&state, &req, &id).await?;
    state
        .db
        .write(move |c| store::delete(c, &row.client_id).map_err(ApiError::from))
        .await?;
    tracing::info!(client_id = %id, "deleted dynamically registered client");
    Ok(HttpResponse::NoContent().finish())
}

fn enabled(state: &AppState) -> Result<&DynamicClientRegistration, ApiError> {
    let settings = &state.settings.settings.oidc.dynamic_client_registration;
    settings
        .enabled
        .then_some(settings)
        .ok_or(ApiError::NotFound)
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    crate::token::handlers::parse_bearer(value).ok().flatten()
}

fn check_initial_access_token(
    state: &AppState,
    settings: &DynamicClientRegistration,
    req: &HttpRequest,
) -> Result<(), ApiError> {
    let configured = settings.initial_access_tokens.all();
    if configured.is_empty() {
        return Ok(());
    }
    let given = bearer(req).ok_or(ApiError::InvalidToken)?;
    let purpose = Purpose::InitialAccessToken;
    // Compared as keyed hashes, in constant time, against every configured token.
    let matched = configured.iter().fold(false, |found, token| {
        let stored = state.hasher.hash(purpose, token.expose());
        state.hasher.verify(purpose, &given, &stored).is_some() | found
    });
    matched.then_some(()).ok_or(ApiError::InvalidToken)
}

/// The client `id` when the request's bearer token is its registration access token. Every
/// failure looks the same, so the endpoint does not tell which client ids exist.
async fn authenticate(
    state: &AppState,
    req: &HttpRequest,
    id: &str,
) -> Result<ClientRow, ApiError> {
    let token = bearer(req)
        .filter(|t| t.starts_with(TOKEN_PREFIX))
        .ok_or(ApiError::InvalidToken)?;
    let row = match update::find(state, id).await {
        Ok(row) => row,
        Err(ApiError::NotFound) => return Err(ApiError::InvalidToken),
        Err(other) => return Err(other),
    };
    let valid = row.registration_token_hash.as_deref().and_then(|stored| {
        state
            .hasher
            .verify(Purpose::RegistrationToken, &token, stored)
    });
    valid.map(|_| row).ok_or(ApiError::InvalidToken)
}

/// What only the operator sets (through the admin API) survives a registration's PUT, which
/// neither sees nor may send these fields.
fn keep_operator_fields(body: &mut OAuth2Client, stored: OAuth2Client) {
    body.metadata = stored.metadata;
    body.access_token_strategy = stored.access_token_strategy;
    body.skip_consent = stored.skip_consent;
    body.skip_logout_consent = stored.skip_logout_consent;
    body.audience = stored.audience;
    body.lifespans = stored.lifespans;
}

/// The client as its registration sees it: without the operator's fields.
fn hide_operator_fields(client: &mut OAuth2Client) {
    client.metadata = None;
    client.access_token_strategy = None;
    client.skip_consent = false;
    client.skip_logout_consent = None;
    client.audience = Vec::new();
    client.lifespans = Default::default();
}

/// A registration access token and its keyed hash.
fn new_registration_token(state: &AppState) -> (String, String) {
    let token = keyed::new_token(TOKEN_PREFIX);
    let hash = state.hasher.hash(Purpose::RegistrationToken, &token);
    (token, hash)
}

/// The client with the RFC 7592 fields (the token only when one was just issued), not cached.
fn answer(
    mut response: actix_web::HttpResponseBuilder,
    state: &AppState,
    mut client: OAuth2Client,
    token: Option<String>,
) -> HttpResponse {
    use crate::oidc::discovery::{endpoint, issuer};
    hide_operator_fields(&mut client);
    let id = client.client_id.as_deref().unwrap_or_default();
    let path = format!("/oauth2/register/{}", urlencoding(id));
    client.registration_client_uri = Some(endpoint(issuer(state), &path));
    client.registration_access_token = token;
    response
        .insert_header(("cache-control", "no-store"))
        .json(client)
}

fn urlencoding(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

/// The operator's limits on a self-registered client; applies `default_scope` when the body
/// names no scope.
fn restrict(
    settings: &DynamicClientRegistration,
    mut body: OAuth2Client,
) -> Result<OAuth2Client, ApiError> {
    let refuse = |field: &str| {
        Err(ApiError::InvalidClientMetadata(format!(
            "{field} cannot be set through dynamic client registration"
        )))
    };
    let lifespans = serde_json::to_value(&body.lifespans).map_err(anyhow::Error::from)?;
    match () {
        _ if body.metadata.is_some() => return refuse("metadata"),
        _ if body.access_token_strategy.is_some() => return refuse("access_token_strategy"),
        _ if body.skip_consent => return refuse("skip_consent"),
        _ if body.skip_logout_consent == Some(true) => return refuse("skip_logout_consent"),
        _ if !body.audience.is_empty() => return refuse("audience"),
        _ if lifespans.as_object().is_some_and(|o| !o.is_empty()) => {
            return refuse("token lifespans");
        }
        _ => {}
    }
    if body.scope.trim().is_empty() {
        body.scope = settings.default_scope.join(" ");
    }
    if let Some(scope) = body
        .scope
        .split_whitespace()
        .find(|s| !settings.allowed_scope.iter().any(|a| a == s))
    {
        return Err(ApiError::InvalidClientMetadata(format!(
            "scope {scope} is not available to dynamically registered clients"
        )));
    }
    if let Some(uri) = body
        .backchannel_logout_uri
        .as_deref()
        .filter(|u| !u.is_empty())
    {
        check_outbound(uri)?;
    }
    Ok(body)
}

/// A URI the service will send requests to: https to a public-looking host name, never an IP
/// address, `localhost`, a single-label name or a name under a suffix used for internal
/// networks, so a self-registered client cannot point the service at internal services by name
/// or number. (A public name that resolves to an internal address is not caught here; protect
/// registration with initial access tokens where that matters.)
fn check_outbound(uri: &str) -> Result<(), ApiError> {
    const INTERNAL: &[&str] = &[
        "localhost",
        "local",
        "internal",
        "intranet",
        "lan",
        "home",
        "corp",
        "private",
        "localdomain",
        "home.arpa",
        "svc",
        "cluster.local",
    ];
    let refuse = || {
        Err(ApiError::InvalidClientMetadata(
            "backchannel_logout_uri must be an https URL to a public host name".into(),
        ))
    };
    let Ok(url) = Url::parse(uri) else {
        return refuse();
    };
    let (true, Some(Host::Domain(host))) = (url.scheme() == "https", url.host()) else {
        return refuse();
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let internal = INTERNAL
        .iter()
        .any(|suffix| host == *suffix || host.ends_with(&format!(".{suffix}")));
    if internal || !host.contains('.') {
        return refuse();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> DynamicClientRegistration {
        DynamicClientRegistration::default()
    }

    fn body(json: serde_json::Value) -> OAuth2Client {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn operator_fields_are_refused() {
        for json in [
            serde_json::json!({"metadata": {"a": 1}}),
            serde_json::json!({"access_token_strategy": "jwt"}),
            serde_json::json!({"skip_consent": true}),
            serde_json::json!({"skip_logout_consent": true}),
            serde_json::json!({"audience": ["https://api.test"]}),
            serde_json::json!({"authorization_code_grant_access_token_lifespan": "24h"}),
            serde_json::json!({"scope": "openid admin"}),
            serde_json::json!({"backchannel_logout_uri": "http://rp.test/bc"}),
            serde_json::json!({"backchannel_logout_uri": "https://10.0.0.1/bc"}),
            serde_json::json!({"backchannel_logout_uri": "https://[::1]/bc"}),
            serde_json::json!({"backchannel_logout_uri": "https://localhost/bc"}),
            serde_json::json!({"backchannel_logout_uri": "https://localhost./bc"}),
            serde_json::json!({"backchannel_logout_uri": "https://x.localhost/bc"}),
            serde_json::json!({"backchannel_logout_uri": "https://vault/bc"}),
            serde_json::json!({"backchannel_logout_uri": "https://kubernetes.default.svc/bc"}),
            serde_json::json!({"backchannel_logout_uri": "https://db.internal/bc"}),
        ] {
            let err = restrict(&settings(), body(json.clone())).err();
            assert!(
                matches!(err, Some(ApiError::InvalidClientMetadata(_))),
                "{json}"
            );
        }
    }

    #[test]
    fn the_default_scope_fills_an_empty_one() {
        let client = restrict(&settings(), body(serde_json::json!({}))).unwrap();
        assert_eq!(client.scope, "openid offline_access offline");
        let client = restrict(
            &settings(),
            body(serde_json::json!({"scope": "openid email", "backchannel_logout_uri": "https://rp.test/bc"})),
        )
        .unwrap();
        assert_eq!(client.scope, "openid email");
    }
}
