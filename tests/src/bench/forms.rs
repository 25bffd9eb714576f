//! Just enough HTML form reading for login-ui's sign-in page: the form that asks for a password
//! (or, identifier first, for the identifier), its action, hidden fields and submit button.

use reqwest::Url;

pub struct LoginForm {
    pub action: Url,
    fields: Vec<(String, String)>,
    pub has_password: bool,
}

impl LoginForm {
    /// The form's own fields with the identifier and password typed in.
    pub fn filled(&self, identifier: &str, password: &str) -> Vec<(String, String)> {
        let mut out = self.fields.clone();
        for (name, value) in out.iter_mut() {
            match name.as_str() {
                "identifier" => *value = identifier.to_string(),
                "password" => *value = password.to_string(),
                _ => {}
            }
        }
        out
    }
}

fn unescape(value: &str) -> String {
    value
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2F;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let mut rest = tag;
    while let Some(eq) = rest.find("=\"") {
        let key = rest[..eq].rsplit(char::is_whitespace).next().unwrap_or("");
        let after = &rest[eq + 2..];
        let end = after.find('"')?;
        if key == name {
            return Some(unescape(&after[..end]));
        }
        rest = &after[end + 1..];
    }
    None
}

/// The first form of `html` with a `password` input, else the first with an `identifier` input.
pub fn login_form(page: &Url, html: &str) -> Option<LoginForm> {
    let forms = forms(html);
    let pick = |field: &str| {
        forms
            .iter()
            .find(|(_, inputs, _)| inputs.iter().any(|(n, _)| n == field))
    };
    let (tag, inputs, buttons) = pick("password").or_else(|| pick("identifier"))?;
    let action = page
        .join(&attribute(tag, "action").unwrap_or_default())
        .ok()?;
    let has_password = inputs.iter().any(|(n, _)| n == "password");
    let mut fields = inputs.clone();
    let button = buttons
        .iter()
        .find(|(n, v)| n == "method" && v == "password")
        .or_else(|| buttons.first());
    fields.extend(button.cloned());
    Some(LoginForm {
        action,
        fields,
        has_password,
    })
}

type ParsedForm<'a> = (&'a str, Vec<(String, String)>, Vec<(String, String)>);

/// Each form: its opening tag, its named inputs, and its named submit buttons.
fn forms(html: &str) -> Vec<ParsedForm<'_>> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<form") {
        let Some(end) = rest[start..].find("</form>").map(|e| start + e) else {
            break;
        };
        let body = &rest[start..end];
        let tag = &body[..body.find('>').unwrap_or(body.len())];
        let (mut inputs, mut buttons) = (Vec::new(), Vec::new());
        let mut tags = body;
        while let Some(i) = tags.find('<') {
            let element = &tags[i..tags[i..].find('>').map_or(tags.len(), |e| i + e)];
            let is_input = element.starts_with("<input");
            if (is_input || element.starts_with("<button"))
                && let Some(name) = attribute(element, "name")
            {
                let kind = attribute(element, "type")
                    .unwrap_or_else(|| if is_input { "text" } else { "submit" }.into());
                let value = attribute(element, "value").unwrap_or_default();
                match kind.as_str() {
                    "submit" => buttons.push((name, value)),
                    "checkbox" | "button" => {}
                    _ => inputs.push((name, value)),
                }
            }
            tags = &tags[i + 1..];
        }
        out.push((tag, inputs, buttons));
        rest = &rest[end + "</form>".len()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_password_form_with_its_hidden_fields_and_button() {
        let html = r#"<form action="/other"><input name="code"></form>
            <form method="post" action="http://127.0.0.1:1/self-service/login?flow=f&amp;x=1">
            <input type="hidden" name="csrf_token" value="c1">
            <input name="identifier" type="email"><input name="password" type="password">
            <input type="checkbox" name="remember" value="true">
            <button type="submit" name="method" value="password">Sign in</button></form>"#;
        let page = Url::parse("http://127.0.0.1:2/login?flow=f").unwrap();
        let form = login_form(&page, html).expect("a login form");
        assert!(form.has_password);
        assert_eq!(
            form.action.as_str(),
            "http://127.0.0.1:1/self-service/login?flow=f&x=1"
        );
        let filled = form.filled("a@b.c", "pw");
        let get = |n: &str| filled.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("csrf_token"), Some("c1"));
        assert_eq!(get("identifier"), Some("a@b.c"));
        assert_eq!(get("password"), Some("pw"));
        assert_eq!(get("method"), Some("password"));
        assert_eq!(get("remember"), None);
    }

    #[test]
    fn falls_back_to_an_identifier_first_form_and_none_without_either() {
        let page = Url::parse("http://127.0.0.1:2/login").unwrap();
        let html = r#"<form action="/next"><input name="identifier"><button name="method" value="identifier_first">Go</button></form>"#;
        let form = login_form(&page, html).expect("the identifier form");
        assert!(!form.has_password);
        assert_eq!(form.action.as_str(), "http://127.0.0.1:2/next");
        assert!(login_form(&page, "<p>no form</p>").is_none());
    }
}
