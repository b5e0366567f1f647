//! The load prober: open model (arrivals on a schedule, latency from the scheduled send
//! time, so a stalling server cannot hide behind coordinated omission) and closed model
//! (N connections as fast as they go). One HTTP/1.1 connection per slot, spoken by the
//! prober itself (`conn`), on a thread and runtime of its own, like wrk's `-t1`; results
//! in fixed-size HDR histograms. HTTP/1.1 pipelining is not used.

mod conn;
mod recovery;
mod schedule;
mod stats;
mod summary;
mod threshold;
mod timeline;
mod worker;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;

pub use schedule::{Schedule, Segment};
pub use threshold::{Bound, Metric, Op, Summary, Threshold, ThresholdError};

use crate::probe::ProbeRequest;
use crate::template::RenderError;
use grader_report::LoadReport;
use stats::StageStats;
use worker::{Shared, Slot};

/// How arrivals are made.
#[derive(Debug, Clone)]
pub enum Model {
    /// Requests are due on this schedule whether or not earlier ones have returned.
    Open(Schedule),
    /// `connections` loops send as fast as responses come back, for this long.
    Closed(Duration),
}

/// A threshold, the stage it judges (none: the whole run) and its points.
#[derive(Debug, Clone)]
pub struct PlannedThreshold {
    pub threshold: Threshold,
    pub stage: Option<usize>,
    pub points: f64,
}

/// Everything a load run needs but the requests themselves.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub model: Model,
    pub connections: usize,
    /// The first part of the run, not counted.
    pub warmup: Duration,
    /// Per request.
    pub timeout: Duration,
    /// Names of the schedule's segments (warm-up excluded), for reports.
    pub stage_names: Vec<String>,
    pub thresholds: Vec<PlannedThreshold>,
    /// Give up when nothing has succeeded after this long.
    pub dead_after: Duration,
}

/// How many loads a class runs at once: the class's load gate has this many slots; a
/// light load takes one, any other all of them (`LoadOptions::slots`).
pub const LOAD_SLOTS: u32 = 2;

/// A load is light when it asks at most this rate at its peak, over at most
/// `LIGHT_CONNECTIONS`: two of them on two cores leave both servers most of a core, so
/// their latency and rate stay what they are alone (the work counters never move).
pub const LIGHT_RATE: f64 = 100.0;
pub const LIGHT_CONNECTIONS: usize = 20;

impl LoadOptions {
    /// Slots of the class's load gate this load takes: one when it is light (an open
    /// model at most `LIGHT_RATE` at its peak, over at most `LIGHT_CONNECTIONS`), all
    /// of them otherwise (a closed model goes as fast as it can).
    pub fn slots(&self) -> u32 {
        let light = match &self.model {
            Model::Open(s) => {
                self.connections <= LIGHT_CONNECTIONS
                    && s.segments().iter().all(|g| g.r0.max(g.r1) <= LIGHT_RATE)
            }
            Model::Closed(_) => false,
        };
        if light { 1 } else { LOAD_SLOTS }
    }

    /// One steady stage (named `steady`) after an optional warm-up: at `rate` requests
    /// per second (open model), or as fast as `connections` allow when `rate` is none.
    pub fn steady(
        rate: Option<f64>,
        connections: usize,
        warmup: Duration,
        duration: Duration,
        timeout: Duration,
    ) -> LoadOptions {
        let model = match rate {
            Some(r) => {
                let mut segments = Vec::new();
                if !warmup.is_zero() {
                    segments.push(Segment::hold(warmup, r));
                }
                segments.push(Segment::hold(duration, r));
                Model::Open(Schedule::new(segments))
            }
            None => Model::Closed(duration),
        };
        LoadOptions {
            model,
            connections: connections.max(1),
            warmup,
            timeout,
            stage_names: vec!["steady".into()],
            thresholds: Vec::new(),
            dead_after: Duration::from_secs(3),
        }
    }
}

/// Makes request `i` (the caller renders templates; `rng` is seeded from `i`).
pub type MakeRequest =
    dyn Fn(u64, &mut ChaCha8Rng) -> Result<ProbeRequest, RenderError> + Send + Sync;

/// Runs a load against `base_url` (`http://host:port`).
pub async fn run(
    options: &LoadOptions,
    base_url: &str,
    seed: u64,
    make: Arc<MakeRequest>,
) -> LoadReport {
    run_counted(options, base_url, seed, make).await.0
}

/// Runs a load, and says how many requests it sent in all, warm-up included (the
/// report's figures leave the warm-up out).
///
/// The load runs on a thread of its own with a single-threaded runtime, as wrk's `-t1`
/// does: its workers never wait behind the grader's other tasks, the prober takes at
/// most one core (the other stays the server's on a 2-core machine), and its tasks wake
/// each other without crossing threads. Dropping the returned future stops the run.
pub async fn run_counted(
    options: &LoadOptions,
    base_url: &str,
    seed: u64,
    make: Arc<MakeRequest>,
) -> (LoadReport, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    // However this future ends (the grade was cancelled, say), the run's workers stop.
    struct StopOnDrop(Arc<AtomicBool>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let _stop_on_drop = StopOnDrop(stop.clone());
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (options_owned, base_url_owned) = (options.clone(), base_url.to_string());
    let spawned = std::thread::Builder::new()
        .name("grader-load".into())
        .spawn(move || {
            let outcome = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|rt| rt.block_on(run_here(&options_owned, &base_url_owned, seed, make, stop)));
            let _ = tx.send(outcome.map_err(|e| e.to_string()));
        });
    let outcome = match spawned {
        Ok(_) => rx
            .await
            .unwrap_or_else(|_| Err("the load thread ended without a result".into())),
        Err(e) => Err(e.to_string()),
    };
    outcome.unwrap_or_else(|e| (failed(options, format!("cannot run the load: {e}")), 0))
}

