//! Runs an exercise's checks against a target, one check after another, and reports
//! each as an event. The runner never prints: the caller renders events as it likes.

mod assert;
mod check;
mod diff;
mod document;
mod gate;
mod http;
mod load;
mod pages;
mod request;
pub mod score;
pub(crate) mod seed;
mod services;
mod tcp;
mod uri;
mod work;

use grader_report::{CheckResult, CheckStatus, Failure};

use crate::exercise::{Check, Exercise};
use crate::probe::Prober;
use crate::target::Target;
use check::Runner;

/// Settings of one run.
#[derive(Debug, Clone, Default)]
pub struct RunConfig {
    /// Seed of all random data.
    pub seed: u64,
    /// The base URL printed in curl commands: where the learner runs the server
    /// (e.g. `http://localhost:8080`), not where the grader reached it.
    pub public_base_url: String,
    /// Shared by runs in one process (batch grading): at most two light load steps
    /// (or one other) at a time, so that loads do not disturb each other's latency
    /// figures. The machine's gate (`run/gate.rs`) holds across processes too.
    pub load_gate: Option<std::sync::Arc<tokio::sync::Semaphore>>,
    /// Run only these checks and the checks they `need` (none: all); the others are
    /// reported as not run.
    pub only: Option<Vec<String>>,
}

/// What the runner reports while it works.
#[derive(Debug)]
pub enum Event<'a> {
    CheckStarted {
        index: usize,
        total: usize,
        check: &'a Check,
    },
    CheckFinished {
        index: usize,
        total: usize,
        result: &'a CheckResult,
    },
}

/// Runs every check of `exercise` in order against `target`.
pub async fn run_checks<T: Target>(
    exercise: &Exercise,
    target: &T,
    config: &RunConfig,
    mut on_event: impl FnMut(Event<'_>),
) -> Vec<CheckResult> {
    let mut runner = Runner {
        target,
        config,
        prober: Prober::new(),
        sql: None,
        redis: None,
        sent: std::sync::atomic::AtomicU64::new(0),
        paused: gate::Paused::default(),
    };
    let total = exercise.checks.len();
    let selected = config.only.as_deref().map(|ids| selection(exercise, ids));
    let mut results: Vec<CheckResult> = Vec::with_capacity(total);
    for (index, check) in exercise.checks.iter().enumerate() {
        on_event(Event::CheckStarted {
            index,
            total,
            check,
        });
        let left_out = selected.as_ref().is_some_and(|s| !s.contains(&check.id));
        let result = match unmet_needs(check, &results).or_else(|| cannot_check(check, target)) {
            _ if left_out => not_run(check, NOT_SELECTED.into()),
            None => runner.check(check).await,
            Some(why) => not_run(check, why),
        };
        on_event(Event::CheckFinished {
            index,
            total,
            result: &result,
        });
        results.push(result);
    }
    runner.close().await;
    results
}

/// The failure message of a check left out by `only`.
pub const NOT_SELECTED: &str = "not run: not selected (--only)";

/// The checks `ids` and, transitively, the checks they need.
pub fn selection(exercise: &Exercise, ids: &[String]) -> std::collections::BTreeSet<String> {
    let mut selected = std::collections::BTreeSet::new();
    let mut todo: Vec<&str> = ids.iter().map(String::as_str).collect();
    while let Some(id) = todo.pop() {
        if !selected.insert(id.to_string()) {
            continue;
        }
        if let Some(c) = exercise.checks.iter().find(|c| c.id == id) {
            todo.extend(c.needs.iter().map(String::as_str));
        }
    }
    selected
}

/// Why `check` cannot run yet: the checks it needs that have not passed.
fn unmet_needs(check: &Check, results: &[CheckResult]) -> Option<String> {
    let unmet: Vec<String> = check
        .needs
        .iter()
        .filter(|n| {
            !results
                .iter()
                .any(|r| r.id == **n && r.status == CheckStatus::Passed)
        })
        .map(|n| format!("`{n}`"))
        .collect();
    (!unmet.is_empty()).then(|| format!("skipped: it needs {} to pass first", unmet.join(", ")))
}

/// Why an attached server's checks that bound these figures are skipped.
const OWN_COUNTERS: &str = "it counts the server's work in the grader's own PostgreSQL \
     (pg_stat_statements) or in the server's container (CPU, memory), which an attached \
     server does not have: grade the submission's folder to check it";

/// Whether a figure is read where only a server the grader started has it: the
/// grader's PostgreSQL (with pg_stat_statements) or the submission's cgroup.
fn needs_own_services(f: crate::probe::work::Figure) -> bool {
    use crate::probe::work::Figure;
    !matches!(f, Figure::RedisCommands | Figure::UpstreamCalls)
}

/// Why `target` cannot run `check` at all (an attached server: no control of its
/// process, or a service it was not given); `None` when it can.
pub fn cannot_check<T: Target>(check: &Check, target: &T) -> Option<String> {
    use crate::exercise::StepKind;
    let process = target.controls_process();
    for step in &check.steps {
        let why = match &step.kind {
            StepKind::Restart { .. } | StepKind::Crash { .. } if !process => {
                "it restarts or crashes the server, which the grader does not control here \
                 (an attached server): grade the submission's folder to check it"
            }
            StepKind::Database(_) if !process => {
                "it stops the server's database, which the grader does not control here \
                 (an attached server): grade the submission's folder to check it"
            }
            StepKind::Sql(_) if target.database_url().is_none() => {
                "it reads the server's database: give the grader its URL (--database-url)"
            }
            StepKind::Exec(_) if target.database_writer_url().is_none() => {
                "it writes rows into the server's database: give the grader its URL \
                 (--database-url)"
            }
            StepKind::Redis(_) if target.redis_url().is_none() => {
                "it reads the server's Redis: give the grader its URL (--redis-url)"
            }
            StepKind::Http(h)
                if !process && h.expect.work.iter().any(|a| needs_own_services(a.figure)) =>
            {
                OWN_COUNTERS
            }
            StepKind::Load(l)
                if !process
                    && l.options.thresholds.iter().any(|t| {
                        matches!(t.threshold.metric, crate::loadgen::Metric::Work(f) if needs_own_services(f))
                    }) =>
            {
                OWN_COUNTERS
            }
            StepKind::Upstream(_) | StepKind::UpstreamCalls(_) if target.upstream().is_none() => {
                "it drives the upstream API the grader hosts, which an attached server does \
                 not call: grade the submission's folder to check it"
            }
            _ => continue,
        };
        return Some(format!("skipped: {why}"));
    }
    None
}

/// The result of a check that did not run.
pub fn not_run(check: &Check, why: String) -> CheckResult {
    CheckResult {
        id: check.id.clone(),
        title: check.title.clone(),
        category: check.category.clone(),
        status: CheckStatus::Skipped,
        hidden: check.hidden,
        points: check.points,
        earned: 0.0,
        duration_ms: 0,
        location: check.location.clone(),
        failure: Some(Failure::message(why)),
        load: None,
        output: None,
        causes: Vec::new(),
        shutdowns: Vec::new(),
        work: Vec::new(),
    }
}
