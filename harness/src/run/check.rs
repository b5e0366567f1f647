//! One check: its variables, its steps in order, and the result they add up to.

use std::time::{Instant, SystemTime};

use std::sync::atomic::{AtomicU64, Ordering};

use grader_report::{CheckResult, CheckStatus, Failure, Fault, LoadReport, Shutdown, WorkReport};

use super::RunConfig;
use super::assert::Mismatch;
use super::score::{self, StepsOutcome};
use super::services::Lifecycle;
use crate::exercise::{Cause, Check, Hint, Retry, Step, StepKind, UpstreamMode};
use crate::probe::{Prober, RedisProbe, SqlProbe};
use crate::target::Target;
use crate::template::{Context, RenderError};

/// A step that did not pass.
pub(super) struct StepFail {
    /// Boxed: a step's `Result` stays small however much the failure says.
    pub failure: Box<Failure>,
    /// Whose fault it is: anything but the submission's makes the check an error, not
    /// a failure, and stops it even when it gives partial credit.
    pub fault: Fault,
    /// The share of the check's points earned anyway (load thresholds with points).
    pub credit: Option<f64>,
    /// What kind of failure it is: decides which of the step's hints is shown.
    pub cause: Cause,
    /// A type mismatch that the step states (see `Mismatch::stated`).
    pub stated: bool,
    /// The failed assertion's own hint, when it is about this failure.
    pub hint: Option<String>,
}

impl StepFail {
    /// A failure of the submission.
    pub fn new(message: impl Into<String>) -> StepFail {
        StepFail::with_fault(Fault::Submission, Failure::message(message))
    }

    pub fn with_fault(fault: Fault, failure: Failure) -> StepFail {
        StepFail {
            failure: Box::new(failure),
            fault,
            credit: None,
            cause: Cause::Other,
            stated: false,
            hint: None,
        }
    }

    pub fn mismatch(m: Mismatch) -> StepFail {
        let mut f = StepFail::new(m.message);
        f.failure.expected = m.expected;
        f.failure.actual = m.actual;
        f.failure.diff = m.diff;
        f.cause = m.cause;
        f.stated = m.stated;
        f.hint = m.hint.map(String::from);
        f
    }

    /// The hint shown with this failure: the failed assertion's own, else the step's
    /// for this kind of failure; none when the grader, not the submission, failed.
    fn shown_hint(&mut self, step: Option<&Hint>) -> Option<String> {
        if !self.is_submissions() {
            return None;
        }
        self.hint.take().or_else(|| {
            step.and_then(|h| h.for_failure(self.cause, self.stated))
                .map(str::to_string)
        })
    }

    fn is_submissions(&self) -> bool {
        self.fault == Fault::Submission
    }
}

impl From<RenderError> for StepFail {
    fn from(e: RenderError) -> Self {
        StepFail::new(e.0)
    }
}

/// What the steps of a check have done so far; kept outside the steps' future so that
/// it survives the check's timeout.
#[derive(Default)]
struct Progress {
    passed: usize,
    /// The figures of the check's (last) load step.
    load: Option<LoadReport>,
    /// The number (from 1) of the step running.
    step: usize,
    /// How the server stopped at each graceful restart.
    shutdowns: Vec<Shutdown>,
    /// A `db` step left the database down: the check's end brings it back.
    db_down: bool,
    /// The check has a `db` or a load step (a spike may kill a server that keeps what
    /// it should not): its end makes sure the server runs.
    db_touched: bool,
    /// The work counted in each counted step.
    work: Vec<WorkReport>,
}

/// The connections a run keeps between checks.
pub(super) struct Runner<'a, T> {
    pub target: &'a T,
    pub config: &'a RunConfig,
    pub prober: Prober,
    pub sql: Option<SqlProbe>,
    pub redis: Option<RedisProbe>,
    /// HTTP requests sent by steps so far: a counted step's requests are the difference.
    pub sent: AtomicU64,
    /// The check's clock stops while a step waits at the load gate.
    pub paused: super::gate::Paused,
}

