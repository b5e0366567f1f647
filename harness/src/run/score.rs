//! Scoring, in one place: what a check earns (all, a share of its steps, or the share
//! of its load thresholds' points), category weights, and how the checks add up to a
//! run's score and its pass mark.

use grader_report::{CheckStatus, Report, RunStatus, ThresholdResult};

/// How a check's steps ended, as far as its score is concerned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct StepsOutcome {
    pub status: CheckStatus,
    /// Steps that passed.
    pub passed: usize,
    /// Steps in all (at least 1).
    pub total: usize,
    /// The share earned by a failed step that gives credit of its own (load thresholds).
    pub credit: Option<f64>,
}

/// The points a check earns: all when it passed; when it failed, its step's own credit
/// if it has one, else (partial credit) an equal share per passing step; otherwise none.
pub(crate) fn earned(points: f64, partial: bool, o: &StepsOutcome) -> f64 {
    match (o.status, o.credit) {
        (CheckStatus::Passed, _) => points,
        (CheckStatus::Failed, Some(credit)) => points * credit,
        (CheckStatus::Failed, None) if partial => points * o.passed as f64 / o.total as f64,
        _ => 0.0,
    }
}

/// The share of a load step's points that its passing thresholds carry; none when no
/// threshold carries points.
pub(crate) fn threshold_credit(thresholds: &[ThresholdResult]) -> Option<f64> {
    let all: f64 = thresholds.iter().map(|t| t.points).sum();
    let passed: f64 = thresholds
        .iter()
        .filter(|t| t.passed)
        .map(|t| t.points)
        .sum();
    (all > 0.0).then(|| passed / all)
}

/// A check's points once its category's weight applies.
pub fn weighted(points: f64, weight: f64) -> f64 {
    points * weight
}

/// Rounded to 0.01, so that sums of shares do not print as 35.99999.
fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Whether a run passes: graded, and its percentage reaches the pass mark (with a
/// little slack for floating-point sums).
pub fn reaches_pass_mark(status: RunStatus, percent: f64, pass_mark: f64) -> bool {
    status == RunStatus::Graded && percent + 1e-9 >= pass_mark
}

/// Sets `score`, `max_score` and `passed` from the checks.
pub fn tally(report: &mut Report) {
    report.score = round(report.checks.iter().map(|c| c.earned).sum());
    report.max_score = round(report.checks.iter().map(|c| c.points).sum());
    report.passed = reaches_pass_mark(report.status, report.percent(), report.pass_mark);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(status: CheckStatus, passed: usize, credit: Option<f64>) -> StepsOutcome {
        StepsOutcome {
            status,
            passed,
            total: 4,
            credit,
        }
    }

    #[test]
    fn a_check_earns_all_a_share_or_nothing() {
        let cases = [
            (false, CheckStatus::Passed, 4, 8.0),
            (false, CheckStatus::Failed, 3, 0.0),
            (true, CheckStatus::Failed, 3, 6.0),
            (true, CheckStatus::Error, 3, 0.0),
            (true, CheckStatus::Skipped, 0, 0.0),
        ];
        for (partial, status, passed, want) in cases {
            let got = earned(8.0, partial, &outcome(status, passed, None));
            assert_eq!(got, want, "{status:?}, partial {partial}");
        }
    }

    #[test]
    fn threshold_credit_beats_step_shares() {
        assert_eq!(
            earned(8.0, true, &outcome(CheckStatus::Failed, 3, Some(0.25))),
            2.0
        );
        assert_eq!(
            earned(8.0, false, &outcome(CheckStatus::Failed, 3, Some(0.5))),
            4.0
        );
    }

    fn threshold(points: f64, passed: bool) -> ThresholdResult {
        ThresholdResult {
            expr: "p95 < 1s".into(),
            stage: None,
            passed,
            actual: "1ms".into(),
            points,
            note: None,
        }
    }

    #[test]
    fn credit_is_the_share_of_points_that_passed() {
        assert_eq!(threshold_credit(&[]), None);
        assert_eq!(threshold_credit(&[threshold(0.0, false)]), None);
        let ts = [threshold(1.0, true), threshold(3.0, false)];
        assert_eq!(threshold_credit(&ts), Some(0.25));
    }

    #[test]
    fn the_pass_mark_allows_for_rounding_and_needs_a_graded_run() {
        assert!(reaches_pass_mark(RunStatus::Graded, 60.0, 60.0));
        assert!(reaches_pass_mark(RunStatus::Graded, 60.0 - 1e-12, 60.0));
        assert!(!reaches_pass_mark(RunStatus::Graded, 59.99, 60.0));
        assert!(!reaches_pass_mark(RunStatus::Error, 100.0, 60.0));
        assert_eq!(round(35.999_999), 36.0);
        assert_eq!(round(0.1 + 0.2), 0.3);
    }

    #[test]
    fn weights_multiply() {
        assert_eq!(weighted(2.0, 1.5), 3.0);
    }
}
