//! `/admin/oauth2/auth/requests/{login,consent}[/accept|/reject]`, also without the `/admin`
//! prefix, reading `login_challenge` / `consent_challenge` or the `challenge` alias.
//!
//! Unknown challenge → 404. First accept or reject → 200 with a single-use verifier. Anything
//! after the first decision, and any call after `ttl.login_consent_request` → 410 with the
//! original authorization URL, so the UI can restart cleanly.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use service_kit::http::JsonObject;
use shared_types::consent::{
    AcceptOAuth2ConsentRequest, AcceptOAuth2LoginRequest, OAuth2ConsentRequest, OAuth2LoginRequest,
    OAuth2RedirectTo, RejectOAuth2Request,
};

use crate::error::ApiError;
use crate::flow::store::{self, FlowChanges, FlowRow, Lookup};
use crate::flow::{self as flows, AuthorizeRequest, Decision, Decisions};
use crate::keyed::{Purpose, new_token};
use crate::state::AppState;

pub fn admin_routes(cfg: &mut web::ServiceConfig) {
    for prefix in ["/admin", ""] {
        cfg.route(
            &format!("{prefix}/oauth2/auth/requests/login"),
            web::get().to(get_oauth2_login_request),
        )
        .route(
            &format!("{prefix}/oauth2/auth/requests/login/accept"),
            web::put().to(accept_oauth2_login_request),
        )
        .route(
            &format!("{prefix}/oauth2/auth/requests/login/reject"),
            web::put().to(reject_oauth2_login_request),
        )
        .route(
            &format!("{prefix}/oauth2/auth/requests/consent"),
            web::get().to(get_oauth2_consent_request),
        )
        .route(
            &format!("{prefix}/oauth2/auth/requests/consent/accept"),
            web::put().to(accept_oauth2_consent_request),
        )
        .route(
            &format!("{prefix}/oauth2/auth/requests/consent/reject"),
            web::put().to(reject_oauth2_consent_request),
        );
    }
}

#[derive(Deserialize)]
struct ChallengeQuery {
    login_challenge: Option<String>,
    consent_challenge: Option<String>,
    challenge: Option<String>,
}

#[derive(Clone, Copy)]
enum Kind {
    Login,
    Consent,
}

impl Kind {
    fn lookup(self) -> Lookup {
        match self {
            Kind::Login => Lookup::LoginChallenge,
            Kind::Consent => Lookup::ConsentChallenge,
        }
    }

    fn open_state(self) -> &'static str {
        match self {
            Kind::Login => flows::LOGIN_UNUSED,
            Kind::Consent => flows::CONSENT_UNUSED,
        }
    }

    fn decided_state(self) -> &'static str {
        match self {
            Kind::Login => flows::LOGIN_DECIDED,
            Kind::Consent => flows::CONSENT_DECIDED,
        }
    }
}

/// The open flow behind a challenge, or the answer the challenge table gives instead.
struct Open {
    challenge: String,
    row: FlowRow,
    request: AuthorizeRequest,
    decisions: Decisions,
}

async fn open(state: &AppState, kind: Kind, query: &ChallengeQuery) -> Result<Open, ApiError> {
    let given = match kind {
        Kind::Login => query.login_challenge.as_ref(),
        Kind::Consent => query.consent_challenge.as_ref(),
    };
    let challenge = given
        .or(query.challenge.as_ref())
        .filter(|c| !c.is_empty())
        .cloned()
        .ok_or_else(|| {
            ApiError::InvalidRequest(
                "Query parameter 'challenge' is not defined but should have been.".into(),
            )
        })?;
    let hashes = state.hasher.candidates(Purpose::Challenge, &challenge);
    let lookup = kind.lookup();
    let row = state
        .db
        .read(move |c| store::find(c, lookup, &hashes).map_err(ApiError::from))
        .await?
        .ok_or(ApiError::NotFound)?;
    let now = state.settings.settings.clock.now();
    let decisions: Decisions = serde_json::from_value(row.decisions.0.clone())
        .map_err(|e| ApiError::Internal(e.into()))?;
    let issued = match kind {
        Kind::Login => row.requested_at.and_utc(),
        Kind::Consent => decisions
            .consent_requested_at
            .unwrap_or(row.requested_at.and_utc()),
    };
    let expired = issued + state.settings.settings.ttl.login_consent_request <= now;
    if expired || row.state != kind.open_state() {
        return Err(ApiError::Gone {
            redirect_to: row.request_url.clone(),
        });
    }
    let request =
        serde_json::from_value(row.request.0.clone()).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Open {
        challenge,
        row,
        request,
        decisions,
    })
}

