//! The load prober: open model (arrivals on a schedule, latency from the scheduled send
//! time, so a stalling server cannot hide behind coordinated omission) and closed model
//! (N connections as fast as they go). One raw HTTP/1.1 connection per slot, like oha;
//! results in fixed-size HDR histograms. HTTP/1.1 pipelining is not used.

mod schedule;
mod stats;
mod threshold;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub use schedule::{Schedule, Segment};
pub use threshold::{Summary, Threshold};

use crate::http::ProbeRequest;
use grader_report::{LoadReport, StageReport, ThresholdResult};
use stats::StageStats;

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

impl LoadOptions {
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
pub type MakeRequest = dyn Fn(u64, &mut ChaCha8Rng) -> Result<ProbeRequest, String> + Send + Sync;

/// Per-connection timeouts without a timer per request: each slot notes when its
/// request left, and one reaper wakes the slots whose request is overdue.
struct Slot {
    /// Microseconds since the run's epoch at which the request in flight was sent
    /// (0: none in flight).
    sent_at: AtomicU64,
    overdue: tokio::sync::Notify,
}

struct Shared {
    slots: Vec<Slot>,
    epoch: Instant,
    stages: Vec<Mutex<StageStats>>,
    next: AtomicU64,
    stop: AtomicBool,
    any_ok: AtomicBool,
    first_error: Mutex<Option<String>>,
}

/// Runs a load against `base_url` (`http://host:port`).
pub async fn run(
    options: &LoadOptions,
    base_url: &str,
    seed: u64,
    make: Arc<MakeRequest>,
) -> LoadReport {
    let authority = base_url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let stage_count = match &options.model {
        Model::Open(s) => s.segments().len(),
        Model::Closed(_) => 1,
    };
    let shared = Arc::new(Shared {
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
        next: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        any_ok: AtomicBool::new(false),
        first_error: Mutex::new(None),
    });
    let start = Instant::now() + Duration::from_millis(20);
    let total = match &options.model {
        Model::Open(s) => Duration::from_secs_f64(s.duration()),
        Model::Closed(d) => options.warmup + *d,
    };
    let mut tasks = Vec::with_capacity(options.connections);
    for slot in 0..options.connections.max(1) {
        let shared = shared.clone();
        let make = make.clone();
        let authority = authority.clone();
        let options = options.clone();
        tasks.push(tokio::spawn(async move {
            worker(
                &options,
                &authority,
                seed,
                (start, total),
                &shared,
                slot,
                &*make,
            )
            .await;
        }));
    }
    // The reaper: wakes every slot whose request has been out longer than the timeout.
    let reaper = {
        let shared = shared.clone();
        let timeout = options.timeout.as_micros() as u64;
        let tick =
            (options.timeout / 20).clamp(Duration::from_millis(5), Duration::from_millis(100));
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
    };
    // The watchdog: a server that answers nothing ends the run early.
    let watchdog = {
        let shared = shared.clone();
        let dead_after = options.dead_after;
        tokio::spawn(async move {
            tokio::time::sleep_until((start + dead_after).into()).await;
            if !shared.any_ok.load(Ordering::SeqCst) {
                shared.stop.store(true, Ordering::SeqCst);
            }
        })
    };
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
        let first = shared.first_error.lock().expect("not poisoned").clone();
        Some(format!(
            "no request succeeded within {}s (first error: {})",
            options.dead_after.as_secs_f64(),
            first.unwrap_or_else(|| "none".into())
        ))
    } else if timed_out {
        Some("the run did not end within its time limit".into())
    } else {
        None
    };
    summarize(options, &shared, elapsed, aborted)
}

fn kind_of(e: &str) -> &'static str {
    if e.contains("timeout") {
        "timeout"
    } else if e.contains("refused") {
        "refused"
    } else if e.contains("reset")
        || e.contains("closed")
        || e.contains("incomplete")
        || e.contains("broken pipe")
    {
        "reset"
    } else {
        "other"
    }
}

async fn connect(
    authority: &str,
    timeout: Duration,
) -> Result<http1::SendRequest<Full<Bytes>>, String> {
    let stream = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(authority))
        .await
        .map_err(|_| "connect timeout".to_string())?
        .map_err(|e| e.to_string().to_lowercase())?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

