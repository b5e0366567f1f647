//! `report.json`: the contract itself, as `grader-report` writes it.

use grader_report::Report;

pub(crate) fn render(report: &Report) -> String {
    grader_report::to_json(report)
}
