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
            "4000006",
            Some("The provided credentials are invalid."),
            &|_| None
        ),
        "The provided credentials are invalid."
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
        ("id".to_owned(), json!(1070004)),
        ("lang".to_owned(), json!("en")),
        ("fallback".to_owned(), json!("Hello {who} {missing}")),
        ("ctx".to_owned(), json!({"who": "you"})),
    ]
    .into();
    assert_eq!(f.call(&args).unwrap(), json!("Hello you {missing}"));
    assert!(f.call(&HashMap::new()).is_err());
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
