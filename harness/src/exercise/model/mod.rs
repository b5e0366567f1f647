//! The validated exercise: what the runner executes. Built by `validate` from the TOML.

use std::path::PathBuf;
use std::time::Duration;

use crate::template::Template;

mod expect;

pub use super::media_type::MediaType;
pub use expect::{
    Capture, CaptureSource, Expect, HeaderAssert, JsonAssert, JsonType, Num, Predicate, Query,
    Schema, SortOrder, StatusExpect, TValue, WorkAssert, WorkBound, WorkOp, show_num,
};

/// An exercise, loaded and validated.
#[derive(Debug, Clone)]
pub struct Exercise {
    pub name: String,
    pub title: String,
    pub version: String,
    pub description: String,
    /// The folder the spec lives in.
    pub dir: PathBuf,
    /// The spec file, as given (for error messages and reports).
    pub spec_path: PathBuf,
    /// The learner README, if the spec names one.
    pub readme: Option<PathBuf>,
    pub submission: SubmissionContract,
    pub postgres: Option<PostgresService>,
    /// A Redis server beside the submission (`REDIS_URL`).
    pub redis: Option<RedisService>,
    /// A mock HTTP API hosted by the grader (`UPSTREAM_URL`).
    pub upstream: Option<UpstreamService>,
    /// Percentage of the maximum score needed to pass.
    pub pass_mark: f64,
    pub checks: Vec<Check>,
}

impl Exercise {
    pub fn max_points(&self) -> f64 {
        self.checks.iter().map(|c| c.points).sum()
    }
}

/// What the submission must do to be graded: listen on `port`, answer `health`.
#[derive(Debug, Clone)]
pub struct SubmissionContract {
    pub port: u16,
    pub health: String,
    pub startup_timeout: Duration,
    /// Extra environment, rendered with the run's values (see `ENV_VARIABLES`).
    pub env: Vec<(String, Template)>,
    pub limits: Limits,
}

/// Names an `env` template may use.
pub const ENV_VARIABLES: &[&str] = &[
    "database_url",
    "db_host",
    "db_port",
    "db_user",
    "db_password",
    "db_name",
    "port",
    "redis_url",
    "upstream_url",
];

/// Resource limits of the submission's container.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub memory_bytes: i64,
    pub cpus: f64,
    pub pids: i64,
    /// Size of the writable /tmp tmpfs.
    pub tmp_bytes: i64,
    /// The root filesystem is read-only (only /tmp is writable).
    pub read_only: bool,
    /// Open files per process.
    pub nofile: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 512 * 1024 * 1024,
            cpus: 1.0,
            pids: 256,
            tmp_bytes: 64 * 1024 * 1024,
            read_only: true,
            nofile: 4096,
        }
    }
}

/// A PostgreSQL database for the submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresService {
    pub database: String,
    pub user: String,
}

/// A Redis server for the submission (no settings yet).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedisService {}

/// The routes of the upstream mock the grader hosts.
#[derive(Debug, Clone, Default)]
pub struct UpstreamService {
    pub routes: Vec<MockRoute>,
}

/// One route of the upstream mock.
#[derive(Debug, Clone)]
pub struct MockRoute {
    pub method: http::Method,
    /// The path as written, e.g. `/quotes/{symbol}`.
    pub path: String,
    pub segments: Vec<Segment>,
    pub status: u16,
    pub delay: Duration,
    pub body: MockBody,
}

/// A path segment of a mock route: literal, or `{name}` (any one segment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    Param(String),
}

/// What a mock route answers; templates may use the path's `{name}` segments and
/// `calls` (this path's requests so far, this one included).
#[derive(Debug, Clone)]
pub enum MockBody {
    Json(TValue),
    Text(Template),
    Empty,
}

/// The upstream mock's behaviour, switched by `upstream` steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpstreamMode {
    /// Answer per the routes.
    #[default]
    Ok,
    /// Answer 503 to everything.
    Fail,
    /// Wait this long (on top of the route's delay) before answering.
    Slow(Duration),
}