/// The report of a load that could not run at all.
fn failed(options: &LoadOptions, why: String) -> LoadReport {
    let stop = Arc::new(AtomicBool::new(true));
    let never: Arc<MakeRequest> = Arc::new(|_, _| Err(RenderError("not started".into())));
    let shared = shared(options, "", 0, never, stop);
    summary::summarize(options, &shared, 1e-9, Some(why))
}

fn shared(
    options: &LoadOptions,
    base_url: &str,
    seed: u64,
    make: Arc<MakeRequest>,
    stop: Arc<AtomicBool>,
) -> Shared {
    let stage_count = match &options.model {
        Model::Open(s) => s.segments().len(),
        Model::Closed(_) => 1,
    };
    let start = Instant::now() + Duration::from_millis(20);
    let total = match &options.model {
        Model::Open(s) => Duration::from_secs_f64(s.duration()),
        Model::Closed(d) => options.warmup + *d,
    };
    Shared {
        options: options.clone(),
        authority: base_url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string(),
        seed,
        make,
        start,
        total,
        slots: (0..options.connections.max(1))
            .map(|_| Slot {
                sent_at: AtomicU64::new(0),
                overdue: tokio::sync::Notify::new(),
            })
            .collect(),
        epoch: Instant::now(),
        stages: (0..stage_count)
            .map(|_| Mutex::new(StageStats::new()))
            .collect(),
        timeline: Mutex::new(timeline::Recorder::new(total.as_millis() as u64)),
        next: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        stop,
        any_ok: AtomicBool::new(false),
        first_error: Mutex::new(None),
    }
}

async fn run_here(
    options: &LoadOptions,
    base_url: &str,
    seed: u64,
    make: Arc<MakeRequest>,
    stop: Arc<AtomicBool>,
) -> (LoadReport, u64) {
    let shared = Arc::new(shared(options, base_url, seed, make, stop));
    let (start, total) = (shared.start, shared.total);
    let tasks: Vec<_> = (0..options.connections.max(1))
        .map(|slot| {
            let shared = shared.clone();
            tokio::spawn(async move { worker::worker(&shared, slot).await })
        })
        .collect();
    let reaper = spawn_reaper(shared.clone());
    let watchdog = spawn_watchdog(shared.clone());
    // A hard bound whatever happens: the run, plus one request timeout, plus slack.
    let limit = total + options.timeout + Duration::from_secs(2);
    let all = futures_util::future::join_all(tasks);
    let timed_out = tokio::time::timeout(limit, all).await.is_err();
    watchdog.abort();
    reaper.abort();
    shared.stop.store(true, Ordering::SeqCst);
    let elapsed = start
        .elapsed()
        .saturating_sub(options.warmup)
        .as_secs_f64()
        .max(1e-9);
    let aborted = if !shared.any_ok.load(Ordering::SeqCst) {
        let first = shared.first_error.lock().expect("not poisoned");
        Some(format!(
            "no request succeeded within {}s (first error: {})",
            options.dead_after.as_secs_f64(),
            first
                .as_ref()
                .map_or_else(|| "none".into(), ToString::to_string)
        ))
    } else if timed_out {
        Some("the run did not end within its time limit".into())
    } else {
        None
    };
    let report = summary::summarize(options, &shared, elapsed, aborted);
    (report, shared.sent.load(Ordering::SeqCst))
}

/// The reaper: wakes every slot whose request has been out longer than the timeout.
fn spawn_reaper(shared: Arc<Shared>) -> tokio::task::JoinHandle<()> {
    let timeout = shared.options.timeout.as_micros() as u64;
    let tick =
        (shared.options.timeout / 20).clamp(Duration::from_millis(5), Duration::from_millis(100));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(tick).await;
            let now = shared.epoch.elapsed().as_micros() as u64;
            for s in &shared.slots {
                let at = s.sent_at.load(Ordering::Relaxed);
                if at != 0 && now.saturating_sub(at) >= timeout {
                    // Wakes only a request waiting now: a late wake-up never lingers to
                    // cut short the next request of the slot.
                    s.overdue.notify_waiters();
                }
            }
        }
    })
}

/// The watchdog: a server that answers nothing ends the run early.
fn spawn_watchdog(shared: Arc<Shared>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::time::sleep_until((shared.start + shared.options.dead_after).into()).await;
        if !shared.any_ok.load(Ordering::SeqCst) {
            shared.stop.store(true, Ordering::SeqCst);
        }
    })
}
