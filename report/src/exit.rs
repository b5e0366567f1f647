//! Exit codes and whose fault a run's end was, in one place, so that scripts and CI can
//! tell a low score from a broken submission, a broken exercise and a broken grader.

use crate::{Report, RunStatus};

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

/// Whose fault something that went wrong is. Every error that ends a run, a check or a
/// step says which of these it is; the exit code follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The submission did something wrong (or could not be built or started).
    Submission,
    /// The exercise spec or the command line is wrong.
    Exercise,
    /// The grader, Docker or the machine failed: not the submission's fault.
    Grader,
}

impl Fault {
    /// The exit code of a run that ended for this reason before it could be graded.
    pub fn exit_code(self) -> u8 {
        match self {
            Fault::Submission => SUBMISSION_BROKEN,
            Fault::Exercise => BAD_INPUT,
            Fault::Grader => GRADER_FAILED,
        }
    }
}

/// The exit code of a finished run.
pub fn for_report(report: &Report) -> u8 {
    match report.status {
        RunStatus::Graded if report.passed => PASSED,
        RunStatus::Graded => BELOW_PASS_MARK,
        RunStatus::BuildFailed | RunStatus::StartFailed => Fault::Submission.exit_code(),
        RunStatus::Error => Fault::Grader.exit_code(),
    }
}
