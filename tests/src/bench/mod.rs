//! olympus-bench, the load generator: scenarios against an OAuth2/OIDC provider (Olympus, or
//! another one through its discovery document), measured for throughput, latency, errors and
//! the resident memory of the service processes. The binary (`src/bin/olympus-bench.rs`) parses
//! the command line; [`run`] and [`run_spawned`] are what it and the smoke test call.

pub mod engine;
pub mod flow;
mod forms;
pub mod histogram;
pub mod memory;
pub mod report;
pub mod scenario;
pub mod seed;
pub mod spawn;
pub mod target;

use std::sync::Arc;

pub use engine::Load;
pub use report::{Report, ScenarioReport};
pub use scenario::Scenario;
pub use target::{Target, TargetSpec};

use memory::{Sampler, Watched};

/// What to run and what to prepare for it.
#[derive(Clone, Debug)]
pub struct Plan {
    pub scenarios: Vec<Scenario>,
    pub load: Load,
    /// Access tokens issued before `introspection`.
    pub seed_tokens: usize,
    /// identity-svc sessions made before `whoami`.
    pub seed_sessions: usize,
}

/// Seeds what the planned scenarios need, then runs them one after another.
pub async fn run(mut target: Target, watched: &[Watched], plan: &Plan) -> anyhow::Result<Report> {
    let idle_memory = memory::snapshot(watched);
    let mut seeded = Vec::new();
    if plan.scenarios.iter().any(|s| s.needs_tokens()) {
        let (tokens, done) = seed::tokens(&target, plan.seed_tokens.max(1)).await?;
        target.tokens = tokens;
        seeded.push(done);
    }
    if plan.scenarios.iter().any(|s| s.needs_sessions()) {
        let (sessions, done) = seed::sessions(&target, plan.seed_sessions.max(1)).await?;
        target.sessions = sessions;
        seeded.push(done);
    }
    if plan.load.progress {
        for s in &seeded {
            eprintln!("seeded {} {} ({:.0}/s)", s.count, s.what, s.per_second);
        }
    }
    let target = Arc::new(target);
    let mut scenarios = Vec::new();
    for &scenario in &plan.scenarios {
        let mut workers = Vec::with_capacity(plan.load.concurrency);
        let mut preparing = Vec::new();
        for index in 0..plan.load.concurrency.max(1) {
            let target = target.clone();
            preparing.push(tokio::spawn(async move {
                scenario::prepare(scenario, &target, index).await
            }));
        }
        for task in preparing {
            workers.push(task.await??);
        }
        let sampler = Sampler::start(watched.to_vec());
        let measured = engine::drive(scenario.name(), workers, &plan.load).await;
        let memory = sampler.finish().await;
        scenarios.push(ScenarioReport::new(scenario.name(), &measured, memory));
    }
    Ok(Report {
        issuer: target.issuer.clone(),
        concurrency: plan.load.concurrency,
        duration_seconds: plan.load.duration.as_secs_f64(),
        warmup_seconds: plan.load.warmup.as_secs_f64(),
        max_requests: plan.load.max_requests,
        idle_memory,
        seeded,
        scenarios,
    })
}

/// Starts a local domain through the harness, runs `plan` against it, and stops it.
pub async fn run_spawned(plan: &Plan) -> anyhow::Result<Report> {
    let spawned = spawn::spawn_domain().await?;
    let outcome = async {
        let target = Target::discover(&spawned.spec).await?;
        run(target, &spawned.watched, plan).await
    }
    .await;
    spawned.domain.stop().await?;
    outcome
}