/// One scored check: a sequence of steps that must all pass.
#[derive(Debug, Clone)]
pub struct Check {
    pub id: String,
    pub title: String,
    pub category: String,
    /// Points, after the category's weight.
    pub points: f64,
    pub timeout: Duration,
    /// Counts in the score, but learners do not see its details.
    pub hidden: bool,
    /// Ids of earlier checks that must pass for this one to run.
    pub needs: Vec<String>,
    /// Each step earns an equal share of the points, and every step runs.
    pub partial: bool,
    /// A cookie jar: the cookies responses set go with the check's later requests.
    pub cookies: bool,
    pub vars: Vec<(String, TValue)>,
    pub steps: Vec<Step>,
    /// `file:line` of the check in the spec.
    pub location: String,
}

#[derive(Debug, Clone)]
pub struct Step {
    /// `file:line` of the step in the spec.
    pub location: String,
    /// Shown to the learner when the step fails in a way the hint is about.
    pub hint: Option<Hint>,
    /// Sent again until it passes (a judged step).
    pub retry: Option<Retry>,
    pub kind: StepKind,
}

/// `retry`: a judged step is tried again until it passes, every `every`, for at most
/// `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub limit: Duration,
    pub every: Duration,
}

impl Retry {
    /// How often a `retry = "20s"` tries again.
    pub const EVERY: Duration = Duration::from_millis(500);
}

/// `send = { bytes = 1, every = "100ms" }` on a `tcp` step: a slow client writes
/// `bytes` at a time with a pause of `every` between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    pub bytes: usize,
    pub every: Duration,
}

impl Pace {
    /// How long sending `len` bytes takes: a pause between each two chunks.
    pub fn duration(&self, len: usize) -> Duration {
        let chunks = len.div_ceil(self.bytes.max(1));
        let pauses = u32::try_from(chunks.saturating_sub(1)).unwrap_or(u32::MAX);
        self.every.saturating_mul(pauses)
    }

    /// "1 byte every 100ms", "4 bytes every 1.5s".
    pub fn describe(&self) -> String {
        let unit = if self.bytes == 1 { "byte" } else { "bytes" };
        format!("{} {unit} every {}", self.bytes, spell(self.every))
    }
}

/// A duration as a spec writes it: "100ms" under a second, else "3s", "3.9s".
pub(crate) fn spell(d: Duration) -> String {
    if d < Duration::from_secs(1) && d.subsec_nanos().is_multiple_of(1_000_000) {
        return format!("{}ms", d.as_millis());
    }
    let s = (d.as_secs_f64() * 1000.0).round() / 1000.0;
    format!("{s}s")
}

/// The kind of a step's failure. A hint is shown only for the kinds it is about, so that
/// advice about one cause is not printed under the evidence of another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The status (or the tally of statuses) was another one.
    Status,
    /// Something expected is not there: a JSON value, a header, a capture.
    Missing,
    /// A value is there, of the expected type, but not the expected one (this includes
    /// counts, rows, load thresholds and response times).
    Value,
    /// A value is of another JSON type (`"100"` where 100 was expected), or the body is
    /// not JSON at all.
    Type,
    /// No answer: the connection was refused, reset or closed, or the request timed out.
    NoAnswer,
    /// Anything else: a query the database refused, a server that did not come back
    /// after a restart.
    Other,
}

impl Cause {
    /// Every kind, as a hint table names them.
    pub const NAMES: &'static [&'static str] =
        &["status", "missing", "value", "type", "no_answer", "other"];

    pub fn parse(name: &str) -> Option<Cause> {
        Some(match name {
            "status" => Cause::Status,
            "missing" => Cause::Missing,
            "value" => Cause::Value,
            "type" => Cause::Type,
            "no_answer" => Cause::NoAnswer,
            "other" => Cause::Other,
            _ => return None,
        })
    }
}

