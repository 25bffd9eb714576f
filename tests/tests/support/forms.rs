//! Every form of a page, for pages with one form per node group (login-ui's flow pages), and
//! the one whose submit button has a given name and value.

use super::{Form, attributes};

/// All forms of `html`, each with its action (resolved against `page_url`) and fields, submit
/// buttons included.
pub fn page_forms(page_url: &str, html: &str) -> Vec<Form> {
    parse(page_url, html)
        .into_iter()
        .map(|(mut form, buttons)| {
            form.fields.extend(buttons);
            form
        })
        .collect()
}

/// Each form with its fields, and apart from them its submit buttons.
fn parse(page_url: &str, html: &str) -> Vec<(Form, Vec<(String, String)>)> {
    let mut forms = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<form") {
        let Some(end) = rest[start..].find("</form>").map(|e| start + e) else {
            break;
        };
        let body = &rest[start..end];
        let tag_end = body.find('>').unwrap_or(body.len());
        let action = attributes(&body[..tag_end])
            .get("action")
            .cloned()
            .unwrap_or_default();
        let action = reqwest::Url::parse(page_url)
            .unwrap()
            .join(&action)
            .unwrap()
            .to_string();
        let mut fields = Vec::new();
        let mut buttons = Vec::new();
        let mut tags = body;
        while let Some(i) = tags.find('<') {
            let tag = &tags[i..tags[i..].find('>').map_or(tags.len(), |e| i + e)];
            if tag.starts_with("<input") || tag.starts_with("<button") {
                let attrs = attributes(tag);
                let kind = attrs.get("type").map(String::as_str).unwrap_or("text");
                if let Some(name) = attrs.get("name")
                    && kind != "checkbox"
                    && kind != "button"
                {
                    let value = attrs.get("value").cloned().unwrap_or_default();
                    let submit = kind == "submit"
                        || (tag.starts_with("<button") && !attrs.contains_key("type"));
                    if submit {
                        buttons.push((name.clone(), value));
                    } else {
                        fields.push((name.clone(), value));
                    }
                }
            }
            tags = &tags[i + 1..];
        }
        let form = Form {
            action,
            fields,
            text: html.to_string(),
        };
        forms.push((form, buttons));
        rest = &rest[end + "</form>".len()..];
    }
    forms
}

/// The form of `html` with a submit button `name="<name>" value="<value>"`, with only that
/// button's value for `name` (a browser sends only the button pressed).
pub fn form_with(page_url: &str, html: &str, name: &str, value: &str) -> Option<Form> {
    parse(page_url, html)
        .into_iter()
        .find_map(|(mut form, buttons)| {
            let pressed = buttons.iter().any(|(n, v)| n == name && v == value);
            pressed.then(|| {
                form.fields.push((name.to_string(), value.to_string()));
                form
            })
        })
}
