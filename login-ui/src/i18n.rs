//! Translations: the bundled `locales/en.json` and `locales/de.json`, overridden and extended by
//! `<ui.theme_dir>/locales/<lang>.json`, the `t(...)` Tera function every template uses, and the
//! choice of a language from the browser's `Accept-Language`.
//!
//! Keys are identity-svc's numeric message and label ids as decimal strings ("4000006") and
//! dotted names for login-ui's own texts ("consent.heading"); values may hold `{name}` placeholders.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use serde_json::Value;

/// The language every text exists in, and the last resort of every lookup.
pub const ENGLISH: &str = "en";

const BUNDLED: [(&str, &str); 2] = [
    ("en", include_str!("../locales/en.json")),
    ("de", include_str!("../locales/de.json")),
];

/// The texts of every language, by lowercase language tag.
#[derive(Debug)]
pub struct Translations {
    languages: BTreeMap<String, HashMap<String, String>>,
    default_language: String,
}

impl Translations {
    /// The bundled languages, English by default.
    pub fn bundled() -> anyhow::Result<Translations> {
        let mut languages = BTreeMap::new();
        for (lang, raw) in BUNDLED {
            let texts = parse(raw).with_context(|| format!("bundled locale {lang} is invalid"))?;
            languages.insert(lang.to_owned(), texts);
        }
        Ok(Translations {
            languages,
            default_language: ENGLISH.to_owned(),
        })
    }

    /// The bundled languages with `<theme_dir>/locales/*.json` merged over them (a new file name
    /// adds a language), and `default_language` checked against the result.
    pub fn load(
        theme_dir: Option<&Path>,
        default_language: Option<&str>,
    ) -> anyhow::Result<Translations> {
        let mut translations = Translations::bundled()?;
        if let Some(dir) = theme_dir {
            translations
                .apply_theme(&dir.join("locales"))
                .with_context(|| format!("invalid setting `ui.theme_dir` ({})", dir.display()))?;
        }
        if let Some(lang) = default_language {
            let lang = lang.to_ascii_lowercase();
            if !translations.languages.contains_key(&lang) {
                bail!(
                    "invalid setting `ui.default_language`: no texts for {lang:?} (available: {})",
                    translations.available().collect::<Vec<_>>().join(", ")
                );
            }
            translations.default_language = lang;
        }
        Ok(translations)
    }

    fn apply_theme(&mut self, dir: &Path) -> anyhow::Result<()> {
        if !dir.is_dir() {
            return Ok(());
        }
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .collect::<Result<_, _>>()?;
        files.sort_by_key(|e| e.file_name());
        for entry in files {
            let path = entry.path();
            let Some(lang) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
            else {
                continue;
            };
            let name = path.display();
            if !is_language_tag(lang) {
                bail!("{name}: {lang:?} is not a language tag such as \"fr\" or \"pt-br\"");
            }
            let raw =
                std::fs::read_to_string(&path).with_context(|| format!("cannot read {name}"))?;
            let texts =
                parse(&raw).with_context(|| format!("{name} is not a valid locale file"))?;
            let english = &self.languages[ENGLISH];
            if let Some(key) = texts.keys().find(|k| !is_known_key(english, k)) {
                bail!("{name}: unknown text key {key:?} (see login-ui/locales/en.json)");
            }
            self.languages
                .entry(lang.to_ascii_lowercase())
                .or_default()
                .extend(texts);
        }
        Ok(())
    }

    pub fn available(&self) -> impl Iterator<Item = &str> {
        self.languages.keys().map(String::as_str)
    }

    pub fn default_language(&self) -> &str {
        &self.default_language
    }