/// A step's advice: one text, shown for the failures of what the step states (a status,
/// something missing, a wrong value, a `type` it asserts, another failure of the
/// submission), never for a type mismatch found while comparing values or a request
/// without an answer; or one text per kind of failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hint {
    Plain(String),
    ByCause(Vec<(Cause, String)>),
}

impl Hint {
    /// The text to show for a failure of this kind (`stated`: a type mismatch the step
    /// itself asserts), if the hint is about it.
    pub fn for_failure(&self, cause: Cause, stated: bool) -> Option<&str> {
        match self {
            Hint::Plain(text) => match cause {
                Cause::Status | Cause::Missing | Cause::Value | Cause::Other => Some(text.as_str()),
                Cause::Type => stated.then_some(text.as_str()),
                Cause::NoAnswer => None,
            },
            Hint::ByCause(texts) => texts
                .iter()
                .find(|(c, _)| *c == cause)
                .map(|(_, t)| t.as_str()),
        }
    }
}

/// What a `db` step does to the submission's database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseAction {
    /// Its sessions are ended and new ones refused.
    Stop,
    /// It accepts connections again.
    Start,
    /// Stop, then start once `down` has passed.
    Restart { down: Duration },
}

/// How long a server has to exit after SIGTERM, unless the step says otherwise.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub enum StepKind {
    Http(Box<HttpStep>),
    Sql(Box<SqlStep>),
    /// Statements that write the learner's database as a grader role, then `ANALYZE`.
    Exec(Box<ExecStep>),
    /// Graceful stop (SIGTERM, SIGKILL after `grace`), start, wait until ready (unless
    /// `ready` is false).
    Restart {
        grace: Duration,
        ready: bool,
    },
    /// SIGKILL, start, wait until ready (unless `ready` is false).
    Crash {
        ready: bool,
    },
    /// Stops or starts the submission's database.
    Database(DatabaseAction),
    /// Poll the health endpoint until it answers 2xx.
    WaitReady,
    /// A pause (at most a minute).
    Sleep(Duration),
    /// A Redis command whose reply is judged as JSON.
    Redis(Box<RedisStep>),
    /// Raw bytes over TCP; the answer is judged as JSON (`status`, `headers`, `body`,
    /// `closed`, `timed_out`).
    Tcp(Box<TcpStep>),
    /// Switches the upstream mock's behaviour.
    Upstream(UpstreamMode),
    /// The upstream mock's count of requests for a path, judged as `{"path", "count"}`.
    UpstreamCalls(Box<UpstreamCallsStep>),
    /// A computed value, judged as a JSON document.
    Value(Box<ValueStep>),
    Load(Box<LoadStep>),
    /// `copies` clients at once, each sending `steps` in order with its own captures.
    Sequence {
        copies: u32,
        steps: Vec<HttpStep>,
    },
}

/// A load: how to send, what to send (a weighted mix), and the thresholds to meet.
#[derive(Debug, Clone)]
pub struct LoadStep {
    pub options: crate::loadgen::LoadOptions,
    pub mix: Vec<(u32, HttpStep)>,
}

impl StepKind {
    pub fn name(&self) -> &'static str {
        match self {
            StepKind::Http(_) => "http",
            StepKind::Sql(_) => "sql",
            StepKind::Exec(_) => "exec",
            StepKind::Restart { .. } => "restart",
            StepKind::Crash { .. } => "crash",
            StepKind::Database(_) => "db",
            StepKind::WaitReady => "wait_ready",
            StepKind::Sleep(_) => "sleep",
            StepKind::Redis(_) => "redis",
            StepKind::Tcp(_) => "tcp",
            StepKind::Upstream(_) => "upstream",
            StepKind::UpstreamCalls(_) => "upstream_calls",
            StepKind::Value(_) => "value",
            StepKind::Load(_) => "load",
            StepKind::Sequence { .. } => "sequence",
        }
    }
}

