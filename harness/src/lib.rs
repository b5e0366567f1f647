//! The probe engine of `grader`: exercise specs (parse), checks run against a `Target`
//! (run), and the result types every report renders (report). Nothing here knows
//! about Docker, so it runs against any URL and is tested with in-process servers.
//!
//! - `exercise`: the exercise spec (raw TOML, the model, validation, errors).
//! - `run`: running checks (steps, documents, services, the load step, scoring, seeds).
//! - `probe`: HTTP, SQL and Redis probes and the upstream mock.
//! - `loadgen`: the load generator (open and closed models, thresholds).

pub mod exercise;
pub mod loadgen;
pub mod probe;
mod run;
pub mod target;
pub mod template;

pub use exercise::{Exercise, load_exercise};
pub use grader_report::{CheckResult, CheckStatus, Failure, Report, Resources, RunStatus};
pub use run::seed::stable_hash;
pub use run::{
    Event, NOT_SELECTED, RunConfig, cannot_check, not_run, run_checks, score, selection,
};
pub use target::{Diagnosis, Stopped, Target, TargetError, Usage};
