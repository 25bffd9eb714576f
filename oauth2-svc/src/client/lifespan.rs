//! Per-client token lifespans (Hydra's `*_grant_*_lifespan` fields): Go duration strings stored
//! on the client, validated and normalised on every write, read by the token endpoint.

use std::time::Duration;

use shared_types::client::{OAuth2Client, OAuth2ClientTokenLifespans};

use crate::error::ApiError;
pub use crate::token::TokenKind;

/// The longest lifespan a client may ask for (a refresh token of Hydra's default 720h fits).
const MAX: Duration = Duration::from_secs(400 * 24 * 3600);

/// The field of `lifespans` for `grant_type` and `kind`, if Hydra has one.
fn field<'a>(
    lifespans: &'a mut OAuth2ClientTokenLifespans,
    grant_type: &str,
    kind: TokenKind,
) -> Option<&'a mut Option<String>> {
    use TokenKind::*;
    let l = lifespans;
    Some(match (grant_type, kind) {
        ("authorization_code", AccessToken) => {
            &mut l.authorization_code_grant_access_token_lifespan
        }
        ("authorization_code", IdToken) => &mut l.authorization_code_grant_id_token_lifespan,
        ("authorization_code", RefreshToken) => {
            &mut l.authorization_code_grant_refresh_token_lifespan
        }
        ("client_credentials", AccessToken) => {
            &mut l.client_credentials_grant_access_token_lifespan
        }
        ("urn:ietf:params:oauth:grant-type:device_code", AccessToken) => {
            &mut l.device_authorization_grant_access_token_lifespan
        }
        ("urn:ietf:params:oauth:grant-type:device_code", IdToken) => {
            &mut l.device_authorization_grant_id_token_lifespan
        }
        ("urn:ietf:params:oauth:grant-type:device_code", RefreshToken) => {
            &mut l.device_authorization_grant_refresh_token_lifespan
        }
        ("implicit", AccessToken) => &mut l.implicit_grant_access_token_lifespan,
        ("implicit", IdToken) => &mut l.implicit_grant_id_token_lifespan,
        ("urn:ietf:params:oauth:grant-type:jwt-bearer", AccessToken) => {
            &mut l.jwt_bearer_grant_access_token_lifespan
        }
        ("refresh_token", AccessToken) => &mut l.refresh_token_grant_access_token_lifespan,
        ("refresh_token", IdToken) => &mut l.refresh_token_grant_id_token_lifespan,
        ("refresh_token", RefreshToken) => &mut l.refresh_token_grant_refresh_token_lifespan,
        _ => return None,
    })
}

/// The client's lifespan for tokens of `kind` issued by `grant_type`; `None` means the global
/// `ttl.*` setting applies. Stored values were validated on write; an unreadable one is ignored.
pub fn for_grant(client: &OAuth2Client, grant_type: &str, kind: TokenKind) -> Option<Duration> {
    let mut lifespans = client.lifespans.clone();
    let value = field(&mut lifespans, grant_type, kind)?.as_deref()?;
    parse_go_duration(value).ok()
}

/// Checks every lifespan of `lifespans` and rewrites it in Go's canonical form (`"1h0m0s"`).
pub fn normalise(lifespans: &mut OAuth2ClientTokenLifespans) -> Result<(), ApiError> {
    let value = serde_json::to_value(&*lifespans).map_err(anyhow::Error::from)?;
    let mut out = serde_json::Map::new();
    for (name, raw) in value.as_object().into_iter().flatten() {
        let Some(text) = raw.as_str() else { continue };
        let duration = parse_go_duration(text)
            .map_err(|reason| ApiError::InvalidClientMetadata(format!("{name} {reason}")))?;
        if duration.is_zero() || duration > MAX || duration.subsec_nanos() != 0 {
            return Err(ApiError::InvalidClientMetadata(format!(
                "{name} must be a whole number of seconds between 1s and 9600h"
            )));
        }
        out.insert(name.clone(), format_go_duration(duration).into());
    }
    *lifespans = serde_json::from_value(out.into()).map_err(anyhow::Error::from)?;
    Ok(())
}

/// Go's `time.ParseDuration` for non-negative values: decimal numbers with units
/// `ns`, `us`/`µs`, `ms`, `s`, `m`, `h` (`"1h30m"`, `"1.5h"`, `"300ms"`).
pub fn parse_go_duration(text: &str) -> Result<Duration, &'static str> {
    const BAD: &str = "must be a Go duration such as \"1h0m0s\", \"30m\" or \"45s\"";
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest.is_empty() {
        return Err(BAD);
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or(BAD)?;
        let number: f64 = rest[..number_len].parse().map_err(|_| BAD)?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(BAD),
        };
        rest = &rest[unit_len..];
        total += number * scale;
    }
    if !total.is_finite() || total > 1e12 {
        return Err(BAD);
    }
    // Round to the nanosecond so that "1.5h" is exactly 5400s.
    Ok(Duration::from_nanos((total * 1e9).round() as u64))
}

/// Go's `Duration.String` for whole seconds: `"1h0m0s"`, `"30m0s"`, `"45s"`.
pub fn format_go_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_go_durations() {
        for (text, secs) in [
            ("1h0m0s", 3600),
            ("30m", 1800),
            ("1.5h", 5400),
            ("720h0m0s", 720 * 3600),
            ("45s", 45),
            ("1h30m15s", 5415),
        ] {
            assert_eq!(
                parse_go_duration(text),
                Ok(Duration::from_secs(secs)),
                "{text}"
            );
        }
        for bad in ["", "1", "1d", "-1h", "h", "1h30", "one hour", "1..5h"] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(format_go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format_go_duration(Duration::from_secs(1800)), "30m0s");
        assert_eq!(format_go_duration(Duration::from_secs(45)), "45s");
    }

    #[test]
    fn normalises_and_rejects() {
        let mut l = OAuth2ClientTokenLifespans {
            authorization_code_grant_access_token_lifespan: Some("90m".into()),
            ..Default::default()
        };
        normalise(&mut l).unwrap();
        assert_eq!(
            l.authorization_code_grant_access_token_lifespan.as_deref(),
            Some("1h30m0s")
        );
        for bad in ["0s", "1.5s", "10000h", "soon"] {
            let mut l = OAuth2ClientTokenLifespans {
                refresh_token_grant_id_token_lifespan: Some(bad.into()),
                ..Default::default()
            };
            assert!(normalise(&mut l).is_err(), "{bad}");
        }
    }

    #[test]
    fn looks_up_per_grant() {
        let client = OAuth2Client {
            lifespans: OAuth2ClientTokenLifespans {
                client_credentials_grant_access_token_lifespan: Some("2m0s".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(
            for_grant(&client, "client_credentials", TokenKind::AccessToken),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            for_grant(&client, "authorization_code", TokenKind::AccessToken),
            None
        );
        assert_eq!(
            for_grant(&client, "client_credentials", TokenKind::IdToken),
            None
        );
    }
}
