//! Resident memory (VmRSS) of the service processes: once idle before a run, then sampled every
//! 250 ms during it for the peak.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;

/// A process to watch, by a display name.
#[derive(Clone, Debug)]
pub struct Watched {
    pub name: String,
    pub pid: u32,
}

/// Resident memory of one process at one moment.
#[derive(Clone, Debug, Serialize)]
pub struct Resident {
    pub name: String,
    pub pid: u32,
    pub kib: Option<u64>,
}

/// The resident memory of each watched process now.
pub fn snapshot(watched: &[Watched]) -> Vec<Resident> {
    watched
        .iter()
        .map(|w| Resident {
            name: w.name.clone(),
            pid: w.pid,
            kib: rss_kib(w.pid),
        })
        .collect()
}

/// Resident memory just before a scenario (`idle_kib`, after its workers' set-up) and its peak
/// while the scenario ran.
#[derive(Clone, Debug, Serialize)]
pub struct MemoryUse {
    pub name: String,
    pub pid: u32,
    pub idle_kib: Option<u64>,
    pub peak_kib: Option<u64>,
}

/// VmRSS of `pid` in KiB, or `None` when the process is gone or unreadable.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The direct children of this process running `binary` (the harness starts each service as
/// a child; their pids are not otherwise exposed).
pub fn child_pid(binary: &str) -> Option<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // `pid (comm) state ppid …`; comm is at most 15 bytes and may hold spaces.
            let (head, rest) = stat.rsplit_once(')')?;
            let comm = head.split_once('(')?.1;
            let ppid: u32 = rest.split_whitespace().nth(1)?.parse().ok()?;
            let short = &binary[..binary.len().min(15)];
            (ppid == me && comm == short).then_some(pid)
        })
}

/// Samples the peak VmRSS of each watched process until stopped.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<Option<u64>>>,
    idle: Vec<Option<u64>>,
    watched: Vec<Watched>,
}

impl Sampler {
    pub fn start(watched: Vec<Watched>) -> Sampler {
        let idle: Vec<Option<u64>> = watched.iter().map(|w| rss_kib(w.pid)).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let pids: Vec<u32> = watched.iter().map(|w| w.pid).collect();
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut peaks: Vec<Option<u64>> = vec![None; pids.len()];
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tick.tick().await;
                for (peak, pid) in peaks.iter_mut().zip(&pids) {
                    if let Some(now) = rss_kib(*pid) {
                        *peak = Some(peak.unwrap_or(0).max(now));
                    }
                }
                if flag.load(Ordering::Relaxed) {
                    return peaks;
                }
            }
        });
        Sampler {
            stop,
            task,
            idle,
            watched,
        }
    }

    pub async fn finish(self) -> Vec<MemoryUse> {
        self.stop.store(true, Ordering::Relaxed);
        let peaks = self.task.await.unwrap_or_default();
        self.watched
            .into_iter()
            .enumerate()
            .map(|(i, w)| MemoryUse {
                name: w.name,
                pid: w.pid,
                idle_kib: self.idle[i],
                peak_kib: peaks.get(i).copied().flatten().max(self.idle[i]),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_resident_memory_of_this_process() {
        let kib = rss_kib(std::process::id()).expect("VmRSS of self");
        assert!(kib > 0);
        assert_eq!(rss_kib(u32::MAX), None);
    }
}
