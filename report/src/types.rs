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
    /// The work the server did in each counted step (load steps, and `http` steps with
    /// `expect.work`), with the counts each figure came from (added in 1.x).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub work: Vec<WorkReport>,
}

/// The work the server did during one step, counted on the server's side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkReport {
    /// The step's number in its check, from 1.
    pub step: usize,
    /// The requests the step sent: what per-request figures are divided by.
    pub requests: u64,
    pub figures: Vec<WorkFigure>,
    /// Figures that could not be measured, each with why (e.g. a statement evicted
    /// from pg_stat_statements): never shown as a wrong figure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// The statements the submission ran most often during the step, as
    /// pg_stat_statements normalizes them (the submission's own text: untrusted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top_statements: Vec<StatementCount>,
}

/// One work figure: `statements`, `pages_read`, `rows_read`, `transactions`, `connections_opened`,
/// `redis_commands`, `upstream_calls`, `cpu` or `memory_growth`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkFigure {
    pub name: String,
    /// Per request when `per_request`, else for the whole step. `cpu` is in
    /// milliseconds, `memory_growth` in bytes, the others are counts.
    pub value: f64,
    pub per_request: bool,
    /// The raw delta the value came from (`cpu`: nanoseconds; `memory_growth`: bytes,
    /// negative when memory shrank).
    pub count: i64,
    /// Where the count was read, e.g. "pg_stat_statements calls of role app_1 in
    /// database app_1".
    pub source: String,
}

/// A normalized statement and how often it ran during a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementCount {
    pub query: String,
    pub calls: u64,
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
    /// Failed requests by kind, as in the load's `errors` (added in 1.x).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub errors_by_kind: std::collections::BTreeMap<String, u64>,
    /// From the stage's start until latency was back near the first stage's level and
    /// stayed there: measured for the stages a `recovery` threshold names; absent
    /// there when it never came back (added in 1.x).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    pub expr: String,
    /// The stage it judges, or none for the whole run.
    pub stage: Option<String>,
    pub passed: bool,
    pub actual: String,
    pub points: f64,
    /// What happened, in words, when the figure alone does not say (added in 1.x).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
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
    /// The run window by window, for the performance profile (added in 1.x).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Timeline>,
}

/// A load run cut into equal windows (at most a few hundred, whatever the run's
/// length): what was asked, what came back, and how fast.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// The length of each window.
    pub window_ms: u64,
    /// The schedule's parts in time order, warm-up included, for shading.
    pub stages: Vec<TimelineStage>,
    pub windows: Vec<Window>,
}

/// Where a stage lies on the timeline (milliseconds from the first request due).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineStage {
    pub name: String,
    pub start_ms: u64,
    pub end_ms: u64,
}

/// One window of a load run. Requests are placed by when they were due (latency and
/// errors too, so a slow window is the one whose requests were slow); `answered` by
/// when they completed, so it is the achieved rate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// From the first request due.
    pub start_ms: u64,
    /// Requests due (open model) or sent (closed) in the window.
    pub due: u64,
    /// Requests that completed in the window, answered or failed.
    pub answered: u64,
    /// Of the requests due in the window, those that failed.
    pub errors: u64,
    /// Of the requests due in the window (none: no request was due).
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub max_ms: Option<f64>,
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
    /// `sha256:` and 64 hex digits over the exercise's graded files (its references and
    /// variants aside): reports with the same digest were graded by the same exercise.
    /// Empty in reports of graders that did not write it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
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
    /// The reference solution's work figures, by check id and figure name (from the
    /// exercise's `baseline.json`), shown beside the submission's (added in 1.x).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub reference_work: std::collections::BTreeMap<String, std::collections::BTreeMap<String, f64>>,
    /// Points of checks that could not be run against this target (an attached server:
    /// restart, crash and database steps, services not given): skipped, earning nothing.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unchecked_points: f64,
    /// Where the submission ran when it was not Docker: `process` (the process runtime,
    /// no sandbox, Dockerfile instructions other than CMD not run). Absent: Docker, or an
    /// attached server (`unchecked_points` says so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
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