impl<T: Target> Runner<'_, T> {
    pub async fn check(&mut self, check: &Check) -> CheckResult {
        let start = Instant::now();
        let since = SystemTime::now();
        let timeout = check.timeout;
        let mut progress = Progress::default();
        let paused = self.paused.clone();
        paused.reset();
        let outcome =
            match super::gate::within(timeout, &paused, self.steps(check, &mut progress)).await {
                Some(outcome) => outcome,
                None => {
                    let mut f = StepFail::new(format!(
                        "the check did not finish within {}s (is the server hanging?)",
                        timeout.as_secs_f64()
                    ));
                    f.cause = Cause::NoAnswer;
                    Err(f)
                }
            };
        self.settle(&mut progress).await;
        let total = check.steps.len().max(1);
        let (status, failure, credit) = match outcome {
            Ok(()) => (CheckStatus::Passed, None, None),
            Err(f) if !f.is_submissions() => (CheckStatus::Error, Some(*f.failure), None),
            Err(mut f) => {
                if check.partial {
                    f.failure.message = format!(
                        "{} of {total} steps passed; {}",
                        progress.passed, f.failure.message
                    );
                }
                (CheckStatus::Failed, Some(*f.failure), f.credit)
            }
        };
        let earned = score::earned(
            check.points,
            check.partial,
            &StepsOutcome {
                status,
                passed: progress.passed,
                total,
                credit,
            },
        );
        let duration_ms = start.elapsed().as_millis() as u64;
        // What the submission printed meanwhile, and why it may have failed.
        let diagnosis = match status {
            CheckStatus::Failed | CheckStatus::Error => self.target.diagnose(since).await,
            _ => Default::default(),
        };
        CheckResult {
            id: check.id.clone(),
            title: check.title.clone(),
            category: check.category.clone(),
            status,
            hidden: check.hidden,
            points: check.points,
            earned,
            duration_ms,
            location: check.location.clone(),
            failure,
            load: progress.load,
            output: diagnosis.output,
            causes: diagnosis.causes,
            shutdowns: progress.shutdowns,
            work: progress.work,
        }
    }

    /// After a check that stopped the database: it accepts connections again, and the
    /// server runs (started again if it gave up), so later checks are not failed for
    /// this one.
    async fn settle(&mut self, progress: &mut Progress) {
        if progress.db_down {
            // A failure here shows in the next check that needs the database.
            self.redis = None;
            let _ = self.target.database_start().await;
            progress.db_down = false;
        }
        if progress.db_touched {
            self.target.revive().await;
        }
    }

    /// Runs a step; one with `retry` is tried again until it passes or its time is up
    /// (a failure that is not the submission's ends it at once).
    async fn attempt(
        &mut self,
        step: &Step,
        ctx: &mut Context,
        progress: &mut Progress,
    ) -> Result<(), StepFail> {
        let Some(Retry { limit, every }) = step.retry else {
            return self.step(step, ctx, progress).await;
        };
        let deadline = Instant::now() + limit;
        loop {
            match self.step(step, ctx, progress).await {
                Ok(()) => return Ok(()),
                Err(mut f) if !f.is_submissions() || Instant::now() >= deadline => {
                    if f.is_submissions() {
                        f.failure.message = format!(
                            "still failing after {}s of retries: {}",
                            limit.as_secs_f64(),
                            f.failure.message
                        );
                    }
                    return Err(f);
                }
                Err(_) => tokio::time::sleep(every).await,
            }
        }
    }

    /// Runs the steps, counting those that pass. A check stops at its first failing
    /// step; a partial-credit check runs them all (unless it is not the submission's
    /// fault).
    async fn steps(&mut self, check: &Check, progress: &mut Progress) -> Result<(), StepFail> {
        let mut ctx = Context::new(self.config.seed, &check.id);
        if check.cookies {
            ctx.enable_cookies();
        }
        if let Some(mock) = self.target.upstream() {
            mock.set_mode(UpstreamMode::Ok);
        }
        for (name, value) in &check.vars {
            let v = value.render(&mut ctx)?;
            ctx.set(name, v);
        }
        let mut first: Option<StepFail> = None;
        progress.db_touched = check
            .steps
            .iter()
            .any(|s| matches!(s.kind, StepKind::Database(_) | StepKind::Load(_)));
        for (i, step) in check.steps.iter().enumerate() {
            progress.step = i + 1;
            match self.attempt(step, &mut ctx, progress).await {
                Ok(()) => progress.passed += 1,
                Err(mut f) => {
                    f.failure.step = i + 1;
                    f.failure.location = step.location.clone();
                    f.failure.hint = f.shown_hint(step.hint.as_ref());
                    if !check.partial || !f.is_submissions() {
                        return Err(f);
                    }
                    first.get_or_insert(f);
                }
            }
        }
        first.map_or(Ok(()), Err)
    }

    async fn step(
        &mut self,
        step: &Step,
        ctx: &mut Context,
        progress: &mut Progress,
    ) -> Result<(), StepFail> {
        match &step.kind {
            StepKind::Http(h) if !h.expect.work.is_empty() => {
                let lazy = h.expect.work.iter().any(|a| a.figure.flushed_late());
                let meter = self.meter(lazy).await;
                let before = self.sent.load(Ordering::SeqCst);
                let outcome = self.http(h, ctx).await;
                let requests = self.sent.load(Ordering::SeqCst) - before;
                let work = self.count(meter, progress.step, requests).await;
                let judged = super::work::judge_asserts(&h.expect.work, &work);
                progress.work.push(work);
                outcome.and(judged)
            }
            StepKind::Http(h) => self.http(h, ctx).await,
            StepKind::Sql(s) => self.sql(s, ctx).await,
            StepKind::Exec(e) => self.exec(e, ctx).await,
            StepKind::Restart { grace, ready } => {
                let what = Lifecycle::Restart { grace: *grace };
                let at = progress.step;
                self.lifecycle(what, *ready, at, &mut progress.shutdowns)
                    .await
            }
            StepKind::Crash { ready } => {
                let at = progress.step;
                self.lifecycle(Lifecycle::Crash, *ready, at, &mut progress.shutdowns)
                    .await
            }
            StepKind::WaitReady => {
                let at = progress.step;
                self.lifecycle(Lifecycle::WaitReady, true, at, &mut progress.shutdowns)
                    .await
            }
            StepKind::Database(action) => {
                // Redis as the database: the grader's own connection goes with it.
                self.redis = None;
                self.database(*action, &mut progress.db_down).await
            }
            StepKind::Sleep(d) => {
                tokio::time::sleep(*d).await;
                Ok(())
            }
            StepKind::Redis(r) => self.redis(r, ctx).await,
            StepKind::Tcp(t) => self.tcp(t, ctx).await,
            StepKind::Upstream(mode) => self.upstream_mode(*mode),
            StepKind::UpstreamCalls(u) => self.upstream_calls(u, ctx).await,
            StepKind::Value(v) => {
                let doc = v.value.render(ctx)?;
                let shown = format!("the value {}", v.shown);
                super::document::judge_document(&v.expect, &v.captures, &doc, &shown, ctx)
            }
            StepKind::Load(l) => {
                let (outcome, report, work) = self.load(l, ctx, progress.step).await;
                progress.load = Some(report);
                progress.work.push(work);
                outcome
            }
            StepKind::Sequence { copies, steps } => self.sequence(*copies, steps, ctx).await,
        }
    }

    pub async fn close(&self) {
        if let Some(sql) = &self.sql {
            sql.close().await;
        }
    }
}
