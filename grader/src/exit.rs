//! The exit codes of `grader`, documented in README.md. One place, so that scripts and
//! CI can tell a low score from a broken submission from a broken grader.

/// Graded, and the score reached the pass mark.
pub const PASSED: u8 = 0;
/// Graded, and the score is below the pass mark.
pub const BELOW_PASS_MARK: u8 = 1;
/// The submission could not be built or started.
pub const SUBMISSION_BROKEN: u8 = 2;
/// The exercise spec or the command line is wrong.
pub const BAD_INPUT: u8 = 3;
/// The grader or Docker failed (or the run was interrupted).
pub const GRADER_FAILED: u8 = 4;

pub fn for_report(report: &harness::Report) -> u8 {
    use harness::RunStatus;
    match report.status {
        RunStatus::Graded if report.passed => PASSED,
        RunStatus::Graded => BELOW_PASS_MARK,
        RunStatus::BuildFailed | RunStatus::StartFailed => SUBMISSION_BROKEN,
        RunStatus::Error => GRADER_FAILED,
    }
}
