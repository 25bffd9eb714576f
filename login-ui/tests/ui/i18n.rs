//! Language negotiation and theme translations on the served pages.

use crate::helpers::spawn_with;

async fn page(app: &crate::helpers::TestApp, path: &str, accept: &str) -> String {
    app.http
        .get(format!("{}{path}", app.public))
        .header("accept-language", accept)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn accept_language_picks_german_and_unknown_languages_get_english() {
    let app = spawn_with(|_| {}).await;
    let de = page(&app, "/no/such/page", "fr-CH, de;q=0.8, en;q=0.5").await;
    assert!(de.contains(r#"<html lang="de">"#), "{de}");
    assert!(de.contains("Seite nicht gefunden"), "{de}");
    let en = page(&app, "/no/such/page", "ja, zh-CN;q=0.9").await;
    assert!(en.contains(r#"<html lang="en">"#), "{en}");
    assert!(en.contains("Page not found"), "{en}");
    let home = page(&app, "/", "de-AT").await;
    assert!(home.contains("Sie sind nicht angemeldet."), "{home}");
    assert!(home.contains(r#"href="/registration""#), "{home}");
}

#[tokio::test]
async fn theme_locales_override_texts_add_languages_and_set_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let locales = dir.path().join("locales");
    std::fs::create_dir(&locales).unwrap();
    std::fs::write(
        locales.join("de.json"),
        r#"{"error.not_found.title": "Hier ist nichts"}"#,
    )
    .unwrap();
    std::fs::write(
        locales.join("fr.json"),
        r#"{"error.not_found.title": "Page introuvable"}"#,
    )
    .unwrap();
    let theme = dir.path().to_path_buf();
    let app = spawn_with(|s| {
        s.ui.theme_dir = Some(theme);
        s.ui.default_language = Some("fr".into());
    })
    .await;
    let de = page(&app, "/nothing", "de").await;
    assert!(de.contains("Hier ist nichts"), "{de}");
    assert!(
        de.contains("Zur Startseite"),
        "the rest stays bundled: {de}"
    );
    let fr = page(&app, "/nothing", "ja").await;
    assert!(fr.contains(r#"<html lang="fr">"#), "{fr}");
    assert!(fr.contains("Page introuvable"), "{fr}");
    assert!(
        fr.contains("Go to the home page"),
        "English fills the gaps: {fr}"
    );
}

#[tokio::test]
async fn a_broken_theme_locale_stops_the_start_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let locales = dir.path().join("locales");
    std::fs::create_dir(&locales).unwrap();
    std::fs::write(locales.join("de.json"), r#"{"no.such.key": "x"}"#).unwrap();
    let listeners = service_kit::server::Listeners::ephemeral().unwrap();
    let mut settings =
        crate::helpers::settings_for("http://127.0.0.1:1", &crate::helpers::closed_url());
    settings.ui.theme_dir = Some(dir.path().to_path_buf());
    let err = login_ui::build(settings, Some(listeners))
        .await
        .err()
        .unwrap();
    let err = format!("{err:#}");
    assert!(
        err.contains("ui.theme_dir") && err.contains("no.such.key"),
        "{err}"
    );
}