#[derive(Debug, Clone)]
pub struct HttpStep {
    pub method: http::Method,
    pub path: Template,
    pub query: Vec<(String, Template)>,
    pub headers: Vec<(String, Template)>,
    pub body: Option<Body>,
    pub timeout: Duration,
    /// How many copies to send at once (1: a plain request).
    pub concurrent: u32,
    /// Repeat the step for each element of this list variable, bound to `item`.
    pub for_each: Option<String>,
    pub expect: Expect,
    pub captures: Vec<Capture>,
    /// `pages`: follow the next page until there is none, judging each page.
    pub pages: Option<Pages>,
    /// `sse`: read the body as server-sent events; what is judged is their list.
    pub sse: Option<Sse>,
}

/// `sse = { events = 3, within = "5s" }`: read events until this many have come, the
/// stream ends, or `within` has passed.
#[derive(Debug, Clone, Copy)]
pub struct Sse {
    pub events: u32,
    pub within: Duration,
}

/// `pages = { next = "$.next", max = 50 }`: the step's request, then each next page
/// in turn; every page is judged, and each capture collects over the pages.
#[derive(Debug, Clone)]
pub struct Pages {
    pub next: PageNext,
    /// More pages than this fail the step (a `next` that never ends).
    pub max: u32,
}

#[derive(Debug, Clone)]
pub enum PageNext {
    /// The next page's URL (absolute, or relative to the page's) at this JSONPath;
    /// missing, null or empty: the last page.
    JsonPath(Query),
    /// The `Link` header's `rel="next"` (RFC 8288).
    Link,
}

#[derive(Debug, Clone)]
pub enum Body {
    Json(TValue),
    Form(Vec<(String, Template)>),
    Raw(Template),
    /// `body_base64`: these bytes, as they are.
    Bytes(bytes::Bytes),
    /// `multipart`: `multipart/form-data` (RFC 7578), the parts in spec order.
    Multipart(Vec<Part>),
}

/// One part of a `multipart` body.
#[derive(Debug, Clone)]
pub struct Part {
    pub name: String,
    /// A file part's file name (`Content-Disposition: form-data; filename=...`).
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: PartData,
}

#[derive(Debug, Clone)]
pub enum PartData {
    Text(Template),
    Bytes(bytes::Bytes),
}

#[derive(Debug, Clone)]
pub struct SqlStep {
    pub query: String,
    pub params: Vec<TValue>,
    pub timeout: Duration,
    pub expect: Expect,
    pub captures: Vec<Capture>,
}

/// Bulk data written as the grader (`exec`): any statements, or one with `params`.
#[derive(Debug, Clone)]
pub struct ExecStep {
    pub sql: String,
    pub params: Vec<TValue>,
    pub timeout: Duration,
    /// `expect.affected`, as a JSONPath assertion on `{"affected": N}`.
    pub expect: Expect,
}

#[derive(Debug, Clone)]
pub struct TcpStep {
    /// What to send (a template; TOML's escapes give `\r\n`).
    pub data: Template,
    /// `send = { bytes, every }`: a slow client (default: all at once).
    pub pace: Option<Pace>,
    pub timeout: Duration,
    pub expect: Expect,
    pub captures: Vec<Capture>,
}

#[derive(Debug, Clone)]
pub struct RedisStep {
    /// The command's words (templates).
    pub command: Vec<Template>,
    pub timeout: Duration,
    pub expect: Expect,
    pub captures: Vec<Capture>,
}

#[derive(Debug, Clone)]
pub struct ValueStep {
    pub value: Template,
    /// The template as the spec wrote it, for a failure's `request`.
    pub shown: String,
    pub expect: Expect,
    pub captures: Vec<Capture>,
}

#[derive(Debug, Clone)]
pub struct UpstreamCallsStep {
    pub path: Template,
    pub expect: Expect,
    pub captures: Vec<Capture>,
}
