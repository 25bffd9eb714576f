//! The page templates and the stylesheet: bundled into the binary, optionally overridden by a
//! theme directory (`ui.theme_dir`), compiled once at start so that a broken theme stops the
//! service instead of failing on the first visitor.

use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;
use tera::{Context, Tera};

use crate::upstream::Statuses;

const BUNDLED: [(&str, &str); 8] = [
    ("base.html", include_str!("../templates/base.html")),
    ("index.html", include_str!("../templates/index.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("consent.html", include_str!("../templates/consent.html")),
    ("logout.html", include_str!("../templates/logout.html")),
    ("device.html", include_str!("../templates/device.html")),
    (
        "device_done.html",
        include_str!("../templates/device_done.html"),
    ),
];
const STYLESHEET: &str = include_str!("../templates/olympus.css");
const STYLESHEET_NAME: &str = "olympus.css";

/// Compiled templates (autoescaped: every name ends in `.html`) and the stylesheet to serve.
#[derive(Clone)]
pub struct Pages {
    tera: Tera,
    stylesheet: String,
}

/// What the error page shows. `path` and `request_id` come from the request and are only ever
/// rendered through autoescaping.
#[derive(Serialize)]
pub struct ErrorPage<'a> {
    pub status: u16,
    pub title: &'a str,
    pub message: &'a str,
    pub path: Option<&'a str>,
    pub request_id: Option<&'a str>,
    /// A link that starts the interrupted sign-in again.
    pub restart_url: Option<&'a str>,
}

impl Pages {
    /// The bundled templates only.
    pub fn bundled() -> anyhow::Result<Pages> {
        let mut tera = Tera::default();
        tera.add_raw_templates(BUNDLED)
            .context("a bundled template does not compile")?;
        Ok(Pages {
            tera,
            stylesheet: STYLESHEET.to_string(),
        })
    }

    /// The bundled templates with those of `theme_dir` on top: a theme file with a bundled name
    /// replaces it, other `*.html` files are added (partials that overridden pages include).
    pub fn load(theme_dir: Option<&Path>) -> anyhow::Result<Pages> {
        let mut pages = Pages::bundled()?;
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
        self.index(&Statuses::default())
            .context("the index page does not render")?;
        let sample = ErrorPage {
            status: 404,
            title: "t",
            message: "m",
            path: Some("/"),
            request_id: Some("r"),
            restart_url: Some("/"),
        };
        self.error(&sample)
            .context("the error page does not render")?;
        self.render("login.html", &crate::handoff::samples::login())
            .context("the login page does not render")?;
        self.render("consent.html", &crate::handoff::samples::consent())
            .context("the consent page does not render")?;
        self.render("logout.html", &crate::handoff::samples::logout())
            .context("the logout page does not render")?;
        self.render("device.html", &crate::handoff::samples::device())
            .context("the device page does not render")?;
        self.render("device_done.html", &crate::handoff::samples::device_done())
            .context("the device done page does not render")?;
        Ok(())
    }

    pub fn index(&self, upstreams: &Statuses) -> tera::Result<String> {
        let mut context = Context::new();
        context.insert("upstreams", upstreams);
        self.tera.render("index.html", &context)
    }

    pub fn error(&self, page: &ErrorPage<'_>) -> tera::Result<String> {
        self.tera
            .render("error.html", &Context::from_serialize(page)?)
    }

    /// A flow page (`login.html`, `consent.html`) with its context.
    pub fn render(&self, name: &str, context: &Context) -> tera::Result<String> {
        self.tera.render(name, context)
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
            restart_url: None,
        };
        let html = pages.error(&page).unwrap();
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
        let pages = Pages::load(Some(dir.path())).unwrap();
        assert_eq!(pages.stylesheet(), "body { color: teal; }");
        assert!(
            pages
                .index(&Statuses::default())
                .unwrap()
                .contains("<p>Themed</p>")
        );
    }

    #[test]
    fn a_broken_theme_names_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "{% if %}").unwrap();
        let err = format!("{:#}", Pages::load(Some(dir.path())).err().unwrap());
        assert!(err.contains("ui.theme_dir"), "{err}");
    }
}
