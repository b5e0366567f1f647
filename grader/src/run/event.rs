//! What a run tells its listeners, from the first image check to the class summary. The
//! orchestration emits these and never prints; the terminal, the batch progress and the
//! quiet reporter decide what a person sees.

use std::path::Path;
use std::time::Duration;

use grader_report::Report;

/// One thing that happened in a grading run or a class.
#[derive(Debug)]
pub(crate) enum RunEvent<'a> {
    /// A single grading run begins (before Docker is reached).
    RunStarted {
        submission: &'a Path,
        exercise: &'a str,
        run_id: &'a str,
        seed: u64,
    },
    /// A faulty variant's patch is applied to its reference solution.
    VariantApplying { patch: &'a Path },
    /// A git submission is being cloned.
    FetchStarted { source: &'a str },
    /// The clone is at the commit that will be graded.
    FetchFinished { commit: &'a str },
    /// A line from making sure the images exist (a pull, a build).
    Images { line: &'a str },
    /// The submission's image build begins.
    BuildStarted { dir: &'a Path, log: &'a Path },
    /// The build ended, built or not.
    #[expect(
        dead_code,
        reason = "no reporter shows it yet; the report has the duration"
    )]
    BuildFinished { took: Duration, built: bool },
    /// A line from starting the sandbox's services (databases, relays, mocks).
    SandboxStarting { line: &'a str },
    /// The submission's container is being started.
    AppStarting,
    /// The submission answers its health check.
    SandboxReady { took: Duration, checks: usize },
    /// A check started or finished (a hidden check's failure already redacted).
    Check(harness::Event<'a>),
    /// Removing everything the run created begins.
    TeardownStarted,
    #[expect(
        dead_code,
        reason = "no reporter shows it yet; the report has the duration"
    )]
    TeardownFinished { took: Duration },
    /// The run is over and its reports are written.
    RunFinished {
        report: &'a Report,
        report_path: &'a Path,
    },
    /// A class begins: `learners` to grade, `jobs` at a time.
    BatchStarted {
        learners: usize,
        jobs: usize,
        out: &'a Path,
    },
    /// `--resume` found learners already graded.
    BatchResumed { done: usize, todo: usize },
    /// The class's shared PostgreSQL is being started.
    ClassDatabaseStarting { run_id: &'a str },
    /// A learner's run takes a slot.
    #[expect(
        dead_code,
        reason = "the class's lines are per finished learner, for now"
    )]
    LearnerStarted { name: &'a str },
    /// A learner's report is in; `done` learners of `total` are graded.
    LearnerFinished {
        done: usize,
        total: usize,
        name: &'a str,
        report: &'a Report,
        took: Duration,
    },
    /// The class is graded: its gradebook and summary are in `out`.
    BatchFinished { out: &'a Path },
    /// A shard's folder given to `merge` does not exist; the others are merged.
    ShardMissing { dir: &'a Path },
}

/// Listens to a run's events. Reporters may print; the orchestration never does.
pub(crate) trait Reporter: Send + Sync {
    fn report(&self, event: &RunEvent<'_>);
}

/// Hears everything and says nothing: runs that go on side by side in a class.
pub(crate) struct Quiet;

impl Reporter for Quiet {
    fn report(&self, _: &RunEvent<'_>) {}
}
