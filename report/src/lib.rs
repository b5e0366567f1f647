//! `grader-report`: the JSON contract of `grader`'s reports (`report.json`). A program
//! that reads reports depends on this crate alone (serde and serde_json), not on the
//! probe engine or Docker.
//!
//! The contract evolves additively: readers ignore unknown fields, added fields carry
//! `#[serde(default)]`, and `SCHEMA_VERSION` is bumped only for a change that could break
//! a reader.

mod cause;
pub mod exit;
mod types;

pub use cause::{Cause, CauseKind};
pub use exit::Fault;
pub use types::*;

/// Reads a report from its JSON text.
pub fn from_json(text: &str) -> serde_json::Result<Report> {
    serde_json::from_str(text)
}

/// The report as pretty-printed JSON with a final newline, as `report.json` holds it.
pub fn to_json(report: &Report) -> String {
    // Serializing these plain types cannot fail: no maps with non-string keys, no
    // custom serializers.
    serde_json::to_string_pretty(report).unwrap_or_default() + "\n"
}
