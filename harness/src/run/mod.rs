//! Runs an exercise's checks against a target, one check after another, and reports
//! each as an event. The runner never prints: the caller renders events as it likes.

mod assert;
mod check;
mod document;
mod http;
mod load;
pub mod score;
pub(crate) mod seed;
mod services;
mod uri;

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
    /// Shared by runs in one process (batch grading): one load step at a time, so
    /// that loads do not disturb each other's latency figures.
    pub load_gate: Option<std::sync::Arc<tokio::sync::Semaphore>>,
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
    };
    let total = exercise.checks.len();
    let mut results: Vec<CheckResult> = Vec::with_capacity(total);
    for (index, check) in exercise.checks.iter().enumerate() {
        on_event(Event::CheckStarted {
            index,
            total,
            check,
        });
        let result = match unmet_needs(check, &results) {
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
    }
}
