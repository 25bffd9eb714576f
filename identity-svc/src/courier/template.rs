//! Mail templates: a subject, a plain-text body and an HTML body for each message the flows
//! send, built in or overridden by the operator from `courier.template_override_path`, in
//! Kratos' layout (`<dir>/email.subject.gotmpl`, `email.body.gotmpl` for HTML,
//! `email.body.plaintext.gotmpl`). Templates are plain: text with `{{ .Name }}` placeholders
//! (Kratos' syntax for a value, so simple Kratos templates carry over) and nothing else, checked
//! at start. Values are HTML-escaped in HTML bodies, and line breaks are removed from subjects.

use std::collections::BTreeMap;
use std::path::Path;

use service_kit::settings::SettingsError;

/// The messages the flows send (Kratos' `template_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TemplateType {
    VerificationCodeValid,
    VerificationCodeInvalid,
    RecoveryCodeValid,
    RecoveryCodeInvalid,
}

const ALL: [TemplateType; 4] = [
    TemplateType::VerificationCodeValid,
    TemplateType::VerificationCodeInvalid,
    TemplateType::RecoveryCodeValid,
    TemplateType::RecoveryCodeInvalid,
];

impl TemplateType {
    pub fn name(self) -> &'static str {
        match self {
            TemplateType::VerificationCodeValid => "verification_code_valid",
            TemplateType::VerificationCodeInvalid => "verification_code_invalid",
            TemplateType::RecoveryCodeValid => "recovery_code_valid",
            TemplateType::RecoveryCodeInvalid => "recovery_code_invalid",
        }
    }

    /// The folder under `courier.template_override_path` (Kratos' layout).
    fn dir(self) -> &'static str {
        match self {
            TemplateType::VerificationCodeValid => "verification_code/valid",
            TemplateType::VerificationCodeInvalid => "verification_code/invalid",
            TemplateType::RecoveryCodeValid => "recovery_code/valid",
            TemplateType::RecoveryCodeInvalid => "recovery_code/invalid",
        }
    }

    /// The placeholders this template may use.
    fn variables(self) -> &'static [&'static str] {
        match self {
            TemplateType::VerificationCodeValid => &["To", "VerificationCode", "ExpiresInMinutes"],
            TemplateType::RecoveryCodeValid => &["To", "RecoveryCode", "ExpiresInMinutes"],
            TemplateType::VerificationCodeInvalid | TemplateType::RecoveryCodeInvalid => &["To"],
        }
    }

    fn builtin(self) -> [&'static str; 3] {
        match self {
            TemplateType::VerificationCodeValid => [
                "Please verify your email address",
                "Hi,\n\nplease verify your account by entering the following code:\n\n{{ .VerificationCode }}\n\nThe code is valid for {{ .ExpiresInMinutes }} minutes.\n",
                "<p>Hi,</p>\n<p>please verify your account by entering the following code:</p>\n<p><strong>{{ .VerificationCode }}</strong></p>\n<p>The code is valid for {{ .ExpiresInMinutes }} minutes.</p>\n",
            ],
            TemplateType::VerificationCodeInvalid => [
                "Someone tried to verify this email address",
                "Hi,\n\nsomeone asked to verify this email address, but we were unable to find an account for this address.\n\nIf this was you, check if you signed up using a different address.\n\nIf this was not you, please ignore this email.\n",
                "<p>Hi,</p>\n<p>someone asked to verify this email address, but we were unable to find an account for this address.</p>\n<p>If this was you, check if you signed up using a different address.</p>\n<p>If this was not you, please ignore this email.</p>\n",
            ],
            TemplateType::RecoveryCodeValid => [
                "Recover access to your account",
                "Hi,\n\nplease recover access to your account by entering the following code:\n\n{{ .RecoveryCode }}\n\nThe code is valid for {{ .ExpiresInMinutes }} minutes. If you did not ask to recover your account, ignore this email.\n",
                "<p>Hi,</p>\n<p>please recover access to your account by entering the following code:</p>\n<p><strong>{{ .RecoveryCode }}</strong></p>\n<p>The code is valid for {{ .ExpiresInMinutes }} minutes. If you did not ask to recover your account, ignore this email.</p>\n",
            ],
            TemplateType::RecoveryCodeInvalid => [
                "Account access attempted",
                "Hi,\n\nyou (or someone else) entered this email address when trying to recover access to an account.\n\nHowever, this email address is not on our database of registered users and therefore the attempt has failed.\n\nIf this was you, check if you signed up using a different address.\n\nIf this was not you, please ignore this email.\n",
                "<p>Hi,</p>\n<p>you (or someone else) entered this email address when trying to recover access to an account.</p>\n<p>However, this email address is not on our database of registered users and therefore the attempt has failed.</p>\n<p>If this was you, check if you signed up using a different address.</p>\n<p>If this was not you, please ignore this email.</p>\n",
            ],
        }
    }
}

/// The values of one mail's placeholders (`To` is added by [`Templates::render`]).
pub type Vars = BTreeMap<&'static str, String>;

/// A template split into literal text and placeholders.
#[derive(Clone, Debug)]
enum Piece {
    Text(String),
    Var(String),
}

#[derive(Clone, Debug)]
struct Template(Vec<Piece>);

