//! CI smoke run of the load generator (docs/benchmarks.md): every scenario for about two seconds
//! against a spawned domain (debug binaries, low concurrency). It checks that the scenarios work
//! end to end and report no errors — never how fast they are.

use std::time::Duration;

use olympus_tests::bench::{self, Load, Plan, Scenario};

fn load(concurrency: usize) -> Load {
    Load {
        duration: Duration::from_secs(2),
        warmup: Duration::from_millis(300),
        concurrency,
        max_requests: None,
        progress: false,
    }
}

#[tokio::test]
async fn every_scenario_runs_without_errors_and_reports_its_figures() {
    let plan = Plan {
        scenarios: Scenario::ALL.to_vec(),
        load: load(3),
        seed_tokens: 40,
        seed_sessions: 5,
    };
    let report = bench::run_spawned(&plan).await.expect("the bench runs");

    let seeded: Vec<(&str, usize)> = report
        .seeded
        .iter()
        .map(|s| (s.what.as_str(), s.count))
        .collect();
    assert_eq!(seeded, [("access tokens", 40), ("sessions", 5)]);
    let names: Vec<&str> = report.idle_memory.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["identity-svc", "oauth2-svc", "login-ui"]);
    assert!(report.idle_memory.iter().all(|m| m.kib.unwrap_or(0) > 0));

    let ran: Vec<&str> = report
        .scenarios
        .iter()
        .map(|s| s.scenario.as_str())
        .collect();
    let all: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
    assert_eq!(ran, all);
    for s in &report.scenarios {
        let name = &s.scenario;
        assert_eq!(s.errors, 0, "{name}: {:?}", s.errors_by_kind);
        assert!(s.units > 0, "{name} completed nothing");
        assert!(s.per_second > 0.0, "{name}");
        let l = &s.latency_ms;
        assert!(
            l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max,
            "{name}: {l:?}"
        );
        if name.starts_with("authcode_") {
            // auth → login → auth → consent → auth → callback code, and the token exchange;
            // the password flow adds the login form and its submission.
            let least = if name == "authcode_password" {
                8.0
            } else {
                6.0
            };
            assert!(
                s.requests_per_unit >= least,
                "{name}: {}",
                s.requests_per_unit
            );
        } else {
            assert_eq!(s.requests, s.units, "{name}: one request per unit");
        }
        assert_eq!(s.memory.len(), 3, "{name}");
        for m in &s.memory {
            assert!(
                m.peak_kib >= m.idle_kib && m.idle_kib.is_some(),
                "{name}: {m:?}"
            );
        }
    }
}

/// The binary itself: the command line, the bounded request count and the JSON report.
#[test]
fn the_command_line_writes_a_json_report_and_honours_max_requests() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_olympus-bench"))
        .args(["run", "--spawn", "--scenario", "trivial,client_credentials"])
        .args(["--duration", "30s", "--warmup", "0s", "--concurrency", "2"])
        .args(["--max-requests", "25", "--quiet", "--json"])
        .arg(&json)
        .output()
        .expect("olympus-bench starts");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("client_credentials"), "{table}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["concurrency"], 2);
    assert_eq!(report["max_requests"], 25);
    let scenarios = report["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 2);
    for s in scenarios {
        assert_eq!(s["units"], 25, "{s}");
        assert_eq!(s["errors"], 0, "{s}");
        // Bounded by count, not by the 30 s duration.
        assert!(s["elapsed_seconds"].as_f64().unwrap() < 30.0, "{s}");
    }
}

#[test]
fn an_unknown_scenario_is_refused_before_anything_starts() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_olympus-bench"))
        .args(["run", "--spawn", "--scenario", "trivial,nonsense"])
        .output()
        .expect("olympus-bench starts");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown scenario \"nonsense\""), "{stderr}");
    assert!(stderr.contains("authcode_password"), "{stderr}");
}
