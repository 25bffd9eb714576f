//! The page templates and the stylesheet: bundled into the binary, optionally overridden by a
//! theme directory (`ui.theme_dir`), compiled once at start so that a broken theme stops the
//! service instead of failing on the first visitor.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use serde::Serialize;
use tera::{Context, Tera};

use crate::i18n::{TextLangFn, TranslateFn, Translations};

const BUNDLED: [(&str, &str); 10] = [
    ("base.html", include_str!("../templates/base.html")),
    ("index.html", include_str!("../templates/index.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("consent.html", include_str!("../templates/consent.html")),
    ("logout.html", include_str!("../templates/logout.html")),
    ("device.html", include_str!("../templates/device.html")),
    (
        "device_done.html",
        include_str!("../templates/device_done.html"),
    ),
    ("flow.html", include_str!("../templates/flow.html")),
    ("nodes.html", include_str!("../templates/nodes.html")),
    (
        "flow_sessions.html",
        include_str!("../templates/flow_sessions.html"),
    ),
];
const STYLESHEET: &str = include_str!("../templates/olympus.css");
const STYLESHEET_NAME: &str = "olympus.css";

/// Compiled templates (autoescaped: every name ends in `.html`) and the stylesheet to serve.
#[derive(Clone)]
pub struct Pages {
    tera: Tera,
    stylesheet: String,
    translations: Arc<Translations>,
    /// The theme's `logo.{svg,png,webp,jpg}`, served at `/static/logo`: bytes and media type.
    logo: Option<(Vec<u8>, &'static str)>,
}

/// The theme logo's file names and media types, in order of preference.
const LOGO_FILES: [(&str, &str); 4] = [
    ("logo.svg", "image/svg+xml"),
    ("logo.png", "image/png"),
    ("logo.webp", "image/webp"),
    ("logo.jpg", "image/jpeg"),
];

/// What the error page shows. `title` and `message` are text keys (see `locales/en.json`);
/// `detail`, `path` and `request_id` come from upstreams or the request and are only ever
/// rendered through autoescaping.
#[derive(Serialize, Default)]
pub struct ErrorPage<'a> {
    pub status: u16,
    pub title: &'a str,
    pub message: &'a str,
    /// An upstream's own explanation, shown under the message.
    pub detail: Option<&'a str>,
    pub path: Option<&'a str>,
    pub request_id: Option<&'a str>,
    /// A link that starts the interrupted sign-in again.
    pub restart_url: Option<&'a str>,
}

impl<'a> ErrorPage<'a> {
    pub fn new(status: u16, title: &'a str, message: &'a str) -> ErrorPage<'a> {
        ErrorPage {
            status,
            title,
            message,
            ..ErrorPage::default()
        }
    }
}

impl Pages {
    /// The bundled templates only.
    pub fn bundled() -> anyhow::Result<Pages> {
        Pages::with_translations(Translations::bundled()?)
    }

    fn with_translations(translations: Translations) -> anyhow::Result<Pages> {
        let translations = Arc::new(translations);
        let mut tera = Tera::default();
        tera.register_function("t", TranslateFn(translations.clone()));
        tera.register_function("text_lang", TextLangFn(translations.clone()));
        tera.add_raw_templates(BUNDLED)
            .context("a bundled template does not compile")?;
        Ok(Pages {
            tera,
            stylesheet: STYLESHEET.to_string(),
            translations,
            logo: None,
        })
    }

    /// The bundled templates with those of `theme_dir` on top: a theme file with a bundled name
    /// replaces it, other `*.html` files are added (partials that overridden pages include).
    pub fn load(theme_dir: Option<&Path>, default_language: Option<&str>) -> anyhow::Result<Pages> {
        let mut pages = Pages::with_translations(Translations::load(theme_dir, default_language)?)?;
        let Some(dir) = theme_dir else {
            return Ok(pages);
        };
        pages
            .apply_theme(dir)
            .and_then(|()| pages.check())
            .with_context(|| format!("invalid setting `ui.theme_dir` ({})", dir.display()))?;
        Ok(pages)
    }

    fn apply_theme(&mut self, dir: &Path) -> anyhow::Result<()> {
        let mut templates = Vec::new();
        for entry in std::fs::read_dir(dir).context("cannot read the directory")? {
            let path = entry?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
                continue;
            };
            if name == STYLESHEET_NAME {
                self.stylesheet = read(&path)?;
            } else if let Some((_, media_type)) = LOGO_FILES.iter().find(|(n, _)| *n == name) {
                let better = self.logo.as_ref().is_none_or(|(_, current)| {
                    let rank = |t: &str| LOGO_FILES.iter().position(|(_, m)| *m == t);
                    rank(media_type) < rank(current)
                });
                if better {
                    let bytes = std::fs::read(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    self.logo = Some((bytes, media_type));
                }
            } else if name.ends_with(".html") && path.is_file() {
                templates.push((name, read(&path)?));
            }
        }
        self.tera.add_raw_templates(templates)?;
        Ok(())
    }

    /// Renders every page once with sample values, so that a template referring to a value
    /// login-ui does not provide fails at start (and readiness) rather than per request.
    pub fn check(&self) -> anyhow::Result<()> {
        self.render("index.html", &crate::handoff::samples::home())
            .context("the index page does not render")?;
        let sample = ErrorPage {
            detail: Some("d"),
            path: Some("/"),
            request_id: Some("r"),
            restart_url: Some("/"),
            ..ErrorPage::new(404, "error.not_found.title", "error.not_found.message")
        };
        self.error(&sample, "n")
            .context("the error page does not render")?;
        self.render("consent.html", &crate::handoff::samples::consent())
            .context("the consent page does not render")?;
        self.render("logout.html", &crate::handoff::samples::logout())
            .context("the logout page does not render")?;
        self.render("device.html", &crate::handoff::samples::device())
            .context("the device page does not render")?;
        self.render("device_done.html", &crate::handoff::samples::device_done())
            .context("the device done page does not render")?;
        self.render("flow.html", &crate::flows::sample())
            .context("the flow page does not render")?;
        Ok(())
    }

    /// The error page in the default language (no request to negotiate with).
    pub fn error(&self, page: &ErrorPage<'_>, csp_nonce: &str) -> tera::Result<String> {
        let mut context = Context::from_serialize(page)?;
        context.insert("lang", self.translations.default_language());
        context.insert("csp_nonce", csp_nonce);
        context.insert("theme_logo", &self.logo.is_some());
        self.tera.render("error.html", &context)
    }

    pub fn translations(&self) -> &Translations {
        &self.translations
    }

    /// The theme's logo, if it has one.
    pub fn logo(&self) -> Option<(&[u8], &'static str)> {
        self.logo.as_ref().map(|(b, t)| (b.as_slice(), *t))
    }

    /// A page (`flow.html`, `consent.html`) with its context.
    pub fn render(&self, name: &str, context: &Context) -> tera::Result<String> {
        if context.contains_key("lang") {
            return self.tera.render(name, context);
        }
        let mut context = context.clone();
        context.insert("lang", self.translations.default_language());
        context.insert("csp_nonce", "");
        context.insert("theme_logo", &self.logo.is_some());
        self.tera.render(name, &context)
    }

    pub fn stylesheet(&self) -> &str {
        &self.stylesheet
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_pages_render_and_escape() {
        let pages = Pages::bundled().unwrap();
        pages.check().unwrap();
        let page = ErrorPage {
            status: 404,
            title: "Page not found",
            message: "m",
            path: Some("/<script>alert(1)</script>"),
            request_id: Some("\"><img src=x>"),
            ..ErrorPage::default()
        };
        let html = pages.error(&page, "n").unwrap();
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<script>") && !html.contains("<img"));
    }

    #[test]
    fn a_theme_replaces_templates_and_the_stylesheet() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("olympus.css"), "body { color: teal; }").unwrap();
        let index = r#"{% extends "base.html" %}{% block main %}<p>{% include "note.html" %}</p>{% endblock %}"#;
        std::fs::write(dir.path().join("index.html"), index).unwrap();
        std::fs::write(dir.path().join("note.html"), "Themed").unwrap();
        let pages = Pages::load(Some(dir.path()), None).unwrap();
        assert_eq!(pages.stylesheet(), "body { color: teal; }");
        let home = crate::handoff::samples::home();
        assert!(
            pages
                .render("index.html", &home)
                .unwrap()
                .contains("<p>Themed</p>")
        );
    }

    #[test]
    fn a_broken_theme_names_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "{% if %}").unwrap();
        let err = format!("{:#}", Pages::load(Some(dir.path()), None).err().unwrap());
        assert!(err.contains("ui.theme_dir"), "{err}");
    }
}