async fn send(
    sender: &mut http1::SendRequest<Full<Bytes>>,
    host: &http::HeaderValue,
    req: ProbeRequest,
) -> Result<u16, String> {
    sender.ready().await.map_err(|e| e.to_string())?;
    let mut builder = http::Request::builder()
        .method(req.method)
        .uri(req.path_and_query)
        .header(http::header::HOST, host.clone());
    for (k, v) in &req.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let request = builder
        .body(Full::new(req.body.unwrap_or_default()))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    Limited::new(response.into_body(), crate::http::MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok(status)
}

async fn worker(
    options: &LoadOptions,
    authority: &str,
    seed: u64,
    (start, total): (Instant, Duration),
    shared: &Shared,
    slot: usize,
    make: &MakeRequest,
) {
    let me = &shared.slots[slot];
    let mut conn: Option<http1::SendRequest<Full<Bytes>>> = None;
    // Samples wait here and reach the shared histograms in batches: one lock per batch,
    // and whatever is left is flushed however the worker returns.
    let mut batch = Batch {
        shared,
        samples: Vec::with_capacity(BATCH),
    };
    let end = start + total;
    let closed = matches!(options.model, Model::Closed(_));
    let Ok(host) = http::HeaderValue::from_str(authority) else {
        shared
            .first_error
            .lock()
            .expect("not poisoned")
            .get_or_insert_with(|| format!("bad address `{authority}`"));
        return;
    };
    tokio::time::sleep_until(start.into()).await;
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let i = shared.next.fetch_add(1, Ordering::Relaxed);
        // When the request is due, and which stage it belongs to.
        let (due, stage) = match &options.model {
            Model::Open(s) => match s.time_of(i) {
                Some(t) => (start + Duration::from_secs_f64(t), s.segment_at(t)),
                None => return,
            },
            Model::Closed(_) => {
                let now = Instant::now();
                if now >= end {
                    return;
                }
                (now, 0)
            }
        };
        if !closed && due > Instant::now() {
            tokio::time::sleep_until(due.into()).await;
        }
        let counted = due >= start + options.warmup;
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let req = match make(i, &mut rng) {
            Ok(r) => r,
            Err(e) => {
                shared
                    .first_error
                    .lock()
                    .expect("not poisoned")
                    .get_or_insert(e);
                shared.stop.store(true, Ordering::SeqCst);
                return;
            }
        };
        let sent = Instant::now();
        me.sent_at.store(
            (sent.duration_since(shared.epoch).as_micros() as u64).max(1),
            Ordering::Relaxed,
        );
        let overdue = me.overdue.notified();
        let outcome = tokio::select! {
            r = async {
                if conn.as_ref().is_none_or(|c| c.is_closed()) {
                    conn = Some(connect(authority, options.timeout).await?);
                }
                let c = conn.as_mut().expect("connected");
                send(c, &host, req).await
            } => r,
            () = overdue => Err("timeout".into()),
        };
        me.sent_at.store(0, Ordering::Relaxed);
        let done = Instant::now();
        let kind = match &outcome {
            Ok(status) if *status < 400 => None,
            Ok(status) if *status < 500 => Some("4xx"),
            Ok(_) => Some("5xx"),
            Err(e) => {
                conn = None;
                Some(kind_of(e))
            }
        };
        if kind.is_none() {
            if !shared.any_ok.load(Ordering::Relaxed) {
                shared.any_ok.store(true, Ordering::Relaxed);
            }
        } else {
            let what = match &outcome {
                Ok(status) => format!("status {status}"),
                Err(e) => e.clone(),
            };
            shared
                .first_error
                .lock()
                .expect("not poisoned")
                .get_or_insert(what);
        }
        if counted {
            batch.samples.push(Sample {
                stage,
                corrected: done.saturating_duration_since(due),
                uncorrected: done.saturating_duration_since(sent),
                error: kind,
            });
            if batch.samples.len() == BATCH {
                batch.flush();
            }
        }
    }
}

const BATCH: usize = 256;

struct Sample {
    stage: usize,
    corrected: Duration,
    uncorrected: Duration,
    error: Option<&'static str>,
}

struct Batch<'a> {
    shared: &'a Shared,
    samples: Vec<Sample>,
}

