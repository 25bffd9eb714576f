//! Calls to the upstream APIs a flow needs: oauth2-svc's admin login/consent API and
//! identity-svc's public (whoami, flows; with the browser's cookies) and admin (identities) APIs;
//! and oauth2-svc's session revocation, for identity-svc's lifecycle hook.

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use service_kit::http::{REQUEST_ID_HEADER, RequestId};
use shared_types::consent::OAuth2RedirectTo;
use url::Url;

use crate::upstream::Upstreams;

/// What an upstream answered, in the terms a page needs.
#[derive(Debug)]
pub enum Answer<T> {
    Ok(T),
    /// Hydra's 410: the challenge was used or expired; restart at `redirect_to`.
    Gone(String),
    NotFound,
    /// 401/403: no session, or the flow belongs to another browser.
    Denied,
    /// Expired flow (identity-svc's 410); login-ui's flow pages start a new one.
    Expired,
    /// 400 where a page can explain it: a wrong user code for a device challenge.
    Invalid,
    /// 429: a limit that protects guessable values (device user codes) was reached.
    TooMany,
}

#[derive(Debug, thiserror::Error)]
#[error("upstream {url} failed: {reason}")]
pub struct UpstreamError {
    pub url: String,
    pub reason: String,
}

impl Upstreams {
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<serde_json::Value>,
        cookie: Option<&str>,
        request_id: &RequestId,
    ) -> Result<Answer<T>, UpstreamError> {
        let (status, text, shown) = self.send(method, url, body, cookie, request_id).await?;
        interpret(status, &text, &shown)
    }

    /// Sends one request; answers the status, the body and the URL to name in errors.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<serde_json::Value>,
        cookie: Option<&str>,
        request_id: &RequestId,
    ) -> Result<(StatusCode, Vec<u8>, String), UpstreamError> {
        let shown = format!("{}{}", url.origin().ascii_serialization(), url.path());
        let fail = |reason: String| UpstreamError {
            url: shown.clone(),
            reason,
        };
        let mut request = self
            .client()
            .request(method, url)
            .header(REQUEST_ID_HEADER, request_id.0.as_str());
        if let Some(cookie) = cookie {
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| fail(e.without_url().to_string()))?;
        let status = response.status();
        let text = response
            .bytes()
            .await
            .map_err(|e| fail(e.without_url().to_string()))?;
        Ok((status, text.to_vec(), shown))
    }

    fn oauth2(&self, path: &str, param: &str, challenge: &str) -> Url {
        let mut url = self
            .oauth2_admin()
            .join(path)
            .expect("a fixed relative path joins");
        url.query_pairs_mut().append_pair(param, challenge);
        url
    }

    pub async fn get_request<T: DeserializeOwned>(
        &self,
        kind: Kind,
        challenge: &str,
        rid: &RequestId,
    ) -> Result<Answer<T>, UpstreamError> {
        let url = self.oauth2(kind.path(""), kind.param(), challenge);
        self.call(Method::GET, url, None, None, rid).await
    }

    /// `accept` or `reject` with `body`; answers the `redirect_to` for the browser.
    pub async fn decide(
        &self,
        kind: Kind,
        action: &str,
        challenge: &str,
        body: &impl Serialize,
        rid: &RequestId,
    ) -> Result<Answer<OAuth2RedirectTo>, UpstreamError> {
        let url = self.oauth2(kind.path(action), kind.param(), challenge);
        let body = serde_json::to_value(body).map_err(|e| UpstreamError {
            url: url.path().into(),
            reason: e.to_string(),
        })?;
        self.call(Method::PUT, url, Some(body), None, rid).await
    }

    /// Accepts the user code typed for a device challenge. A wrong code is [`Answer::Invalid`]
    /// (oauth2-svc counts it and ends the challenge after a few).
    pub async fn accept_user_code(
        &self,
        challenge: &str,
        user_code: &str,
        rid: &RequestId,
    ) -> Result<Answer<OAuth2RedirectTo>, UpstreamError> {
        let url = self.oauth2(Kind::Device.path("accept"), Kind::Device.param(), challenge);
        let body = serde_json::json!({ "user_code": user_code });
        let (status, text, shown) = self.send(Method::PUT, url, Some(body), None, rid).await?;
        if status == StatusCode::BAD_REQUEST {
            return Ok(Answer::Invalid);
        }
        interpret(status, &text, &shown)
    }

    /// Rejects a logout challenge (Hydra answers 204 with no body).
    pub async fn reject_logout(
        &self,
        challenge: &str,
        rid: &RequestId,
    ) -> Result<Answer<()>, UpstreamError> {
        let url = self.oauth2(Kind::Logout.path("reject"), Kind::Logout.param(), challenge);
        self.call(Method::PUT, url, None, None, rid).await
    }

    /// Makes oauth2-svc forget `subject`: revokes every consent session of it with the access
    /// and refresh tokens they issued (`DELETE …/sessions/consent?subject=…&all=true`), then ends
    /// its remembered logins (`DELETE …/sessions/login?subject=…`). Both are idempotent and answer
    /// 204 even when there is nothing to revoke, so only a 2xx counts: a 404 means a wrong URL or
    /// proxy, and must be retried and alerted on rather than taken as done.
    pub async fn revoke_subject(
        &self,
        subject: &str,
        rid: &RequestId,
    ) -> Result<(), UpstreamError> {
        let calls: [(&str, &[(&str, &str)]); 2] = [
            (
                "admin/oauth2/auth/sessions/consent",
                &[("subject", subject), ("all", "true")],
            ),
            ("admin/oauth2/auth/sessions/login", &[("subject", subject)]),
        ];
        for (path, query) in calls {
            let mut url = self
                .oauth2_admin()
                .join(path)
                .expect("a fixed relative path joins");
            url.query_pairs_mut().extend_pairs(query);
            let (status, _, shown) = self.send(Method::DELETE, url, None, None, rid).await?;
            if !status.is_success() {
                return Err(UpstreamError {
                    url: shown,
                    reason: format!("status {status}"),
                });
            }
        }
        Ok(())
    }

    /// A logout URL for the browser's identity-svc session that returns to `return_to`.
    pub async fn browser_logout(
        &self,
        cookie: Option<&str>,
        return_to: &str,
        rid: &RequestId,
    ) -> Result<Answer<shared_types::flow::LogoutFlow>, UpstreamError> {
        let Some(cookie) = cookie else {
            return Ok(Answer::Denied);
        };
        let mut url = self
            .identity_public()
            .join("self-service/logout/browser")
            .expect("a fixed relative path joins");
        url.query_pairs_mut().append_pair("return_to", return_to);
        self.call(Method::GET, url, None, Some(cookie), rid).await
    }

    /// The browser's identity-svc session, by its forwarded cookies.
    pub async fn whoami(
        &self,
        cookie: Option<&str>,
        rid: &RequestId,
    ) -> Result<Answer<shared_types::flow::Session>, UpstreamError> {
        let Some(cookie) = cookie else {
            return Ok(Answer::Denied);
        };
        let url = self
            .identity_public()
            .join("sessions/whoami")
            .expect("a fixed relative path joins");
        self.call(Method::GET, url, None, Some(cookie), rid).await
    }

    pub async fn identity(
        &self,
        id: &str,
        rid: &RequestId,
    ) -> Result<Answer<shared_types::identity::Identity>, UpstreamError> {
        let url = self
            .identity_admin()
            .join(&format!("admin/identities/{id}"))
            .map_err(|e| UpstreamError {
                url: id.into(),
                reason: e.to_string(),
            })?;
        self.call(Method::GET, url, None, None, rid).await
    }

    /// Where a browser signs in again although it has a session (`refresh=true`), coming back
    /// to `return_to`: for `prompt=login` and `max_age`.
    pub fn browser_refresh_login(&self, return_to: &str) -> Url {
        let mut url = self.browser_login(Some(return_to));
        url.query_pairs_mut().append_pair("refresh", "true");
        url
    }

    /// identity-svc's error flow (`GET /self-service/errors?id=`, Kratos' `flowError`), kept as
    /// JSON: the page shows only `error.message`/`error.reason` and the id.
    pub async fn self_service_error(
        &self,
        id: &str,
        rid: &RequestId,
    ) -> Result<Answer<serde_json::Value>, UpstreamError> {
        let mut url = self
            .identity_public()
            .join("self-service/errors")
            .expect("a fixed relative path joins");
        url.query_pairs_mut().append_pair("id", id);
        self.call(Method::GET, url, None, None, rid).await
    }

    /// Where a browser starts an identity-svc login that comes back to `return_to`.
    pub fn browser_login(&self, return_to: Option<&str>) -> Url {
        let mut url = self
            .identity_public()
            .join("self-service/login/browser")
            .expect("a fixed relative path joins");
        if let Some(return_to) = return_to {
            url.query_pairs_mut().append_pair("return_to", return_to);
        }
        url
    }
}