    /// The best language for an `Accept-Language` header: by falling q-value, an exact tag first,
    /// then its primary subtag ("de-CH" → "de"); `*` or nothing usable → the default language.
    pub fn negotiate(&self, accept_language: Option<&str>) -> String {
        let mut wanted: Vec<(u16, usize, String)> = accept_language
            .unwrap_or("")
            .split(',')
            .enumerate()
            .filter_map(|(i, item)| {
                let mut parts = item.split(';');
                let tag = parts.next()?.trim().to_ascii_lowercase();
                let mut q = 1000u16;
                for param in parts {
                    if let Some(v) = param.trim().strip_prefix("q=") {
                        q = parse_q(v)?;
                    }
                }
                (q > 0 && !tag.is_empty()).then_some((q, i, tag))
            })
            .collect();
        wanted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for (_, _, tag) in wanted {
            if tag == "*" {
                break;
            }
            if self.languages.contains_key(&tag) {
                return tag;
            }
            if let Some((primary, _)) = tag.split_once('-')
                && self.languages.contains_key(primary)
            {
                return primary.to_owned();
            }
        }
        self.default_language.clone()
    }

    /// The text for `key` in `lang` with placeholders filled: `lang`, then its primary subtag,
    /// then `fallback`, then English, then the key itself.
    pub fn text(
        &self,
        lang: &str,
        key: &str,
        fallback: Option<&str>,
        args: &dyn Fn(&str) -> Option<String>,
    ) -> String {
        let lang = lang.to_ascii_lowercase();
        let primary = lang.split('-').next().unwrap_or(&lang);
        let found = [lang.as_str(), primary]
            .iter()
            .find_map(|l| self.languages.get(*l).and_then(|t| t.get(key)))
            .map(String::as_str)
            .or(fallback)
            .or_else(|| self.languages[ENGLISH].get(key).map(String::as_str))
            .unwrap_or(key);
        let (text, complete) = fill(found, args);
        // A translation whose placeholders the message's context cannot fill (an older
        // identity-svc, an odd node) would show `{name}`: identity-svc's own text is better.
        match fallback {
            Some(fallback) if !complete => fill(fallback, args).0,
            _ => text,
        }
    }

    /// The language of the text [`Translations::text`] gives, when it differs from the page's
    /// `lang`: `Some("en")` if neither `lang` nor its primary subtag has `key` (or its
    /// translation cannot be filled) and the text is identity-svc's or login-ui's English one.
    pub fn fallback_language(
        &self,
        lang: &str,
        key: &str,
        fallback: Option<&str>,
        args: &dyn Fn(&str) -> Option<String>,
    ) -> Option<&'static str> {
        let lang = lang.to_ascii_lowercase();
        let primary = lang.split('-').next().unwrap_or(&lang);
        if primary == ENGLISH {
            return None;
        }
        let own = [lang.as_str(), primary]
            .iter()
            .find_map(|l| self.languages.get(*l).and_then(|t| t.get(key)));
        match own {
            Some(text) if fallback.is_none() || fill(text, args).1 => None,
            _ => Some(ENGLISH),
        }
    }

    /// A UTC time as people read it: "28 Nov 2026, 21:45 UTC", "28. Nov. 2026, 21:45 UTC".
    pub fn date_time(&self, lang: &str, at: &chrono::DateTime<chrono::Utc>) -> String {
        use chrono::{Datelike as _, Timelike as _};
        let no_args = |_: &str| None;
        let months = self.text(lang, "date.months", None, &no_args);
        let month = months
            .split(',')
            .nth(at.month0() as usize)
            .map(str::to_string)
            .unwrap_or_else(|| at.month().to_string());
        let args = |name: &str| match name {
            "day" => Some(at.day().to_string()),
            "month" => Some(month.clone()),
            "year" => Some(at.year().to_string()),
            "time" => Some(format!("{:02}:{:02}", at.hour(), at.minute())),
            _ => None,
        };
        self.text(lang, "date.format", None, &args)
    }

    /// Shorthand for a text without placeholders.
    #[cfg(test)]
    pub fn plain(&self, lang: &str, key: &str) -> String {
        self.text(lang, key, None, &|_| None)
    }
}

