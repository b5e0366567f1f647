//! The TOML shape of an exercise spec, as serde reads it. Validation turns it into
//! the model in `model/`; spans are kept so every error points at file:line:col.

use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSpec {
    pub exercise: RawExercise,
    /// Every key has a default, so the table may be left out.
    #[serde(default)]
    pub submission: RawSubmission,
    #[serde(default)]
    pub services: RawServices,
    #[serde(default)]
    pub scoring: RawScoring,
    #[serde(default)]
    pub setup: Vec<Spanned<RawSetup>>,
    #[serde(default)]
    pub checks: Vec<Spanned<RawCheck>>,
}

/// Steps that checks name in their `setup`, run first in each of them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSetup {
    pub id: Spanned<String>,
    #[serde(default)]
    pub vars: IndexMap<String, Spanned<toml::Value>>,
    #[serde(default)]
    pub steps: Vec<Spanned<RawStep>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExercise {
    pub name: Spanned<String>,
    pub title: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub readme: Option<Spanned<String>>,
    /// More files of `[[checks]]` (e.g. a hidden.toml not handed out), relative paths.
    #[serde(default)]
    pub include: Vec<Spanned<String>>,
}

/// An included file: checks only.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInclude {
    #[serde(default)]
    pub setup: Vec<Spanned<RawSetup>>,
    #[serde(default)]
    pub checks: Vec<Spanned<RawCheck>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSubmission {
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub health: Option<Spanned<String>>,
    #[serde(default)]
    pub startup_timeout: Option<Spanned<String>>,
    #[serde(default)]
    pub env: IndexMap<String, Spanned<String>>,
    #[serde(default)]
    pub limits: RawLimits,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    #[serde(default)]
    pub memory: Option<Spanned<String>>,
    #[serde(default)]
    pub cpus: Option<Spanned<f64>>,
    #[serde(default)]
    pub pids: Option<Spanned<i64>>,
    /// Size of the writable /tmp (a tmpfs).
    #[serde(default)]
    pub tmp: Option<Spanned<String>>,
    /// false: the root filesystem is writable (default: read-only, only /tmp writes).
    #[serde(default)]
    pub read_only: Option<bool>,
    /// Open files per process.
    #[serde(default)]
    pub nofile: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServices {
    #[serde(default)]
    pub postgres: Option<RawPostgres>,
    #[serde(default)]
    pub redis: Option<Spanned<RawRedis>>,
    #[serde(default)]
    pub upstream: Option<Spanned<RawUpstream>>,
}

/// A Redis server beside the submission (no keys: its presence is the setting).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRedis {}

/// A mock HTTP API that the grader hosts and the submission calls.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUpstream {
    #[serde(default)]
    pub routes: Vec<Spanned<RawRoute>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoute {
    #[serde(default)]
    pub method: Option<Spanned<String>>,
    pub path: Spanned<String>,
    #[serde(default)]
    pub status: Option<Spanned<i64>>,
    #[serde(default)]
    pub delay: Option<Spanned<String>>,
    #[serde(default)]
    pub json: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub body: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPostgres {
    #[serde(default)]
    pub database: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScoring {
    /// Percentage of the maximum score needed to pass (0-100).
    #[serde(default)]
    pub pass_mark: Option<Spanned<f64>>,
    /// Multiplies the points of every check in a category.
    #[serde(default)]
    pub weights: IndexMap<String, Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCheck {
    pub id: Spanned<String>,
    pub title: String,
    pub category: Spanned<String>,
    pub points: Spanned<i64>,
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
    #[serde(default)]
    pub visibility: Option<Spanned<String>>,
    #[serde(default)]
    pub needs: Vec<Spanned<String>>,
    #[serde(default)]
    pub partial: bool,
    /// Keep the cookies responses set and send them with the check's later requests.
    #[serde(default)]
    pub cookies: bool,
    /// `[[setup]]` ids whose steps run first, in this order.
    #[serde(default)]
    pub setup: Vec<Spanned<String>>,
    #[serde(default)]
    pub vars: IndexMap<String, Spanned<toml::Value>>,
    #[serde(default)]
    pub steps: Vec<Spanned<RawStep>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStep {
    #[serde(default)]
    pub http: Option<Spanned<String>>,
    #[serde(default)]
    pub sql: Option<Spanned<String>>,
    /// Statements that write the learner's database as a grader role (bulk data).
    #[serde(default)]
    pub exec: Option<Spanned<String>>,
    #[serde(default)]
    pub action: Option<Spanned<String>>,
    /// Makes this a pause: `sleep = "2s"` (e.g. to let a token or a cache entry expire).
    #[serde(default)]
    pub sleep: Option<Spanned<String>>,
    /// A Redis command on the exercise's Redis: `redis = "GET key:{{ id }}"`.
    #[serde(default)]
    pub redis: Option<Spanned<String>>,
    /// Raw bytes to the server over TCP: `tcp = "GET / HTTP/1.1\r\n\r\n"`.
    #[serde(default)]
    pub tcp: Option<Spanned<String>>,
    /// How a `tcp` step sends, as a slow client: `{ bytes = 1, every = "100ms" }`; read
    /// by `Validator::pace` so that every other shape is an error that lists the form.
    #[serde(default)]
    pub send: Option<Spanned<toml::Value>>,
    /// Switches the upstream mock: `"ok"`, `"fail"` or `"slow"` (with `delay`).
    #[serde(default)]
    pub upstream: Option<Spanned<String>>,
    /// How many requests the upstream mock received for a path.
    #[serde(default)]
    pub upstream_calls: Option<Spanned<String>>,
    /// A computed value judged as a JSON document: `value = "{{ date(b) - date(a) }}"`.
    #[serde(default)]
    pub value: Option<Spanned<String>>,
    /// The extra delay of `upstream = "slow"`.
    #[serde(default)]
    pub delay: Option<Spanned<String>>,
    /// Shown to the learner when the step fails: a string, or a table of strings by
    /// kind of failure (read by `Validator::hint`).
    #[serde(default)]
    pub hint: Option<Spanned<toml::Value>>,
    /// Stops or starts the submission's database: `"stop"`, `"start"`, `"restart"`.
    #[serde(default)]
    pub db: Option<Spanned<String>>,
    /// How long `db = "restart"` keeps the database down.
    #[serde(default)]
    pub down: Option<Spanned<String>>,
    /// How long a `restart` action gives the server to exit after SIGTERM.
    #[serde(default)]
    pub grace: Option<Spanned<String>>,
    /// `false`: a `restart` or `crash` action starts the server and goes on at once.
    #[serde(default)]
    pub ready: Option<Spanned<bool>>,
    /// A judged step is tried again until it passes, for at most this long.
    #[serde(default)]
    pub retry: Option<Spanned<toml::Value>>,
    /// Makes this a load step.
    #[serde(default)]
    pub load: Option<Spanned<RawLoad>>,
    /// Requests each concurrent copy sends in order (with `concurrent`).
    #[serde(default)]
    pub sequence: Vec<Spanned<RawStep>>,
    /// A request's share in a load step's `mix`.
    #[serde(default)]
    pub weight: Option<Spanned<i64>>,
    #[serde(default)]
    pub query: IndexMap<String, Spanned<String>>,
    #[serde(default)]
    pub headers: IndexMap<String, Spanned<String>>,
    #[serde(default)]
    pub json: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub body: Option<Spanned<String>>,
    #[serde(default)]
    pub form: IndexMap<String, Spanned<String>>,
    /// Read the body as server-sent events: `{ events = 3, within = "5s" }`.
    #[serde(default)]
    pub sse: Option<Spanned<toml::Value>>,
    /// Follow the next page: `{ next = "$.next" }` or `{ next = "link" }`, `max`.
    #[serde(default)]
    pub pages: Option<Spanned<toml::Value>>,
    /// A binary body, in base64 (RFC 4648, standard alphabet, padding optional).
    #[serde(default)]
    pub body_base64: Option<Spanned<String>>,
    /// A `multipart/form-data` body: a part per key, text or a file.
    #[serde(default)]
    pub multipart: IndexMap<String, Spanned<toml::Value>>,
    #[serde(default)]
    pub params: Vec<Spanned<toml::Value>>,
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
    #[serde(default)]
    pub concurrent: Option<Spanned<i64>>,
    #[serde(default)]
    pub for_each: Option<Spanned<String>>,
    #[serde(default)]
    pub expect: Option<RawExpect>,
    #[serde(default)]
    /// A JSONPath string or `{ header = "Name" }`, read by `Validator::captures_into`
    /// so that every other shape is an error that lists these two.
    pub capture: IndexMap<String, Spanned<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLoad {
    #[serde(default)]
    pub model: Option<Spanned<String>>,
    #[serde(default)]
    pub rate: Option<Spanned<f64>>,
    #[serde(default)]
    pub connections: Option<Spanned<i64>>,
    #[serde(default)]
    pub duration: Option<Spanned<String>>,
    #[serde(default)]
    pub warmup: Option<Spanned<String>>,
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
    #[serde(default)]
    pub stages: Vec<Spanned<RawStage>>,
    #[serde(default)]
    pub mix: Vec<Spanned<RawStep>>,
    #[serde(default)]
    /// `"expr"` or `{ expr, points, stage }`, read by `Validator::thresholds` so that a
    /// misspelt key is an error rather than dropped.
    pub thresholds: Vec<Spanned<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStage {
    #[serde(default)]
    pub name: Option<String>,
    pub duration: Spanned<String>,
    /// Hold this rate for the stage.
    #[serde(default)]
    pub rate: Option<f64>,
    /// Ramp linearly from the previous rate to this one.
    #[serde(default)]
    pub target: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpect {
    #[serde(default)]
    pub status: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub headers: IndexMap<String, Spanned<toml::Value>>,
    #[serde(default)]
    pub jsonpath: IndexMap<String, Spanned<toml::Value>>,
    #[serde(default)]
    pub rows: Option<Spanned<i64>>,
    #[serde(default)]
    pub distinct: Option<Spanned<String>>,
    /// How many of a concurrent step's responses have each status: `{ "201" = 1 }`.
    #[serde(default)]
    pub statuses: IndexMap<String, Spanned<toml::Value>>,
    /// The whole JSON body, exactly.
    #[serde(default)]
    pub json: Option<Spanned<toml::Value>>,
    /// The JSON body contains at least these keys and values.
    #[serde(default)]
    pub json_subset: Option<Spanned<toml::Value>>,
    /// A JSON Schema the body must satisfy: a table, or a path relative to the spec.
    #[serde(default)]
    pub json_schema: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub body_contains: Option<Spanned<String>>,
    #[serde(default)]
    pub body_matches: Option<Spanned<String>>,
    /// The response must arrive within this duration.
    #[serde(default)]
    pub max_time: Option<Spanned<String>>,
    /// The rows an `exec` step's statements affected (a number or numeric predicates).
    #[serde(default)]
    pub affected: Option<Spanned<toml::Value>>,
    /// Bounds on the work the server did for the step: `{ statements = { le = 3 } }`.
    #[serde(default)]
    pub work: IndexMap<String, Spanned<toml::Value>>,
}

impl RawExpect {
    /// The keys this expectation sets, each with the span of its value, in the order
    /// they are declared in the struct (for errors about keys a step cannot judge).
    pub(crate) fn keys(&self) -> Vec<(String, std::ops::Range<usize>)> {
        fn one<T>(name: &str, v: &Option<Spanned<T>>) -> Option<(String, std::ops::Range<usize>)> {
            v.as_ref().map(|v| (name.to_string(), v.span()))
        }
        fn map<T>(
            name: &str,
            m: &IndexMap<String, Spanned<T>>,
        ) -> impl Iterator<Item = (String, std::ops::Range<usize>)> {
            m.iter().map(move |(k, v)| {
                let bare = k
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                let key = if bare { k.clone() } else { format!("{k:?}") };
                (format!("{name}.{key}"), v.span())
            })
        }
        let mut keys: Vec<_> = one("status", &self.status).into_iter().collect();
        keys.extend(map("headers", &self.headers));
        keys.extend(map("jsonpath", &self.jsonpath));
        keys.extend(one("rows", &self.rows));
        keys.extend(one("distinct", &self.distinct));
        keys.extend(map("statuses", &self.statuses));
        keys.extend(one("json", &self.json));
        keys.extend(one("json_subset", &self.json_subset));
        keys.extend(one("json_schema", &self.json_schema));
        keys.extend(one("body_contains", &self.body_contains));
        keys.extend(one("body_matches", &self.body_matches));
        keys.extend(one("max_time", &self.max_time));
        keys.extend(one("affected", &self.affected));
        keys.extend(map("work", &self.work));
        keys
    }
}
