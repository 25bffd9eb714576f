//! The browser end-to-end suite: headless Chromium (Debian's `chromium` and `chromedriver`)
//! through login-ui's real pages against the three real services, with axe-core's WCAG 2 A/AA
//! rules on every page and a screenshot of each in `<target>/browser-screenshots/<test>/`.
//! Without Chromium, chromedriver or axe-core (`.ci/run` installs them) a test says why and is
//! skipped; under `CI=true` it fails.

mod account;
mod axe;
mod common;
mod gallery;
mod oauth;
