//! The probe engine of `grader`: exercise specs (parse), checks run against a `Target`
//! (run), and the result types every report renders (report). Nothing here knows
//! about Docker, so it runs against any URL and is tested with in-process servers.
//!
//! - `spec`: the exercise spec (types, parser, validation).
//! - `run`: running checks (steps, documents, services, the load step, scoring, seeds).
//! - `probe`: HTTP, SQL and Redis probes and the upstream mock.
//! - `loadgen`: the load generator (open and closed models, thresholds).

pub mod loadgen;
pub mod probe;
mod run;
pub mod spec;
pub mod target;
pub mod template;

pub use grader_report::{CheckResult, CheckStatus, Failure, Report, Resources, RunStatus};
pub use run::seed::stable_hash;
pub use run::{Event, RunConfig, not_run, run_checks, score};
pub use spec::{Exercise, load_exercise};
pub use target::{Target, TargetError};

// ALIAS: removed at merge
#[doc(hidden)]
pub use loadgen as load;
// ALIAS: removed at merge
#[doc(hidden)]
pub use probe as http;
// ALIAS: removed at merge
#[doc(hidden)]
pub use probe as sql;
// ALIAS: removed at merge
#[doc(hidden)]
pub use probe as kv;
// ALIAS: removed at merge
#[doc(hidden)]
pub use probe as upstream;
