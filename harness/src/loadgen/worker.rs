//! The worker loop shared by both models: take the next request index, wait until it is
//! due (open model), send it on the slot's connection, and count what came back.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::conn::{self, Conn, ErrorKind, RequestError, Sent};
use super::stats::StageStats;
use super::timeline::Recorder;
use super::{LoadOptions, MakeRequest, Model};
use crate::probe::ProbeRequest;
use crate::run::seed;
use crate::template::RenderError;

/// Per-connection timeouts without a timer per request: each slot notes when its
/// request left, and one reaper wakes the slots whose request is overdue.
pub(crate) struct Slot {
    /// Microseconds since the run's epoch at which the request in flight was sent
    /// (0: none in flight).
    pub sent_at: AtomicU64,
    pub overdue: tokio::sync::Notify,
}

/// The first thing that went wrong, for the message of a run that stopped early.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FirstError {
    #[error("bad address `{0}`")]
    BadAddress(String),
    #[error("{0}")]
    Render(RenderError),
    #[error("status {0}")]
    Status(u16),
    #[error("{0}")]
    Request(RequestError),
}

/// What every worker of a run reads and updates.
pub(crate) struct Shared {
    pub options: LoadOptions,
    pub authority: String,
    pub seed: u64,
    pub make: std::sync::Arc<MakeRequest>,
    /// When the first request is due.
    pub start: Instant,
    /// The length of the run, warm-up included.
    pub total: Duration,
    pub slots: Vec<Slot>,
    pub epoch: Instant,
    pub stages: Vec<Mutex<StageStats>>,
    /// Every request, warm-up included, by window.
    pub timeline: Mutex<Recorder>,
    pub next: AtomicU64,
    /// Requests sent, warm-up included: what the server's work is divided by.
    pub sent: AtomicU64,
    /// Set when the run is over, or its caller went away.
    pub stop: std::sync::Arc<AtomicBool>,
    pub any_ok: AtomicBool,
    pub first_error: Mutex<Option<FirstError>>,
}

impl Shared {
    fn note_error(&self, e: FirstError) {
        self.first_error
            .lock()
            .expect("not poisoned")
            .get_or_insert(e);
    }

    /// When request `i` is due and which stage it belongs to; `None` once the run is over.
    fn due(&self, i: u64) -> Option<(Instant, usize)> {
        match &self.options.model {
            Model::Open(s) => {
                let t = s.time_of(i)?;
                Some((self.start + Duration::from_secs_f64(t), s.segment_at(t)))
            }
            Model::Closed(_) => {
                let now = Instant::now();
                (now < self.start + self.total).then_some((now, 0))
            }
        }
    }

    /// Sends `req` on the slot's connection (opening one when needed) unless the
    /// reaper says it is overdue first. A connection the server closed while it was
    /// idle is replaced and the request sent again on the new one, once.
    async fn send_on(
        &self,
        slot: usize,
        conn: &mut Option<Conn>,
        req: &ProbeRequest,
    ) -> Result<u16, RequestError> {
        let me = &self.slots[slot];
        let sent_us = Instant::now().duration_since(self.epoch).as_micros() as u64;
        me.sent_at.store(sent_us.max(1), Ordering::Relaxed);
        let overdue = me.overdue.notified();
        let outcome = tokio::select! {
            r = async {
                for _ in 0..2 {
                    if conn.is_none() {
                        *conn = Some(conn::connect(&self.authority, self.options.timeout).await?);
                    }
                    let c = conn.as_mut().expect("connected");
                    match c.send(&self.authority, req).await {
                        Ok(Sent::Answered(status, keep_alive)) => {
                            if !keep_alive {
                                *conn = None;
                            }
                            return Ok(status);
                        }
                        Ok(Sent::Stale) => *conn = None,
                        Err(e) => {
                            *conn = None;
                            return Err(e);
                        }
                    }
                }
                Err(RequestError::Closed)
            } => r,
            () = overdue => {
                *conn = None;
                Err(RequestError::Timeout)
            }
        };
        me.sent_at.store(0, Ordering::Relaxed);
        outcome
    }

    /// The error kind of an outcome (none for a success), noting the first failure.
    fn judge(&self, outcome: Result<u16, RequestError>) -> Option<ErrorKind> {
        let (kind, first) = match outcome {
            Ok(status) => match ErrorKind::of_status(status) {
                None => {
                    if !self.any_ok.load(Ordering::Relaxed) {
                        self.any_ok.store(true, Ordering::Relaxed);
                    }
                    return None;
                }
                Some(kind) => (kind, FirstError::Status(status)),
            },
            Err(e) => (e.kind(), FirstError::Request(e)),
        };
        self.note_error(first);
        Some(kind)
    }
}

pub(crate) async fn worker(shared: &Shared, slot: usize) {
    let mut conn: Option<Conn> = None;
    // Samples wait here and reach the shared histograms in batches: one lock per batch,
    // and whatever is left is flushed however the worker returns.
    let mut batch = Batch {
        shared,
        samples: Vec::with_capacity(BATCH),
    };
    let closed = matches!(shared.options.model, Model::Closed(_));
    if http::HeaderValue::from_str(&shared.authority).is_err() {
        shared.note_error(FirstError::BadAddress(shared.authority.clone()));
        return;
    }
    tokio::time::sleep_until(shared.start.into()).await;
    while !shared.stop.load(Ordering::Relaxed) {
        let i = shared.next.fetch_add(1, Ordering::Relaxed);
        let Some((due, stage)) = shared.due(i) else {
            return;
        };
        if !closed && due > Instant::now() {
            tokio::time::sleep_until(due.into()).await;
        }
        let counted = due >= shared.start + shared.options.warmup;
        let mut rng = seed::rng(seed::for_index(shared.seed, i));
        let req = match (shared.make)(i, &mut rng) {
            Ok(r) => r,
            Err(e) => {
                shared.note_error(FirstError::Render(e));
                shared.stop.store(true, Ordering::SeqCst);
                return;
            }
        };
        shared.sent.fetch_add(1, Ordering::Relaxed);
        let sent = Instant::now();
        let outcome = shared.send_on(slot, &mut conn, &req).await;
        let done = Instant::now();
        let error = shared.judge(outcome);
        let since_start = |t: Instant| t.saturating_duration_since(shared.start);
        batch.push(Sample {
            stage,
            counted,
            due: since_start(due),
            done: since_start(done),
            corrected: done.saturating_duration_since(due),
            uncorrected: done.saturating_duration_since(sent),
            error,
        });
    }
}

const BATCH: usize = 256;

struct Sample {
    stage: usize,
    /// After the warm-up: counted in the stage's figures (the timeline has them all).
    counted: bool,
    /// From the run's start: when the request was due (sent, in the closed model) and
    /// when it completed.
    due: Duration,
    done: Duration,
    corrected: Duration,
    uncorrected: Duration,
    error: Option<ErrorKind>,
}

struct Batch<'a> {
    shared: &'a Shared,
    samples: Vec<Sample>,
}

impl Batch<'_> {
    fn push(&mut self, sample: Sample) {
        self.samples.push(sample);
        if self.samples.len() == BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let us = |d: Duration| (d.as_micros() as u64).clamp(1, 60_000_000);
        {
            let mut timeline = self.shared.timeline.lock().expect("not poisoned");
            for s in &self.samples {
                let raw = |d: Duration| d.as_micros() as u64;
                timeline.record(raw(s.due), raw(s.done), us(s.corrected), s.error.is_some());
            }
        }
        for s in self.samples.drain(..).filter(|s| s.counted) {
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
