//! Reading a flow from identity-svc's public API with the browser's cookies, and what each of
//! its answers means for the browser: show the flow, restart it, follow identity-svc elsewhere
//! (a step-up or a re-authentication), or go home because a session exists already.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use service_kit::http::{REQUEST_ID_HEADER, RequestId};

use super::FlowKind;
use crate::api::UpstreamError;
use crate::upstream::Upstreams;

/// What identity-svc answered for a flow id.
#[derive(Debug, PartialEq)]
pub enum Fetched {
    /// The flow, as identity-svc sent it (Kratos' flow object).
    Flow(Value),
    /// Expired (410, at identity-svc's `redirect_to`, which keeps `return_to`) or unknown (404,
    /// `None`): start a new flow.
    Restart(Option<String>),
    /// 403 (`security_csrf_violation`: identity-svc's cookie did not come back) or any other
    /// answer that is no flow: restarting would only loop, so the browser sees an error page.
    Unusable(StatusCode),
    /// `session_aal2_required`, `session_refresh_required`, or any `redirect_browser_to`.
    Follow(String),
    /// `session_already_available`: the browser is signed in; nothing to do here.
    Home,
}

/// Reads a browser flow; `Err` only when identity-svc cannot be reached or answers nonsense.
pub async fn flow(
    upstreams: &Upstreams,
    kind: FlowKind,
    id: &str,
    cookie: Option<&str>,
    rid: &RequestId,
) -> Result<Fetched, UpstreamError> {
    let mut url = upstreams
        .identity_public()
        .join(&format!("self-service/{}/flows", kind.name()))
        .expect("a fixed relative path joins");
    url.query_pairs_mut().append_pair("id", id);
    let (status, body) = get(upstreams, url, cookie, rid).await?;
    Ok(interpret(status, &body))
}

/// The identity's sessions other than this one (`GET /sessions`), or `None` without a session.
pub async fn other_sessions(
    upstreams: &Upstreams,
    cookie: Option<&str>,
    rid: &RequestId,
) -> Result<Option<Vec<Value>>, UpstreamError> {
    let url = upstreams
        .identity_public()
        .join("sessions")
        .expect("a fixed relative path joins");
    let (status, body) = get(upstreams, url, cookie, rid).await?;
    if !status.is_success() {
        return Ok(None);
    }
    Ok(body.as_array().cloned())
}

/// Revokes one of the identity's other sessions (`DELETE /sessions/{id}`); answers whether
/// identity-svc did (an id that is not the identity's is its 404).
pub async fn revoke_session(
    upstreams: &Upstreams,
    session: uuid_like::SessionId,
    cookie: Option<&str>,
    rid: &RequestId,
) -> Result<bool, UpstreamError> {
    let url = upstreams
        .identity_public()
        .join(&format!("sessions/{}", session.as_str()))
        .expect("a checked id joins");
    let (status, _) = send(upstreams, Method::DELETE, url, cookie, rid).await?;
    Ok(status.is_success())
}

async fn get(
    upstreams: &Upstreams,
    url: url::Url,
    cookie: Option<&str>,
    rid: &RequestId,
) -> Result<(StatusCode, Value), UpstreamError> {
    send(upstreams, Method::GET, url, cookie, rid).await
}

async fn send(
    upstreams: &Upstreams,
    method: Method,
    url: url::Url,
    cookie: Option<&str>,
    rid: &RequestId,
) -> Result<(StatusCode, Value), UpstreamError> {
    let shown = format!("{}{}", url.origin().ascii_serialization(), url.path());
    let fail = |reason: String| UpstreamError {
        url: shown.clone(),
        reason,
    };
    let mut request = upstreams
        .client()
        .request(method, url)
        .header(REQUEST_ID_HEADER, rid.0.as_str())
        .header(reqwest::header::ACCEPT, "application/json");
    if let Some(cookie) = cookie {
        request = request.header(reqwest::header::COOKIE, cookie);
    }
    let response = request
        .send()
        .await
        .map_err(|e| fail(e.without_url().to_string()))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| fail(e.without_url().to_string()))?;
    if status.is_server_error() {
        return Err(fail(format!("status {status}")));
    }
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status.is_success() && body.is_null() && status != StatusCode::NO_CONTENT {
        return Err(fail("unexpected body".into()));
    }
    Ok((status, body))
}

/// Maps identity-svc's status and error envelope (Kratos' error ids) to what the browser does.
pub fn interpret(status: StatusCode, body: &Value) -> Fetched {
    if status.is_success() && body.get("ui").is_some() {
        return Fetched::Flow(body.clone());
    }
    let error_id = body["error"]["id"].as_str().unwrap_or_default();
    let follow = body["redirect_browser_to"]
        .as_str()
        .or_else(|| body["error"]["details"]["redirect_browser_to"].as_str());
    if let Some(to) = follow {
        return Fetched::Follow(to.to_string());
    }
    match (status, error_id) {
        (_, "session_already_available") => Fetched::Home,
        (StatusCode::GONE, _) => {
            let to = body["redirect_to"]
                .as_str()
                .or_else(|| body["error"]["details"]["redirect_to"].as_str());
            Fetched::Restart(to.map(str::to_string))
        }
        (StatusCode::NOT_FOUND, _) => Fetched::Restart(None),
        (other, _) => Fetched::Unusable(other),
    }
}

/// Session ids travel in URLs login-ui builds, so only UUID-shaped ones are accepted.
pub mod uuid_like {
    #[derive(Debug, Clone, PartialEq)]
    pub struct SessionId(String);

    impl SessionId {
        pub fn parse(value: &str) -> Option<SessionId> {
            let shaped = value.len() == 36
                && value.char_indices().all(|(i, c)| match i {
                    8 | 13 | 18 | 23 => c == '-',
                    _ => c.is_ascii_hexdigit(),
                });
            shaped.then(|| SessionId(value.to_ascii_lowercase()))
        }

        pub fn as_str(&self) -> &str {
            &self.0
        }
    }
}
