//! One check: its variables, its steps in order, and the result they add up to.

use std::time::{Instant, SystemTime};

use grader_report::{CheckResult, CheckStatus, Failure, Fault, LoadReport};

use super::RunConfig;
use super::assert::Mismatch;
use super::score::{self, StepsOutcome};
use super::services::Lifecycle;
use crate::exercise::{Cause, Check, Hint, Step, StepKind, UpstreamMode};
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
}

/// The connections a run keeps between checks.
pub(super) struct Runner<'a, T> {
    pub target: &'a T,
    pub config: &'a RunConfig,
    pub prober: Prober,
    pub sql: Option<SqlProbe>,
    pub redis: Option<RedisProbe>,
}

impl<T: Target> Runner<'_, T> {
    pub async fn check(&mut self, check: &Check) -> CheckResult {
        let start = Instant::now();
        let since = SystemTime::now();
        let timeout = check.timeout;
        let mut progress = Progress::default();
        let outcome = match tokio::time::timeout(timeout, self.steps(check, &mut progress)).await {
            Ok(outcome) => outcome,
            Err(_) => {
                let mut f = StepFail::new(format!(
                    "the check did not finish within {}s (is the server hanging?)",
                    timeout.as_secs_f64()
                ));
                f.cause = Cause::NoAnswer;
                Err(f)
            }
        };
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
        }
    }

    /// Runs the steps, counting those that pass. A check stops at its first failing
    /// step; a partial-credit check runs them all (unless it is not the submission's
    /// fault).
    async fn steps(&mut self, check: &Check, progress: &mut Progress) -> Result<(), StepFail> {
        let mut ctx = Context::new(self.config.seed, &check.id);
        if let Some(mock) = self.target.upstream() {
            mock.set_mode(UpstreamMode::Ok);
        }
        for (name, value) in &check.vars {
            let v = value.render(&mut ctx)?;
            ctx.set(name, v);
        }
        let mut first: Option<StepFail> = None;
        for (i, step) in check.steps.iter().enumerate() {
            match self.step(step, &mut ctx, progress).await {
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
            StepKind::Http(h) => self.http(h, ctx).await,
            StepKind::Sql(s) => self.sql(s, ctx).await,
            StepKind::Restart => self.lifecycle(Lifecycle::Restart).await,
            StepKind::Crash => self.lifecycle(Lifecycle::Crash).await,
            StepKind::WaitReady => self.lifecycle(Lifecycle::WaitReady).await,
            StepKind::Sleep(d) => {
                tokio::time::sleep(*d).await;
                Ok(())
            }
            StepKind::Redis(r) => self.redis(r, ctx).await,
            StepKind::Upstream(mode) => self.upstream_mode(*mode),
            StepKind::UpstreamCalls(u) => self.upstream_calls(u, ctx).await,
            StepKind::Load(l) => {
                let (outcome, report) = self.load(l, ctx).await;
                progress.load = Some(report);
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
