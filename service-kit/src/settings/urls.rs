//! The checks for the URLs settings name: where browsers reach a service, and other services'
//! APIs and endpoints.

use super::SettingsError;

/// A URL browsers reach a service at (`urls.self.*`): https, or http on loopback or with `dev`;
/// no query or fragment. `what` says what the URL is for when it is missing.
pub fn browser_url(
    key: &str,
    raw: Option<&str>,
    dev: bool,
    what: &str,
) -> Result<url::Url, SettingsError> {
    let raw =
        raw.ok_or_else(|| SettingsError::invalid(key, format_args!("is required ({what})")))?;
    let url = url::Url::parse(raw).map_err(|e| SettingsError::invalid(key, e))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(SettingsError::invalid(
            key,
            "must not have a query or fragment",
        ));
    }
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" => Ok(url),
        "http" if dev || loopback => Ok(url),
        _ => Err(SettingsError::invalid(
            key,
            "must be an https URL (http is allowed on loopback or with dev = true)",
        )),
    }
}

/// The URL of another service's API (`urls.oauth2.admin`, `urls.identity.admin`). Upstreams
/// live on the private network, so plain http is allowed. The path is kept as a base (with a
/// trailing `/`), so that an upstream behind a path prefix still gets `<prefix>/health/alive`.
pub fn upstream_url(key: &str, raw: Option<&str>) -> Result<url::Url, SettingsError> {
    let mut url = endpoint_url(key, raw)?;
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// The URL of one endpoint of another service, such as a web hook's receiver
/// (`hooks.identity_lifecycle.url`): checked like [`upstream_url`], but its path is kept exactly.
pub fn endpoint_url(key: &str, raw: Option<&str>) -> Result<url::Url, SettingsError> {
    let raw = raw.ok_or_else(|| SettingsError::invalid(key, "is required"))?;
    let url = url::Url::parse(raw).map_err(|e| SettingsError::invalid(key, e))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(SettingsError::invalid(key, "must be an http or https URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(SettingsError::invalid(
            key,
            "must not have a query or fragment",
        ));
    }
    Ok(url)
}