pub(crate) async fn client_of(
    state: &AppState,
    client_id: &str,
) -> Result<shared_types::client::OAuth2Client, ApiError> {
    let id = client_id.to_string();
    let row = state
        .db
        .read(move |c| crate::client::store::find(c, &id).map_err(ApiError::from))
        .await?;
    crate::client::handlers::to_wire(row)
}

/// Records the decision and returns the verifier URL; only the first decision counts.
async fn decide(
    state: &AppState,
    kind: Kind,
    open: Open,
    decisions: Decisions,
    subject: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let verifier = new_token(flows::VERIFIER_PREFIX);
    let hash = state.hasher.hash(Purpose::Verifier, &verifier);
    let mut changes = FlowChanges {
        state: Some(kind.decided_state().into()),
        decisions: Some(decisions.to_json()),
        subject,
        updated_at: Some(state.settings.settings.clock.now().naive_utc()),
        ..Default::default()
    };
    let param = match kind {
        Kind::Login => {
            changes.login_verifier_hash = Some(hash);
            "login_verifier"
        }
        Kind::Consent => {
            changes.consent_verifier_hash = Some(hash);
            "consent_verifier"
        }
    };
    let (id, from) = (open.row.id, kind.open_state());
    if !state
        .db
        .write(move |c| store::transition(c, id, from, changes).map_err(ApiError::from))
        .await?
    {
        return Err(ApiError::Gone {
            redirect_to: open.row.request_url,
        });
    }
    let mut redirect =
        url::Url::parse(&open.row.request_url).map_err(|e| ApiError::Internal(e.into()))?;
    redirect.query_pairs_mut().append_pair(param, &verifier);
    Ok(HttpResponse::Ok().json(OAuth2RedirectTo {
        redirect_to: redirect.into(),
    }))
}

#[tracing::instrument(skip_all)]
async fn get_oauth2_login_request(
    state: web::Data<AppState>,
    query: web::Query<ChallengeQuery>,
) -> Result<HttpResponse, ApiError> {
    let open = open(&state, Kind::Login, &query).await?;
    let body = OAuth2LoginRequest {
        challenge: open.challenge,
        requested_scope: open.request.scope,
        requested_access_token_audience: open.request.audience,
        skip: open.decisions.login_skip,
        subject: open.row.subject.unwrap_or_default(),
        oidc_context: open.request.oidc_context,
        client: client_of(&state, &open.row.client_id).await?,
        request_url: open.row.request_url,
        session_id: open.row.login_session_id.map(|id| id.0.to_string()),
    };
    Ok(HttpResponse::Ok().json(body))
}

#[tracing::instrument(skip_all)]
async fn accept_oauth2_login_request(
    state: web::Data<AppState>,
    query: web::Query<ChallengeQuery>,
    JsonObject(body): JsonObject<AcceptOAuth2LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    if body.subject.trim().is_empty() {
        return Err(ApiError::InvalidRequest(
            "Field 'subject' must not be empty.".into(),
        ));
    }
    if body.remember_for < 0 || body.remember_for > 10 * 365 * 24 * 3600 {
        return Err(ApiError::InvalidRequest(
            "Field 'remember_for' must be between 0 and ten years in seconds.".into(),
        ));
    }
    let open = open(&state, Kind::Login, &query).await?;
    // A remembered login for someone else: the user must sign in afresh (Hydra's behaviour).
    if open.decisions.login_skip && open.row.subject.as_deref() != Some(body.subject.as_str()) {
        let mut restart =
            url::Url::parse(&open.row.request_url).map_err(|e| ApiError::Internal(e.into()))?;
        restart.query_pairs_mut().append_pair("prompt", "login");
        return Ok(HttpResponse::Ok().json(OAuth2RedirectTo {
            redirect_to: restart.into(),
        }));
    }
    let mut decisions = open.decisions.clone();
    let mut accepted = body;
    accepted.remember |= decisions.login_skip;
    decisions.authenticated_at = Some(state.settings.settings.clock.now());
    let subject = Some(accepted.subject.clone());
    decisions.login = Some(Decision::Accepted(accepted));
    decide(&state, Kind::Login, open, decisions, subject).await
}

