//! Flow submissions arrive as forms (browsers) or JSON (SPAs and apps) with the same field
//! names; both become one map of strings.

use std::collections::BTreeMap;

use actix_web::HttpRequest;
use actix_web::web::Bytes;
use percent_encoding::percent_decode;

use crate::error::ApiError;

pub struct Submission {
    fields: BTreeMap<String, String>,
    /// The body was JSON: answer in JSON too.
    pub json: bool,
}

impl Submission {
    pub fn parse(req: &HttpRequest, body: &Bytes) -> Result<Submission, ApiError> {
        let content_type = req
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/x-www-form-urlencoded" => Ok(Submission {
                fields: parse_form(body)?,
                json: false,
            }),
            "application/json" => Ok(Submission {
                fields: parse_json(body)?,
                json: true,
            }),
            _ => Err(ApiError::UnsupportedMediaType(
                "submit the flow as application/x-www-form-urlencoded or application/json".into(),
            )),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// A field that must be present and non-empty.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// Fills in a field the server knows (the identifier an identifier-first flow fixed).
    pub fn set(&mut self, name: &str, value: &str) {
        self.fields.insert(name.into(), value.into());
    }

    /// The fields whose names start with `prefix` (`traits.` for registration), by name.
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.fields
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

fn parse_form(body: &Bytes) -> Result<BTreeMap<String, String>, ApiError> {
    let invalid = || ApiError::BadRequest("the form body is not valid UTF-8 form encoding".into());
    let mut fields = BTreeMap::new();
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (key, value) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        let decode = |raw: &[u8]| -> Result<String, ApiError> {
            let plus_as_space: Vec<u8> = raw
                .iter()
                .map(|b| if *b == b'+' { b' ' } else { *b })
                .collect();
            percent_decode(&plus_as_space)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| invalid())
        };
        // The last occurrence wins, as for JSON objects with duplicate keys.
        fields.insert(decode(key)?, decode(value)?);
    }
    Ok(fields)
}

fn parse_json(body: &Bytes) -> Result<BTreeMap<String, String>, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("the JSON body is invalid: {e}")))?;
    let serde_json::Value::Object(object) = value else {
        return Err(ApiError::BadRequest(
            "the JSON body must be an object".into(),
        ));
    };
    let mut fields = BTreeMap::new();
    for (key, value) in object {
        match value {
            serde_json::Value::String(s) => {
                fields.insert(key, s);
            }
            serde_json::Value::Null => {}
            // Kratos' boolean fields (`totp_unlink`, `lookup_secret_confirm`, …) as forms send them.
            serde_json::Value::Bool(b)
                if !matches!(
                    key.as_str(),
                    "method" | "identifier" | "password" | "csrf_token"
                ) =>
            {
                fields.insert(key, b.to_string());
            }
            // Kratos ignores fields it does not know; ours must be strings.
            _ if !matches!(
                key.as_str(),
                "method" | "identifier" | "password" | "csrf_token"
            ) => {}
            _ => return Err(ApiError::BadRequest(format!("{key} must be a string"))),
        }
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_strictly() {
        let fields = parse_form(&Bytes::from_static(
            b"identifier=a%40b.c&password=p+w%20d&x",
        ))
        .unwrap();
        assert_eq!(fields["identifier"], "a@b.c");
        assert_eq!(fields["password"], "p w d");
        assert_eq!(fields["x"], "");
        assert!(parse_form(&Bytes::from_static(b"identifier=%C0%AE%C0%AE")).is_err());
        assert!(parse_form(&Bytes::from_static(b"identifier=%FF%FE")).is_err());
    }

    #[test]
    fn json_fields_must_be_strings() {
        assert!(parse_json(&Bytes::from_static(br#"{"identifier": {"$ne": null}}"#)).is_err());
        assert!(parse_json(&Bytes::from_static(b"[]")).is_err());
        let fields = parse_json(&Bytes::from_static(
            br#"{"identifier": "a", "transient_payload": {}}"#,
        ))
        .unwrap();
        assert_eq!(fields["identifier"], "a");
    }
}
