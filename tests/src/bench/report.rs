//! The numbers of a run: a table for the terminal and the same as JSON (`--json`).

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use super::engine::Measured;
use super::memory::{MemoryUse, Resident};
use super::seed::Seeded;

#[derive(Debug, Serialize)]
pub struct Report {
    pub issuer: String,
    pub concurrency: usize,
    pub duration_seconds: f64,
    pub warmup_seconds: f64,
    pub max_requests: Option<u64>,
    /// Each service process before seeding and load.
    pub idle_memory: Vec<Resident>,
    pub seeded: Vec<Seeded>,
    pub scenarios: Vec<ScenarioReport>,
}

#[derive(Debug, Serialize)]
pub struct ScenarioReport {
    pub scenario: String,
    /// Completed units: requests, or whole flows for `authcode_*`.
    pub units: u64,
    pub per_second: f64,
    pub requests: u64,
    pub requests_per_unit: f64,
    pub elapsed_seconds: f64,
    pub latency_ms: Latency,
    pub errors: u64,
    pub errors_by_kind: BTreeMap<String, u64>,
    pub memory: Vec<MemoryUse>,
}

#[derive(Debug, Serialize)]
pub struct Latency {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl ScenarioReport {
    pub fn new(scenario: &str, m: &Measured, memory: Vec<MemoryUse>) -> ScenarioReport {
        let ms = |us: u64| us as f64 / 1000.0;
        let secs = m.elapsed.as_secs_f64().max(1e-9);
        ScenarioReport {
            scenario: scenario.to_string(),
            units: m.units,
            per_second: m.units as f64 / secs,
            requests: m.requests,
            requests_per_unit: if m.units == 0 {
                0.0
            } else {
                m.requests as f64 / m.units as f64
            },
            elapsed_seconds: secs,
            latency_ms: Latency {
                mean: m.latency.mean() / 1000.0,
                p50: ms(m.latency.quantile(0.5)),
                p90: ms(m.latency.quantile(0.9)),
                p99: ms(m.latency.quantile(0.99)),
                max: ms(m.latency.max()),
            },
            errors: m.errors.values().sum(),
            errors_by_kind: m.errors.clone(),
            memory,
        }
    }
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("-".into(), |k| format!("{:.1}", k as f64 / 1024.0))
}

impl Report {
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "issuer {}  concurrency {}  duration {:.1}s  warm-up {:.1}s",
            self.issuer, self.concurrency, self.duration_seconds, self.warmup_seconds
        );
        for s in &self.seeded {
            let _ = writeln!(
                out,
                "seeded {} {} in {:.1}s ({:.0}/s)",
                s.count, s.what, s.seconds, s.per_second
            );
        }
        let _ = writeln!(
            out,
            "\n{:<20} {:>10} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}",
            "scenario",
            "units",
            "units/s",
            "req/unit",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "errors"
        );
        for r in &self.scenarios {
            let l = &r.latency_ms;
            let _ = writeln!(
                out,
                "{:<20} {:>10} {:>10.0} {:>8.1} {:>8.2} {:>8.2} {:>8.2} {:>8.1} {:>7}",
                r.scenario,
                r.units,
                r.per_second,
                r.requests_per_unit,
                l.p50,
                l.p90,
                l.p99,
                l.max,
                r.errors
            );
            for (kind, n) in &r.errors_by_kind {
                let _ = writeln!(out, "{:<20}   {n} × {kind}", "");
            }
        }
        for m in &self.idle_memory {
            let _ = writeln!(out, "{} idle at start: {} MiB", m.name, mib(m.kib));
        }
        if self.scenarios.iter().any(|r| !r.memory.is_empty()) {
            let _ = writeln!(
                out,
                "\n{:<20} {:<14} {:>10} {:>10}",
                "scenario", "process", "before MiB", "peak MiB"
            );
            for r in &self.scenarios {
                for m in &r.memory {
                    let _ = writeln!(
                        out,
                        "{:<20} {:<14} {:>10} {:>10}",
                        r.scenario,
                        m.name,
                        mib(m.idle_kib),
                        mib(m.peak_kib)
                    );
                }
            }
        }
        out
    }
}
