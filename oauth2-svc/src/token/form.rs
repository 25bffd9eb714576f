//! Strict `application/x-www-form-urlencoded` bodies (RFC 6749 §3.2): no other media type, no
//! parameter twice, and a parameter without a value counts as absent (§3.1).

use std::collections::HashMap;

pub const FORM_MEDIA_TYPE: &str = "application/x-www-form-urlencoded";

#[derive(Debug, Default)]
pub struct Form(HashMap<String, String>);

impl Form {
    /// Parses `body` sent with `content_type`; the error text is safe to show (it names at most
    /// a parameter, never a value).
    pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Form, String> {
        if !is_form(content_type) {
            return Err(format!(
                "The request must be sent with Content-Type: {FORM_MEDIA_TYPE}"
            ));
        }
        let mut params = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        for (key, value) in url::form_urlencoded::parse(body) {
            if !seen.insert(key.to_string()) {
                return Err(format!(
                    "The parameter {} must not be sent more than once",
                    printable(&key)
                ));
            }
            if !value.is_empty() {
                params.insert(key.into_owned(), value.into_owned());
            }
        }
        Ok(Form(params))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

/// Whether the media type (parameters such as `charset` aside) is the form type.
pub fn is_form(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(FORM_MEDIA_TYPE))
}

/// A parameter name for an error text: quoted when it looks like a name, else left out.
fn printable(name: &str) -> String {
    let plain = name.len() <= 40 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if plain {
        format!("'{name}'")
    } else {
        "(unnamed)".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_form_and_treats_empty_values_as_absent() {
        let form = Form::parse(
            Some("application/x-www-form-urlencoded; charset=UTF-8"),
            b"grant_type=authorization_code&code=a%2Bb+c&scope=",
        )
        .unwrap();
        assert_eq!(form.get("grant_type"), Some("authorization_code"));
        assert_eq!(form.get("code"), Some("a+b c"));
        assert!(!form.contains("scope"));
    }

    /// TK-11: duplicated parameters and other media types are `invalid_request`.
    #[test]
    fn rejects_duplicates_and_other_media_types() {
        let ct = Some(FORM_MEDIA_TYPE);
        let err = Form::parse(ct, b"code=A&code=B").unwrap_err();
        assert!(err.contains("'code'") && !err.contains('A'), "{err}");
        assert!(Form::parse(ct, b"code=&code=B").is_err());
        assert!(Form::parse(Some("application/json"), b"{}").is_err());
        assert!(Form::parse(None, b"code=A").is_err());
    }
}
