//! Runs one scenario: `concurrency` workers, each looping over its unit of work (one request,
//! or one whole authorization flow) for a warm-up and then a fixed duration or a bounded count,
//! recording the latency of every unit after the warm-up. Prints a progress line each second.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::histogram::Histogram;
use super::scenario::Worker;

/// How long and how hard to run.
#[derive(Clone, Debug)]
pub struct Load {
    pub duration: Duration,
    pub warmup: Duration,
    pub concurrency: usize,
    /// At most this many measured units (the warm-up not counted).
    pub max_requests: Option<u64>,
    /// The progress line on stderr each second.
    pub progress: bool,
}

/// Why a unit failed: `status 503`, `transport`, or a flow that went somewhere unexpected.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Failure(pub String);

impl Failure {
    pub fn status(code: reqwest::StatusCode) -> Failure {
        Failure(format!("status {}", code.as_u16()))
    }

    pub fn transport(e: &reqwest::Error) -> Failure {
        let what = if e.is_timeout() {
            "timeout"
        } else if e.is_connect() {
            "connect"
        } else if e.is_decode() || e.is_body() {
            "body"
        } else {
            "other"
        };
        Failure(format!("transport {what}"))
    }

    pub fn flow(what: &str) -> Failure {
        Failure(format!("flow {what}"))
    }
}

impl From<reqwest::Error> for Failure {
    fn from(e: reqwest::Error) -> Self {
        Failure::transport(&e)
    }
}

/// What the measured part of a run produced.
#[derive(Debug, Default)]
pub struct Measured {
    pub units: u64,
    pub requests: u64,
    pub errors: BTreeMap<String, u64>,
    pub latency: Histogram,
    pub elapsed: Duration,
}

#[derive(Default)]
struct Shared {
    units: AtomicU64,
    errors: AtomicU64,
    /// Measured units started, for `max_requests`.
    started: AtomicU64,
}

struct WorkerOutcome {
    latency: Histogram,
    requests: u64,
    errors: BTreeMap<String, u64>,
}

/// Runs `workers` (one per unit of concurrency) under `load`; `label` prefixes the progress line.
pub async fn drive(label: &str, workers: Vec<Worker>, load: &Load) -> Measured {
    let shared = Arc::new(Shared::default());
    let begin = Instant::now();
    let measure_from = begin + load.warmup;
    let end = measure_from + load.duration;
    let mut tasks = Vec::with_capacity(workers.len());
    for worker in workers {
        let shared = shared.clone();
        let max = load.max_requests;
        tasks.push(tokio::spawn(work(worker, shared, measure_from, end, max)));
    }
    let progress = load.progress.then(|| {
        let shared = shared.clone();
        let label = label.to_string();
        tokio::spawn(report_progress(label, shared, measure_from))
    });
    let mut measured = Measured::default();
    for task in tasks {
        let Ok(outcome) = task.await else {
            *measured.errors.entry("worker panicked".into()).or_default() += 1;
            continue;
        };
        measured.latency.merge(&outcome.latency);
        measured.requests += outcome.requests;
        for (kind, n) in outcome.errors {
            *measured.errors.entry(kind).or_default() += n;
        }
    }
    let finished = Instant::now().min(end).max(measure_from);
    if let Some(progress) = progress {
        progress.abort();
        eprintln!();
    }
    measured.units = measured.latency.count();
    measured.elapsed = finished - measure_from;
    measured
}

async fn work(
    mut worker: Worker,
    shared: Arc<Shared>,
    measure_from: Instant,
    end: Instant,
    max: Option<u64>,
) -> WorkerOutcome {
    let mut outcome = WorkerOutcome {
        latency: Histogram::default(),
        requests: 0,
        errors: BTreeMap::new(),
    };
    loop {
        let start = Instant::now();
        if start >= end {
            break;
        }
        let measured = start >= measure_from;
        if measured
            && let Some(max) = max
            && shared.started.fetch_add(1, Ordering::Relaxed) >= max
        {
            break;
        }
        let result = worker.step().await;
        let took = start.elapsed();
        // Units that end after the clock stopped are not counted: the rate is over `duration`.
        if !measured || start + took > end {
            continue;
        }
        match result {
            Ok(requests) => {
                outcome.requests += u64::from(requests);
                outcome.latency.record(took.as_micros() as u64);
                shared.units.fetch_add(1, Ordering::Relaxed);
            }
            Err(Failure(kind)) => {
                *outcome.errors.entry(kind).or_default() += 1;
                shared.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    outcome
}

async fn report_progress(label: String, shared: Arc<Shared>, measure_from: Instant) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let mut last = 0;
    loop {
        tick.tick().await;
        let now = Instant::now();
        let units = shared.units.load(Ordering::Relaxed);
        let errors = shared.errors.load(Ordering::Relaxed);
        if now < measure_from {
            eprint!("\r{label}: warming up…                                        ");
            continue;
        }
        let secs = (now - measure_from).as_secs_f64().max(0.001);
        eprint!(
            "\r{label}: {secs:>5.1}s  {:>9.0}/s now  {:>9.0}/s so far  {units} done  {errors} errors   ",
            (units - last) as f64,
            units as f64 / secs,
        );
        last = units;
    }
}