/// What a status and body mean for a page.
fn interpret<T: DeserializeOwned>(
    status: StatusCode,
    text: &[u8],
    shown: &str,
) -> Result<Answer<T>, UpstreamError> {
    let fail = |reason: String| UpstreamError {
        url: shown.to_string(),
        reason,
    };
    match status {
        // Hydra's logout reject answers 204 with no body.
        StatusCode::NO_CONTENT => serde_json::from_slice(b"null")
            .map(Answer::Ok)
            .map_err(|e| fail(format!("unexpected empty body: {e}"))),
        s if s.is_success() => serde_json::from_slice(text)
            .map(Answer::Ok)
            .map_err(|e| fail(format!("unexpected body: {e}"))),
        StatusCode::GONE => {
            let value: serde_json::Value = serde_json::from_slice(text).unwrap_or_default();
            if let Some(redirect) = value["redirect_to"].as_str() {
                return Ok(Answer::Gone(redirect.to_string()));
            }
            Ok(Answer::Expired)
        }
        StatusCode::NOT_FOUND => Ok(Answer::NotFound),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Ok(Answer::Denied),
        StatusCode::TOO_MANY_REQUESTS => Ok(Answer::TooMany),
        other => Err(fail(format!("status {other}"))),
    }
}

/// The kinds of challenge login-ui answers.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Login,
    Consent,
    Logout,
    /// A device challenge (RFC 8628): only `accept` with a user code exists.
    Device,
}

impl Kind {
    fn param(self) -> &'static str {
        match self {
            Kind::Login => "login_challenge",
            Kind::Consent => "consent_challenge",
            Kind::Logout => "logout_challenge",
            Kind::Device => "device_challenge",
        }
    }

    fn path(self, action: &str) -> &'static str {
        match (self, action) {
            (Kind::Login, "") => "admin/oauth2/auth/requests/login",
            (Kind::Login, "accept") => "admin/oauth2/auth/requests/login/accept",
            (Kind::Login, _) => "admin/oauth2/auth/requests/login/reject",
            (Kind::Consent, "") => "admin/oauth2/auth/requests/consent",
            (Kind::Consent, "accept") => "admin/oauth2/auth/requests/consent/accept",
            (Kind::Consent, _) => "admin/oauth2/auth/requests/consent/reject",
            (Kind::Logout, "") => "admin/oauth2/auth/requests/logout",
            (Kind::Logout, "accept") => "admin/oauth2/auth/requests/logout/accept",
            (Kind::Logout, _) => "admin/oauth2/auth/requests/logout/reject",
            (Kind::Device, _) => "admin/oauth2/auth/requests/device/accept",
        }
    }
}
