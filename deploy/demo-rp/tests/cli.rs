//! The binary itself (declaring an integration test also makes `cargo nextest run --workspace`
//! build it, which the cross-service suite in `tests/` starts as a process).

use std::process::Command;

#[test]
fn help_lists_the_settings_and_bad_flags_fail() {
    let bin = env!("CARGO_BIN_EXE_olympus-demo-rp");
    let help = Command::new(bin).arg("--help").output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--issuer",
        "--client-id",
        "--client-secret",
        "--public-url",
        "--port",
    ] {
        assert!(text.contains(flag), "{flag} missing from:\n{text}");
    }
    let bad = Command::new(bin).arg("--no-such-flag").output().unwrap();
    assert!(!bad.status.success());
}
