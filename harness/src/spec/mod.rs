//! Exercise specs: the TOML format, its validation, and the model the runner executes.

mod error;
mod load;
mod model;
mod raw;

pub use error::SpecError;
pub(crate) use error::did_you_mean;
pub use load::{SPEC_FILE, SpecErrors, load_exercise, parse_bytes, parse_duration, parse_exercise};
pub use model::*;
