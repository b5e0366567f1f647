//! Scoring: how the checks' earned points add up to a run's score.

use grader_report::{Report, RunStatus};

/// Sets `score`, `max_score` and `passed` from the checks (rounded to 0.01 so that sums
/// of shares do not print as 35.99999).
pub fn tally(report: &mut Report) {
    let round = |x: f64| (x * 100.0).round() / 100.0;
    report.score = round(report.checks.iter().map(|c| c.earned).sum());
    report.max_score = round(report.checks.iter().map(|c| c.points).sum());
    report.passed =
        report.status == RunStatus::Graded && report.percent() + 1e-9 >= report.pass_mark;
}