/// Replaces `{name}` by the argument's value; an unknown name stays as written, and the answer
/// says whether every placeholder was filled.
fn fill(text: &str, args: &dyn Fn(&str) -> Option<String>) -> (String, bool) {
    let mut complete = true;
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) if is_placeholder(&after[..end]) => {
                let name = &after[..end];
                match args(name) {
                    Some(value) => out.push_str(&value),
                    None => {
                        complete = false;
                        out.push_str(&rest[start..start + end + 2]);
                    }
                }
                rest = &after[end + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    (out, complete)
}

fn is_placeholder(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

fn parse_q(v: &str) -> Option<u16> {
    let q: f32 = v.trim().parse().ok()?;
    (0.0..=1.0)
        .contains(&q)
        .then(|| (q * 1000.0).round() as u16)
}

fn parse(raw: &str) -> anyhow::Result<HashMap<String, String>> {
    let value: Value = serde_json::from_str(raw)?;
    let Value::Object(map) = value else {
        bail!("a locale file is one JSON object of key → text");
    };
    map.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            _ => bail!("the value of {k:?} is not a string"),
        })
        .collect()
}

/// identity-svc's message ids are open-ended; login-ui's own keys must exist in English, so that
/// a typo in a theme stops the start instead of silently not applying.
fn is_known_key(english: &HashMap<String, String>, key: &str) -> bool {
    (!key.is_empty() && key.bytes().all(|b| b.is_ascii_digit())) || english.contains_key(key)
}

fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or("");
    (2..=8).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The `t(...)` function of the templates: `t(key="consent.heading", lang=lang)`, or `id=4000006`
/// instead of `key`; `fallback="..."` is used when no language has the key; placeholders come
/// from the other named arguments and from the object `ctx`.
pub struct TranslateFn(pub Arc<Translations>);

/// The arguments of `t(...)` and `text_lang(...)`.
struct TextArgs<'a> {
    key: String,
    lang: &'a str,
    fallback: Option<&'a str>,
    args: &'a HashMap<String, Value>,
}

impl<'a> TextArgs<'a> {
    fn parse(
        args: &'a HashMap<String, Value>,
        translations: &'a Translations,
    ) -> tera::Result<TextArgs<'a>> {
        let key = match (args.get("key"), args.get("id")) {
            (Some(Value::String(k)), _) => k.clone(),
            (_, Some(Value::Number(n))) => n.to_string(),
            (_, Some(Value::String(s))) => s.clone(),
            // An odd node without an id (or a null one) still shows identity-svc's own text.
            _ if matches!(args.get("fallback"), Some(Value::String(_))) => String::new(),
            _ => {
                return Err(tera::Error::msg(
                    "t(): needs `key` (a string) or `id` (a number)",
                ));
            }
        };
        let lang = match args.get("lang") {
            Some(Value::String(l)) => l.as_str(),
            _ => translations.default_language(),
        };
        let fallback = match args.get("fallback") {
            Some(Value::String(f)) => Some(f.as_str()),
            _ => None,
        };
        Ok(TextArgs {
            key,
            lang,
            fallback,
            args,
        })
    }

    fn lookup(&self, name: &str) -> Option<String> {
        let ctx = self.args.get("ctx").and_then(Value::as_object);
        let value = self
            .args
            .get(name)
            .filter(|_| !matches!(name, "key" | "id" | "lang" | "fallback" | "ctx"))
            .or_else(|| ctx.and_then(|c| c.get(name)))?;
        Some(match value {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        })
    }
}

impl tera::Function for TranslateFn {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let a = TextArgs::parse(args, &self.0)?;
        let text = self
            .0
            .text(a.lang, &a.key, a.fallback, &|name| a.lookup(name));
        Ok(Value::String(text))
    }
}

/// `text_lang(...)`, with the arguments of `t(...)`: `"en"` when the text `t` shows is the
/// English one on a page in another language (for a `lang="en"` attribute), else `""`.
pub struct TextLangFn(pub Arc<Translations>);

impl tera::Function for TextLangFn {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let a = TextArgs::parse(args, &self.0)?;
        let lang = self
            .0
            .fallback_language(a.lang, &a.key, a.fallback, &|name| a.lookup(name));
        Ok(Value::String(lang.unwrap_or_default().to_string()))
    }
}

#[cfg(test)]
#[path = "i18n_tests.rs"]
mod tests;