impl Template {
    /// Parses `source`; only `{{ .Name }}` with a name from `allowed` is accepted.
    fn parse(source: &str, allowed: &[&str]) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut rest = source;
        while let Some(start) = rest.find("{{") {
            pieces.push(Piece::Text(rest[..start].to_string()));
            let end = rest[start..]
                .find("}}")
                .ok_or("a `{{` is never closed with `}}`")?;
            let inner = rest[start + 2..start + end].trim();
            let name = inner
                .strip_prefix('.')
                .filter(|n| allowed.contains(n))
                .ok_or_else(|| {
                    let names: Vec<String> =
                        allowed.iter().map(|n| format!("{{{{ .{n} }}}}")).collect();
                    format!(
                        "`{{{{ {inner} }}}}` is not supported; a template may use only {}",
                        names.join(", ")
                    )
                })?;
            pieces.push(Piece::Var(name.to_string()));
            rest = &rest[start + end + 2..];
        }
        pieces.push(Piece::Text(rest.to_string()));
        Ok(Template(pieces))
    }

    fn render(&self, vars: &Vars, escape: fn(&str) -> String) -> String {
        self.0
            .iter()
            .map(|piece| match piece {
                Piece::Text(text) => text.clone(),
                Piece::Var(name) => escape(vars.get(name.as_str()).map_or("", String::as_str)),
            })
            .collect()
    }
}

/// One rendered mail.
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Every template, loaded and checked once at start.
#[derive(Clone, Debug)]
pub struct Templates(BTreeMap<TemplateType, [Template; 3]>);

const FILES: [&str; 3] = [
    "email.subject.gotmpl",
    "email.body.plaintext.gotmpl",
    "email.body.gotmpl",
];

impl Templates {
    /// The built-in templates, with the files found under `override_path` instead.
    pub fn load(override_path: Option<&str>) -> Result<Templates, SettingsError> {
        let key = "courier.template_override_path";
        if let Some(dir) = override_path
            && !Path::new(dir).is_dir()
        {
            return Err(SettingsError::invalid(
                key,
                format!("{dir} is not a folder"),
            ));
        }
        let mut all = BTreeMap::new();
        for kind in ALL {
            let builtin = kind.builtin();
            let mut parsed = Vec::new();
            for (file, default) in FILES.iter().zip(builtin) {
                let path = override_path.map(|dir| Path::new(dir).join(kind.dir()).join(file));
                let (source, origin) = match path.filter(|p| p.is_file()) {
                    Some(path) => {
                        let text = std::fs::read_to_string(&path).map_err(|e| {
                            SettingsError::invalid(key, format!("{}: {e}", path.display()))
                        })?;
                        (text, path.display().to_string())
                    }
                    None => (
                        default.to_string(),
                        format!("built-in {}/{file}", kind.dir()),
                    ),
                };
                let template = Template::parse(&source, kind.variables())
                    .map_err(|reason| SettingsError::invalid(key, format!("{origin}: {reason}")))?;
                parsed.push(template);
            }
            let [subject, text, html]: [Template; 3] =
                parsed.try_into().expect("three files per template");
            all.insert(kind, [subject, text, html]);
        }
        Ok(Templates(all))
    }

    pub fn render(&self, kind: TemplateType, to: &str, vars: &Vars) -> Rendered {
        let mut vars = vars.clone();
        vars.insert("To", to.to_string());
        let [subject, text, html] = &self.0[&kind];
        let one_line = |s: &str| s.replace(['\r', '\n'], " ");
        Rendered {
            subject: one_line(subject.render(&vars, |v| v.to_string()).trim()),
            text: text.render(&vars, |v| v.to_string()),
            html: html.render(&vars, escape_html),
        }
    }
}

pub fn escape_html(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_templates_render_codes_and_escape_html() {
        let templates = Templates::load(None).unwrap();
        let vars = Vars::from([
            ("RecoveryCode", "123456".to_string()),
            ("ExpiresInMinutes", "60".to_string()),
        ]);
        let mail = templates.render(TemplateType::RecoveryCodeValid, "a@example.com", &vars);
        assert_eq!(mail.subject, "Recover access to your account");
        assert!(mail.text.contains("123456") && mail.html.contains("<strong>123456</strong>"));
        let vars = Vars::from([("RecoveryCode", "<b>&\"'".to_string())]);
        let mail = templates.render(TemplateType::RecoveryCodeValid, "a@example.com", &vars);
        assert!(
            mail.html.contains("&lt;b&gt;&amp;&quot;&#39;"),
            "{}",
            mail.html
        );
        assert!(mail.text.contains("<b>&\"'"));
    }

    #[test]
    fn overrides_replace_single_files_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let valid = dir.path().join("recovery_code/valid");
        std::fs::create_dir_all(&valid).unwrap();
        std::fs::write(
            valid.join("email.subject.gotmpl"),
            "Code for {{.To}}\r\nBcc: x",
        )
        .unwrap();
        let path = dir.path().to_str().unwrap();
        let templates = Templates::load(Some(path)).unwrap();
        let mail = templates.render(TemplateType::RecoveryCodeValid, "a@b.c", &Vars::new());
        assert_eq!(mail.subject, "Code for a@b.c  Bcc: x", "one line");
        assert!(
            mail.text.starts_with("Hi,"),
            "the other files stay built in"
        );

        std::fs::write(
            valid.join("email.body.gotmpl"),
            "{{ .Identity.traits.email }}",
        )
        .unwrap();
        let err = Templates::load(Some(path)).unwrap_err().to_string();
        assert!(
            err.contains("courier.template_override_path") && err.contains("email.body.gotmpl"),
            "{err}"
        );
        std::fs::write(valid.join("email.body.gotmpl"), "{{ .VerificationCode }}").unwrap();
        assert!(
            Templates::load(Some(path)).is_err(),
            "another template's variable"
        );
        std::fs::write(valid.join("email.body.gotmpl"), "{{ .RecoveryCode").unwrap();
        assert!(Templates::load(Some(path)).is_err());
        assert!(Templates::load(Some("/nonexistent/templates")).is_err());
    }
}