impl Batch<'_> {
    fn flush(&mut self) {
        let us = |d: Duration| (d.as_micros() as u64).clamp(1, 60_000_000);
        for s in self.samples.drain(..) {
            let mut st = self.shared.stages[s.stage].lock().expect("not poisoned");
            let _ = st.corrected.record(us(s.corrected));
            let _ = st.uncorrected.record(us(s.uncorrected));
            match s.error {
                None => st.ok += 1,
                Some(k) => *st.errors.entry(k).or_default() += 1,
            }
        }
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

fn summarize(
    options: &LoadOptions,
    shared: &Shared,
    elapsed: f64,
    aborted: Option<String>,
) -> LoadReport {
    let mut all = StageStats::new();
    let stages: Vec<StageStats> = shared
        .stages
        .iter()
        .map(|m| {
            let s = m.lock().expect("not poisoned");
            let mut copy = StageStats::new();
            copy.merge(&s);
            copy
        })
        .collect();
    for s in &stages {
        all.merge(s);
    }
    let warmup_s = options.warmup.as_secs_f64();
    let (target, durations): (Option<f64>, Vec<f64>) = match &options.model {
        Model::Open(s) => {
            let first = usize::from(warmup_s > 0.0).min(s.segments().len().saturating_sub(1));
            (
                Some(s.mean_rate(first..s.segments().len())),
                s.segments().iter().map(|g| g.duration).collect(),
            )
        }
        Model::Closed(d) => (None, vec![d.as_secs_f64()]),
    };
    let requests = all.requests();
    let open = matches!(options.model, Model::Open(_));
    let summary_of = |s: &StageStats, rate: f64, target: Option<f64>| {
        let l = stats::latency(&s.corrected);
        Summary {
            quantiles: vec![
                (50.0, l.p50),
                (90.0, l.p90),
                (95.0, l.p95),
                (99.0, l.p99),
                (99.9, l.p999),
            ],
            max_ms: l.max,
            mean_ms: l.mean,
            error_rate: if s.requests() > 0 {
                (s.requests() - s.ok) as f64 / s.requests() as f64
            } else {
                1.0
            },
            rate,
            target_rate: target,
        }
    };
    // Stages (open model): skip the warm-up segment in the report.
    let skip = usize::from(open && warmup_s > 0.0);
    let stage_reports: Vec<StageReport> = if open {
        stages
            .iter()
            .enumerate()
            .skip(skip)
            .map(|(k, s)| {
                let seg = match &options.model {
                    Model::Open(sch) => sch.segments()[k],
                    Model::Closed(_) => unreachable!("open model"),
                };
                StageReport {
                    name: options
                        .stage_names
                        .get(k - skip)
                        .cloned()
                        .unwrap_or_else(|| format!("stage {}", k - skip + 1)),
                    target_rate: Some((seg.r0 + seg.r1) / 2.0),
                    achieved_rate: s.requests() as f64 / durations[k].max(1e-9),
                    requests: s.requests(),
                    errors: s.requests() - s.ok,
                    latency_ms: stats::latency(&s.corrected),
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let achieved = requests as f64 / elapsed;
    let overall = summary_of(&all, achieved, target);
    let thresholds = options
        .thresholds
        .iter()
        .map(|t| {
            let (summary, stage_name) = match t.stage {
                Some(k) if k < stage_reports.len() => {
                    let s = &stages[k + skip];
                    let r = &stage_reports[k];
                    (
                        summary_of(s, r.achieved_rate, r.target_rate),
                        Some(r.name.clone()),
                    )
                }
                _ => (overall.clone(), None),
            };
            let (actual, passed) = t.threshold.judge(&summary);
            ThresholdResult {
                expr: t.threshold.src.clone(),
                stage: stage_name,
                passed: passed && aborted.is_none(),
                actual: t.threshold.show(actual),
                points: t.points,
            }
        })
        .collect();
    LoadReport {
        model: if open { "open" } else { "closed" }.into(),
        connections: options.connections as u32,
        warmup_s,
        duration_s: (elapsed * 1000.0).round() / 1000.0,
        target_rate: target,
        achieved_rate: (achieved * 10.0).round() / 10.0,
        requests,
        ok: all.ok,
        errors: all
            .errors
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
        latency_ms: stats::latency(&all.corrected),
        uncorrected_ms: open.then(|| stats::latency(&all.uncorrected)),
        histogram: stats::buckets(&all.corrected),
        stages: stage_reports,
        thresholds,
        aborted,
    }
}
