//! The probe engine of `grader`: exercise specs (parse), checks run against a `Target`
//! (run), and the result types every report renders (report). Nothing here knows
//! about Docker, so it runs against any URL and is tested with in-process servers.

mod assert;
pub mod exercise;
pub mod http;
pub mod kv;
pub mod load;
mod runner;
pub mod score;
pub mod sql;
pub mod target;
pub mod template;
pub mod upstream;

#[doc(hidden)]
pub use exercise as spec; // ALIAS: removed at merge
pub use exercise::{Exercise, load_exercise};
pub use grader_report::{CheckResult, CheckStatus, Failure, Report, Resources, RunStatus};
pub use runner::{Event, RunConfig, not_run, run_checks};
pub use target::{Target, TargetError};
