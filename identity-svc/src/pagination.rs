//! Query strings and keyset pagination of the list endpoints (Kratos' `page_size` and
//! `page_token`, and a `Link: <…>; rel="next"` header while there are more).

use actix_web::HttpRequest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use service_kit::db::Id;

use crate::error::ApiError;

pub const DEFAULT_PAGE_SIZE: i64 = 250;
pub const MAX_PAGE_SIZE: i64 = 1000;

/// The query parameters of a request. Repeated keys are kept (Kratos' `include_credential` is a
/// list); unknown keys are refused, because silently ignoring a filter such as `ids` would
/// answer with rows the caller did not ask for.
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    /// `allowed` keys, and any key `also` accepts (such as `traits.*`).
    pub fn parse_with(
        req: &HttpRequest,
        allowed: &[&str],
        also: impl Fn(&str) -> bool,
    ) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(req.query_string().as_bytes())
                .into_owned()
                .collect();
        if let Some((key, _)) = pairs
            .iter()
            .find(|(k, _)| !allowed.contains(&k.as_str()) && !also(k))
        {
            return Err(ApiError::BadRequest(format!(
                "unknown query parameter {key:?}"
            )));
        }
        Ok(QueryParams(pairs))
    }

    pub fn parse(req: &HttpRequest, allowed: &[&str]) -> Result<Self, ApiError> {
        Self::parse_with(req, allowed, |_| false)
    }

    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn one(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// A boolean parameter (`true`/`false`), if present.
    pub fn flag(&self, key: &str) -> Result<Option<bool>, ApiError> {
        self.one(key)
            .map(|v| match v {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(ApiError::BadRequest(format!("{key} must be true or false"))),
            })
            .transpose()
    }

    /// `page_size` and `page_token`.
    pub fn page(&self) -> Result<Page, ApiError> {
        Ok(Page {
            size: page_size(self.one("page_size"))?,
            after: self.one("page_token").map(decode_page_token).transpose()?,
        })
    }
}

/// Where a page starts and how long it is.
#[derive(Clone, Copy, Debug)]
pub struct Page {
    pub size: i64,
    pub after: Option<Id>,
}

impl Page {
    /// Rows to load: one more than the page, to know whether there is a next one.
    pub fn limit(&self) -> i64 {
        self.size + 1
    }

    /// Cuts `rows` (loaded with [`Self::limit`]) to the page; returns the next page's token.
    pub fn finish<T>(&self, rows: &mut Vec<T>, id: impl Fn(&T) -> Id) -> Option<String> {
        if rows.len() as i64 <= self.size {
            return None;
        }
        rows.truncate(self.size as usize);
        rows.last()
            .map(|last| URL_SAFE_NO_PAD.encode(id(last).0.as_bytes()))
    }
}

/// The `Link` header for the next page: `path` with the request's own parameters, its
/// `page_token` replaced.
pub fn next_link(path: &str, params: &QueryParams, size: i64, token: &str) -> String {
    let mut link = url::form_urlencoded::Serializer::new(String::new());
    link.append_pair("page_size", &size.to_string())
        .append_pair("page_token", token);
    for (key, value) in params.pairs() {
        if key != "page_size" && key != "page_token" {
            link.append_pair(key, value);
        }
    }
    format!("<{path}?{}>; rel=\"next\"", link.finish())
}

fn page_size(raw: Option<&str>) -> Result<i64, ApiError> {
    let bad = || {
        ApiError::BadRequest(format!(
            "page_size must be a number between 1 and {MAX_PAGE_SIZE}"
        ))
    };
    let size = raw
        .map(|s| s.parse::<i64>().map_err(|_| bad()))
        .transpose()?
        .unwrap_or(DEFAULT_PAGE_SIZE);
    if (1..=MAX_PAGE_SIZE).contains(&size) {
        Ok(size)
    } else {
        Err(bad())
    }
}

fn decode_page_token(token: &str) -> Result<Id, ApiError> {
    let bad = || ApiError::BadRequest("page_token is not valid".into());
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    uuid::Uuid::from_slice(&bytes).map(Id).map_err(|_| bad())
}
