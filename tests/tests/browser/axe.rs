//! The accessibility gate itself: axe-core, as the suite injects it, fails a page with serious
//! violations and names them, so a clean run of the other scenarios means something.

use olympus_tests::browser::page::Visitor;

use super::common::tools;

#[tokio::test]
async fn browser_axe_fails_a_page_with_serious_violations() {
    let Some(tools) = tools("browser_axe_fails_a_page_with_serious_violations") else {
        return;
    };
    let mut visitor = Visitor::start(&tools, "axe-gate").await.unwrap();
    // No `lang`, no title, and a field without a label.
    let page = "data:text/html,<html><body><main><input type=text name=q></main></body></html>";
    visitor.browser.goto(page).await.unwrap();
    let failure = visitor.page("inaccessible").await.unwrap_err().to_string();
    assert!(
        failure.contains("\"html-has-lang\" (\"serious\")"),
        "{failure}"
    );
    assert!(failure.contains("\"label\" (\"critical\")"), "{failure}");
    assert!(failure.contains("input"), "the target selector: {failure}");

    let page = "data:text/html,<html lang=en><head><title>Fine</title></head><body><main>\
                <label for=q>Search</label><input id=q type=text name=q></main></body></html>";
    visitor.browser.goto(page).await.unwrap();
    visitor.page("accessible").await.unwrap();
}
