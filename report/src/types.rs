//! The types of one grading run's report. Readers ignore fields they do not know, and
//! every field added after schema version 1 carries `#[serde(default)]`, so an older
//! `grader report` or `merge` reads a newer report instead of rejecting it.

use serde::{Deserialize, Serialize};

/// Bumped on any change that could break a reader of the JSON report.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Passed,
    /// The submission did not behave as the check requires.
    Failed,
    /// Not run: the reason is in the failure message.
    Skipped,
    /// The grader or Docker failed while running the check: not the submission's fault.
    Error,
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub id: String,
    pub title: String,
    pub category: String,
    pub status: CheckStatus,
    /// A hidden check counts in the score, but its details are not shown to learners.
    pub hidden: bool,
    /// Points this check is worth (after the category's weight).
    pub points: f64,
    /// Points earned: all, none, or a share for a partial-credit check.
    pub earned: f64,
    pub duration_ms: u64,
    /// Where the check is defined (`file:line`).
    pub location: String,
    pub failure: Option<Failure>,
    /// The figures of the check's load step, if it has one.
    pub load: Option<LoadReport>,
    /// What the submission printed while a failed check ran: its own log lines, capped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<SubmissionOutput>,
    /// Known causes of the failure, named in plain words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<crate::Cause>,
    /// How the server stopped at each graceful restart of the check (added in 1.x).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shutdowns: Vec<Shutdown>,
}

/// The submission's own log lines over a span of time (a failed check's), as it
/// printed them, capped in lines and bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionOutput {
    /// The lines kept (the last ones), joined with `\n`.
    pub text: String,
    /// Lines printed in the span but not kept (the first ones), over the cap.
    pub omitted: usize,
}

/// How the server stopped after a SIGTERM (a `restart` step).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Shutdown {
    /// The step's number in its check, from 1.
    pub step: usize,
    /// From the SIGTERM until the server had exited (or was killed).
    pub exit_ms: u64,
    /// The grace period it had before it would be killed.
    pub grace_ms: u64,
    /// It had not exited within the grace period: it was killed (SIGKILL).
    pub killed: bool,
}

/// Latency figures in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

/// Requests whose latency was at most `le_ms` (and more than the previous bucket's).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub le_ms: f64,
    pub count: u64,
}

/// One stage of a load profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageReport {
    pub name: String,
    pub target_rate: Option<f64>,
    pub achieved_rate: f64,
    pub requests: u64,
    pub errors: u64,
    pub latency_ms: Latency,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    pub expr: String,
    /// The stage it judges, or none for the whole run.
    pub stage: Option<String>,
    pub passed: bool,
    pub actual: String,
    pub points: f64,
}

/// What a load step measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// `open` (a schedule of arrivals) or `closed` (connections as fast as they can).
    pub model: String,
    pub connections: u32,
    pub warmup_s: f64,
    pub duration_s: f64,
    /// Requests per second the schedule asked for (open model).
    pub target_rate: Option<f64>,
    /// Requests per second that completed.
    pub achieved_rate: f64,
    pub requests: u64,
    pub ok: u64,
    /// Failed requests by kind: 4xx, 5xx, timeout, refused, reset, other.
    pub errors: std::collections::BTreeMap<String, u64>,
    /// From the scheduled send time (open model: stalls are not hidden).
    pub latency_ms: Latency,
    /// From the actual send time (open model only), for comparison.
    pub uncorrected_ms: Option<Latency>,
    pub histogram: Vec<Bucket>,
    pub stages: Vec<StageReport>,
    pub thresholds: Vec<ThresholdResult>,
    /// Why the run stopped early, if it did.
    pub aborted: Option<String>,
}

/// Why a check did not pass, told so that a learner knows what to change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The 1-based number of the step that failed (0: not a step's fault).
    pub step: usize,
    /// Where the step is defined (`file:line`).
    pub location: String,
    /// One line: what went wrong.
    pub message: String,
    pub expected: Option<String>,
    pub actual: Option<String>,
    /// The request as a curl command the learner can paste.
    pub request: Option<String>,
    /// The start of the response (status line, headers, body), capped.
    pub response: Option<String>,
    /// The exercise author's advice for this step.
    pub hint: Option<String>,
    /// A unified diff, expected against actual, for JSON bodies.
    pub diff: Option<String>,
}

impl Failure {
    /// What a learner may see of a hidden check's failure.
    pub fn hidden() -> Failure {
        Failure::message("a hidden check failed (its details are not shown)")
    }

    pub fn message(message: impl Into<String>) -> Failure {
        Failure {
            step: 0,
            location: String::new(),
            message: message.into(),
            expected: None,
            actual: None,
            request: None,
            response: None,
            hint: None,
            diff: None,
        }
    }
}

/// How the run as a whole ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// The checks ran; the score says how well.
    Graded,
    /// The submission's image could not be built.
    BuildFailed,
    /// The submission did not start or never answered its health check.
    StartFailed,
    /// The grader or Docker failed.
    Error,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExerciseInfo {
    pub name: String,
    pub title: String,
    pub version: String,
}

/// Milliseconds spent in each phase (absent: the phase did not run).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phases {
    pub build_ms: Option<u64>,
    pub start_ms: Option<u64>,
    pub checks_ms: Option<u64>,
    pub teardown_ms: Option<u64>,
}

/// The whole report of one grading run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub grader_version: String,
    pub run_id: String,
    pub exercise: ExerciseInfo,
    /// The submission folder (or git URL) as given on the command line.
    pub submission: String,
    /// The git commit graded, when the submission is (in) a git repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Random data is drawn from this seed: `--seed` replays the run exactly.
    pub seed: u64,
    /// RFC 3339.
    pub started_at: String,
    pub status: RunStatus,
    /// For a run that was not graded: why, in one line.
    pub reason: Option<String>,
    pub score: f64,
    pub max_score: f64,
    /// Percentage needed to pass.
    pub pass_mark: f64,
    pub passed: bool,
    pub phases: Phases,
    pub checks: Vec<CheckResult>,
    /// The end of the build log when the build failed.
    pub build_log_tail: Option<String>,
    /// The end of the submission's output.
    pub log_tail: Option<String>,
    /// What the submission used at its peak, sampled about once a second.
    pub resources: Option<Resources>,
    /// How the submission's container ended, if it was not running at the end (exit
    /// code, out-of-memory kill).
    pub submission_exit: Option<String>,
    /// Known causes of a run that did not build or start, named in plain words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<crate::Cause>,
}

/// The submission's peak resource use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    pub peak_memory_bytes: u64,
    pub memory_limit_bytes: u64,
    /// 100 = one full core.
    pub peak_cpu_percent: f64,
    pub cpu_limit: f64,
}

impl Report {
    /// Score as a percentage of the maximum (100 when there is nothing to score).
    pub fn percent(&self) -> f64 {
        if self.max_score <= 0.0 {
            100.0
        } else {
            self.score * 100.0 / self.max_score
        }
    }
}
