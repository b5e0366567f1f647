//! Ending a run early: Ctrl-C, SIGTERM or the run's own time limit cancel the same
//! token; the run then says which it was, as a type rather than a sentence.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use harness::RunStatus;
use tokio_util::sync::CancellationToken;

/// Why a run was cancelled before it finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CancelReason {
    /// Ctrl-C or SIGTERM.
    Interrupted,
    /// The run's own time limit.
    TimeLimit(Duration),
}

impl std::fmt::Display for CancelReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CancelReason::Interrupted => f.write_str("interrupted (Ctrl-C or SIGTERM)"),
            CancelReason::TimeLimit(limit) => write!(
                f,
                "the grader's time limit of {}s was reached",
                limit.as_secs()
            ),
        }
    }
}

/// Why the run stopped before grading; becomes the report's status and reason.
pub(super) enum Stop {
    /// The token was cancelled; why is known once the run is over.
    Cancelled,
    Ended {
        status: RunStatus,
        reason: String,
    },
}

impl Stop {
    pub(super) fn error(e: impl std::fmt::Display) -> Stop {
        Stop::Ended {
            status: RunStatus::Error,
            reason: e.to_string(),
        }
    }

    /// The report's status and reason; `checking` when the checks had begun.
    pub(super) fn settle(self, cancelled: CancelReason, checking: bool) -> (RunStatus, String) {
        match self {
            Stop::Ended { status, reason } => (status, reason),
            // Out of time while checking: what finished is graded, the rest did not run.
            Stop::Cancelled => match cancelled {
                CancelReason::TimeLimit(_) if checking => {
                    (RunStatus::Graded, cancelled.to_string())
                }
                _ => (RunStatus::Error, cancelled.to_string()),
            },
        }
    }
}

/// The run's time limit: it cancels the run as Ctrl-C does, and remembers that it did.
pub(super) struct Deadline {
    limit: Option<Duration>,
    hit: Arc<AtomicBool>,
    timer: Option<tokio::task::JoinHandle<()>>,
}

impl Deadline {
    pub(super) fn start(limit: Option<Duration>, cancel: &CancellationToken) -> Deadline {
        let hit = Arc::new(AtomicBool::new(false));
        let timer = limit.map(|limit| {
            let (cancel, hit) = (cancel.clone(), hit.clone());
            tokio::spawn(async move {
                tokio::time::sleep(limit).await;
                hit.store(true, Ordering::SeqCst);
                cancel.cancel();
            })
        });
        Deadline { limit, hit, timer }
    }

    /// Stops the clock; why the run was cancelled, if it was.
    pub(super) fn stop(self) -> CancelReason {
        if let Some(t) = self.timer {
            t.abort();
        }
        match self.limit {
            Some(limit) if self.hit.load(Ordering::SeqCst) => CancelReason::TimeLimit(limit),
            _ => CancelReason::Interrupted,
        }
    }
}

/// `work`, unless the token is cancelled first.
pub(super) async fn cancellable<T>(
    cancel: &CancellationToken,
    work: impl std::future::Future<Output = T>,
) -> Result<T, Stop> {
    tokio::select! {
        r = work => Ok(r),
        () = cancel.cancelled() => Err(Stop::Cancelled),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancelled_run_says_why() {
        let limit = CancelReason::TimeLimit(Duration::from_secs(90));
        assert_eq!(
            limit.to_string(),
            "the grader's time limit of 90s was reached"
        );
        assert_eq!(
            CancelReason::Interrupted.to_string(),
            "interrupted (Ctrl-C or SIGTERM)"
        );
        // Out of time while checking: what finished is graded.
        assert_eq!(
            Stop::Cancelled.settle(limit, true),
            (RunStatus::Graded, limit.to_string())
        );
        assert_eq!(Stop::Cancelled.settle(limit, false).0, RunStatus::Error);
        assert_eq!(
            Stop::Cancelled.settle(CancelReason::Interrupted, true).0,
            RunStatus::Error
        );
        let built = Stop::Ended {
            status: RunStatus::BuildFailed,
            reason: "no Dockerfile".into(),
        };
        assert_eq!(
            built.settle(CancelReason::Interrupted, false),
            (RunStatus::BuildFailed, "no Dockerfile".to_string())
        );
    }

    #[tokio::test]
    async fn the_deadline_cancels_and_remembers_it() {
        let cancel = CancellationToken::new();
        let deadline = Deadline::start(Some(Duration::from_millis(10)), &cancel);
        cancel.cancelled().await;
        assert_eq!(
            deadline.stop(),
            CancelReason::TimeLimit(Duration::from_millis(10))
        );
        let cancel = CancellationToken::new();
        let deadline = Deadline::start(Some(Duration::from_secs(60)), &cancel);
        cancel.cancel();
        assert_eq!(deadline.stop(), CancelReason::Interrupted);
    }
}