#[tracing::instrument(skip_all)]
async fn reject_oauth2_login_request(
    state: web::Data<AppState>,
    query: web::Query<ChallengeQuery>,
    JsonObject(body): JsonObject<RejectOAuth2Request>,
) -> Result<HttpResponse, ApiError> {
    let open = open(&state, Kind::Login, &query).await?;
    let mut decisions = open.decisions.clone();
    decisions.login = Some(Decision::Rejected(body));
    decide(&state, Kind::Login, open, decisions, None).await
}

#[tracing::instrument(skip_all)]
async fn get_oauth2_consent_request(
    state: web::Data<AppState>,
    query: web::Query<ChallengeQuery>,
) -> Result<HttpResponse, ApiError> {
    let open = open(&state, Kind::Consent, &query).await?;
    let login = match &open.decisions.login {
        Some(Decision::Accepted(login)) => login.clone(),
        _ => {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "consent without an accepted login"
            )));
        }
    };
    let client = client_of(&state, &open.row.client_id).await?;
    let skip = remembered_consent_covers(&state, &client, &open).await?;
    let body = OAuth2ConsentRequest {
        challenge: open.challenge,
        consent_request_id: open.row.id.0.simple().to_string(),
        requested_scope: open.request.scope,
        requested_access_token_audience: open.request.audience,
        skip,
        subject: open.row.subject.unwrap_or_default(),
        oidc_context: open.request.oidc_context,
        client,
        request_url: open.row.request_url,
        // Only keyed hashes of challenges are stored, so the login challenge cannot be shown.
        login_challenge: String::new(),
        login_session_id: open
            .row
            .login_session_id
            .map(|id| id.0.to_string())
            .unwrap_or_default(),
        acr: login.acr,
        amr: login.amr,
        context: login.context,
    };
    Ok(HttpResponse::Ok().json(body))
}

/// Whether an earlier remembered consent of this subject for this client covers the request
/// (`skip: true`), under the rules of [`super::may_skip`].
async fn remembered_consent_covers(
    state: &AppState,
    client: &shared_types::client::OAuth2Client,
    open: &Open,
) -> Result<bool, ApiError> {
    if !super::may_skip(client, &open.request) {
        return Ok(false);
    }
    let subject = open.row.subject.clone().unwrap_or_default();
    let client_id = open.row.client_id.clone();
    let now = state.settings.settings.clock.now().naive_utc();
    let remembered = state
        .db
        .read(move |c| {
            super::store::remembered(c, &subject, &client_id, now).map_err(ApiError::from)
        })
        .await?;
    Ok(super::covering(&remembered, &open.request.scope, &open.request.audience).is_some())
}

#[tracing::instrument(skip_all)]
async fn accept_oauth2_consent_request(
    state: web::Data<AppState>,
    query: web::Query<ChallengeQuery>,
    JsonObject(body): JsonObject<AcceptOAuth2ConsentRequest>,
) -> Result<HttpResponse, ApiError> {
    let open = open(&state, Kind::Consent, &query).await?;
    if let Some(extra) = body
        .grant_scope
        .iter()
        .find(|s| !open.request.scope.contains(s))
    {
        return Err(ApiError::InvalidRequest(format!(
            "The scope {extra:?} was not requested and cannot be granted."
        )));
    }
    if let Some(extra) = body
        .grant_access_token_audience
        .iter()
        .find(|a| !open.request.audience.contains(a))
    {
        return Err(ApiError::InvalidRequest(format!(
            "The audience {extra:?} was not requested and cannot be granted."
        )));
    }
    for (name, value) in [
        ("session.id_token", &body.session.id_token),
        ("session.access_token", &body.session.access_token),
    ] {
        if value
            .as_ref()
            .is_some_and(|v| !v.is_object() && !v.is_null())
        {
            return Err(ApiError::InvalidRequest(format!(
                "Field '{name}' must be a JSON object."
            )));
        }
    }
    let mut decisions = open.decisions.clone();
    decisions.consent = Some(Decision::Accepted(body));
    decide(&state, Kind::Consent, open, decisions, None).await
}

#[tracing::instrument(skip_all)]
async fn reject_oauth2_consent_request(
    state: web::Data<AppState>,
    query: web::Query<ChallengeQuery>,
    JsonObject(body): JsonObject<RejectOAuth2Request>,
) -> Result<HttpResponse, ApiError> {
    let open = open(&state, Kind::Consent, &query).await?;
    let mut decisions = open.decisions.clone();
    decisions.consent = Some(Decision::Rejected(body));
    decide(&state, Kind::Consent, open, decisions, None).await
}
