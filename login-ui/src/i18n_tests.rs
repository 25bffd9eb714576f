use std::collections::HashMap;

use serde_json::json;
use tera::Function as _;

use super::*;

fn bundled() -> Translations {
    Translations::bundled().unwrap()
}

#[test]
fn bundled_languages_have_the_same_keys() {
    let t = bundled();
    let en: Vec<_> = {
        let mut k: Vec<_> = t.languages["en"].keys().collect();
        k.sort();
        k
    };
    let mut de: Vec<_> = t.languages["de"].keys().collect();
    de.sort();
    assert_eq!(en, de);
    assert_eq!(t.plain("de", "consent.allow"), "Erlauben");
    assert_eq!(t.plain("en", "consent.allow"), "Allow");
}

#[test]
fn accept_language_is_negotiated_by_q_value() {
    let t = bundled();
    assert_eq!(t.negotiate(Some("de-DE,de;q=0.9,en;q=0.8")), "de");
    assert_eq!(t.negotiate(Some("en;q=0.5, de;q=0.9")), "de");
    assert_eq!(t.negotiate(Some("fr-FR, fr;q=0.9, de;q=0.1")), "de");
    assert_eq!(t.negotiate(Some("de;q=0, en")), "en");
    assert_eq!(t.negotiate(Some("fr, ja")), "en");
    assert_eq!(t.negotiate(Some("*")), "en");
    assert_eq!(t.negotiate(Some(";;;,,q=abc")), "en");
    assert_eq!(t.negotiate(None), "en");
}

#[test]
fn lookups_fall_back_to_the_fallback_then_english_then_the_key() {
    let mut t = bundled();
    t.languages
        .get_mut("de")
        .unwrap()
        .remove("consent.deny")
        .unwrap();
    assert_eq!(t.plain("de", "consent.deny"), "Deny");
    assert_eq!(
        t.text(
            "de",
            "4999999",
            Some("The provided credentials are invalid."),
            &|_| None
        ),
        "The provided credentials are invalid."
    );
    // identity-svc's ids have German texts; one whose placeholder the context cannot fill
    // shows identity-svc's own text instead of `{property}`.
    assert!(
        t.plain("de", "4000006")
            .starts_with("Diese Anmeldedaten sind ungültig")
    );
    let property = |name: &str| (name == "property").then(|| "E-Mail".to_string());
    assert_eq!(
        t.text(
            "de",
            "4000002",
            Some("Property email is missing."),
            &property
        ),
        "Bitte füllen Sie E-Mail aus."
    );
    assert_eq!(
        t.text("de", "4000002", Some("Property email is missing."), &|_| {
            None
        }),
        "Property email is missing."
    );
    assert_eq!(t.plain("de", "no.such.key"), "no.such.key");
    assert_eq!(t.plain("de-at", "consent.allow"), "Erlauben");
}

#[test]
fn the_tera_function_fills_placeholders_from_arguments_and_ctx() {
    let f = TranslateFn(Arc::new(bundled()));
    let args: HashMap<String, Value> = [
        ("key".to_owned(), json!("consent.heading")),
        ("lang".to_owned(), json!("de")),
        ("client".to_owned(), json!("<App>")),
    ]
    .into();
    // Escaping is Tera's job (the output is not marked safe).
    assert_eq!(
        f.call(&args).unwrap(),
        json!("Darf <App> auf Ihr Konto zugreifen?")
    );
    assert!(!f.is_safe());
    let args: HashMap<String, Value> = [
        ("id".to_owned(), json!(4999999)),
        ("lang".to_owned(), json!("en")),
        ("fallback".to_owned(), json!("Hello {who} {missing}")),
        ("ctx".to_owned(), json!({"who": "you"})),
    ]
    .into();
    assert_eq!(f.call(&args).unwrap(), json!("Hello you {missing}"));
    assert!(f.call(&HashMap::new()).is_err());
    // A node without an id still shows its own text.
    let args: HashMap<String, Value> = [
        ("id".to_owned(), Value::Null),
        ("fallback".to_owned(), json!("As sent")),
    ]
    .into();
    assert_eq!(f.call(&args).unwrap(), json!("As sent"));
}

#[test]
fn a_theme_overrides_texts_and_adds_languages() {
    let dir = tempfile::tempdir().unwrap();
    let locales = dir.path().join("locales");
    std::fs::create_dir(&locales).unwrap();
    std::fs::write(locales.join("de.json"), r#"{"consent.allow": "Zulassen"}"#).unwrap();
    std::fs::write(
        locales.join("fr.json"),
        r#"{"consent.allow": "Autoriser", "4000006": "Identifiants invalides"}"#,
    )
    .unwrap();
    let t = Translations::load(Some(dir.path()), Some("fr")).unwrap();
    assert_eq!(t.plain("de", "consent.allow"), "Zulassen");
    assert_eq!(t.plain("de", "consent.deny"), "Ablehnen");
    assert_eq!(t.plain("fr", "consent.allow"), "Autoriser");
    assert_eq!(t.plain("fr", "consent.deny"), "Deny");
    assert_eq!(t.negotiate(Some("fr-CA")), "fr");
    assert_eq!(t.negotiate(Some("ja")), "fr");
}

#[test]
fn broken_locale_files_and_languages_name_the_setting() {
    let cases = [
        ("de.json", "{not json"),
        ("de.json", r#"{"consent.alow": "Zulassen"}"#),
        ("de.json", r#"{"consent.allow": 3}"#),
        ("de.json", r#"["x"]"#),
        ("not a tag!.json", "{}"),
    ];
    for (name, body) in cases {
        let dir = tempfile::tempdir().unwrap();
        let locales = dir.path().join("locales");
        std::fs::create_dir(&locales).unwrap();
        std::fs::write(locales.join(name), body).unwrap();
        let err = format!(
            "{:#}",
            Translations::load(Some(dir.path()), None).unwrap_err()
        );
        assert!(err.contains("ui.theme_dir"), "{name} {body}: {err}");
    }
    let err = format!("{:#}", Translations::load(None, Some("xx")).unwrap_err());
    assert!(err.contains("ui.default_language"), "{err}");
    assert_eq!(
        Translations::load(None, Some("DE"))
            .unwrap()
            .default_language(),
        "de"
    );
}

/// Every file whose text may name a key: the templates and login-ui's Rust sources.
fn sources() -> String {
    fn walk(dir: &Path, out: &mut String) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
        entries.sort_by_key(|e| e.path());
        for entry in entries {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("rs" | "html")
            ) && path.file_name() != Some(std::ffi::OsStr::new("i18n_tests.rs"))
            {
                out.push_str(&std::fs::read_to_string(&path).unwrap());
                out.push('\n');
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = String::new();
    walk(&root.join("src"), &mut all);
    walk(&root.join("templates"), &mut all);
    all
}

/// Whether `key` is named in `sources`: literally in quotes, or built from a quoted prefix
/// ("home.aal." ~ aal, `format!("flow.group.{group}")`, `format!("flow.{}.title", kind)`).
fn is_used(sources: &str, key: &str) -> bool {
    if sources.contains(&format!("\"{key}\"")) {
        return true;
    }
    let parts: Vec<&str> = key.split('.').collect();
    (1..parts.len()).any(|n| {
        let prefix = parts[..n].join(".");
        let rest = parts[n + 1..].join(".");
        sources.contains(&format!("\"{prefix}.\""))
            || sources.contains(&format!("\"{prefix}.{{"))
            || (!rest.is_empty() && sources.contains(&format!("\"{prefix}.{{}}.{rest}\"")))
    })
}

#[test]
fn every_english_key_is_used_and_german_has_the_same_keys() {
    let t = bundled();
    let sources = sources();
    let mut unused: Vec<&String> = t.languages["en"]
        .keys()
        .filter(|k| !k.bytes().all(|b| b.is_ascii_digit()))
        .filter(|k| !is_used(&sources, k))
        .collect();
    unused.sort();
    assert!(
        unused.is_empty(),
        "keys of locales/en.json no template or source uses: {unused:?}"
    );
    let only_in = |a: &str, b: &str| {
        let mut keys: Vec<&String> = t.languages[a]
            .keys()
            .filter(|k| !t.languages[b].contains_key(*k))
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(only_in("en", "de"), Vec::<&String>::new(), "missing in de");
    assert_eq!(only_in("de", "en"), Vec::<&String>::new(), "missing in en");
}

#[test]
fn untranslated_texts_are_marked_english_and_dates_are_readable() {
    let t = bundled();
    let none = |_: &str| None;
    assert_eq!(
        t.fallback_language("de", "4999999", Some("Hi"), &none),
        Some("en")
    );
    assert_eq!(
        t.fallback_language("de", "4000006", Some("Hi"), &none),
        None
    );
    assert_eq!(
        t.fallback_language("de-AT", "consent.allow", None, &none),
        None
    );
    assert_eq!(
        t.fallback_language("en", "4999999", Some("Hi"), &none),
        None
    );
    // A German text whose placeholder cannot be filled shows identity-svc's English one.
    assert_eq!(
        t.fallback_language("de", "4000002", Some("Property email is missing."), &none),
        Some("en")
    );
    let f = TextLangFn(Arc::new(bundled()));
    let args: HashMap<String, Value> = [
        ("id".to_owned(), json!(4999999)),
        ("lang".to_owned(), json!("de")),
        ("fallback".to_owned(), json!("As sent")),
    ]
    .into();
    assert_eq!(f.call(&args).unwrap(), json!("en"));

    let at = chrono::DateTime::parse_from_rfc3339("2026-11-28T22:45:00+01:00")
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert_eq!(t.date_time("en", &at), "28 Nov 2026, 21:45 UTC");
    assert_eq!(t.date_time("de", &at), "28. Nov. 2026, 21:45 UTC");
    let march = chrono::DateTime::parse_from_rfc3339("2027-03-05T08:05:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert_eq!(t.date_time("de", &march), "5. März 2027, 08:05 UTC");
}
