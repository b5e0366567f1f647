//! What the runner probes: anything with an HTTP address that can be restarted.
//! The grader implements it with Docker; tests implement it with in-process servers.

use std::future::Future;
use std::time::{Duration, SystemTime};

use grader_report::{Cause, Fault, SubmissionOutput};

/// A failure of a lifecycle operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The submission did not come back (exited, never became ready): its fault.
    #[error("{0}")]
    Submission(String),
    /// The grader or Docker failed.
    #[error("{0}")]
    Infrastructure(String),
}

impl TargetError {
    pub fn fault(&self) -> Fault {
        match self {
            TargetError::Submission(_) => Fault::Submission,
            TargetError::Infrastructure(_) => Fault::Grader,
        }
    }
}

/// How the submission stopped after a SIGTERM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    /// From the SIGTERM until it had exited (or was killed).
    pub after: Duration,
    /// It did not exit within the grace period and was killed (SIGKILL).
    pub killed: bool,
}

/// A running submission.
pub trait Target: Sync {
    /// Where to send HTTP probes now, e.g. `http://127.0.0.1:49153` (may change after a
    /// restart).
    fn base_url(&self) -> String;
    /// The submission's database, as the grader reaches it (SQL steps).
    fn database_url(&self) -> Option<String>;
    /// The learner's database as the role `exec` steps write as: it may write the
    /// learner's tables and nothing outside its database, and is no superuser (a
    /// trigger of the learner's runs with its rights). By default the admin's URL.
    fn database_writer_url(&self) -> Option<String> {
        self.database_admin_url()
    }
    /// The submission's Redis, as the grader reaches it (`redis` steps).
    fn redis_url(&self) -> Option<String> {
        None
    }
    /// The upstream mock the submission calls (`upstream` and `upstream_calls` steps).
    fn upstream(&self) -> Option<&crate::probe::Mock> {
        None
    }
    /// Stops the submission gracefully (SIGTERM; SIGKILL once `grace` has passed), then
    /// starts it again (without waiting until it is ready): how it stopped.
    fn restart(&self, grace: Duration)
    -> impl Future<Output = Result<Stopped, TargetError>> + Send;
    /// Kills the submission (SIGKILL), then starts it again.
    fn crash(&self) -> impl Future<Output = Result<(), TargetError>> + Send;
    /// Waits until the health endpoint answers 2xx.
    fn wait_ready(&self) -> impl Future<Output = Result<(), TargetError>> + Send;
    /// For a check that did not pass: what the submission printed since `since`, and
    /// the known causes its output and state show. A target without a log of its own
    /// (an in-process server) has nothing to say.
    fn diagnose(&self, since: SystemTime) -> impl Future<Output = Diagnosis> + Send {
        let _ = since;
        async { Diagnosis::default() }
    }
    /// Makes the submission's database unavailable to it, as a database that shuts
    /// down: its sessions are ended and new ones refused, until `database_start`.
    /// The grader's own SQL steps still reach it.
    fn database_stop(&self) -> impl Future<Output = Result<(), TargetError>> + Send {
        async {
            Err(TargetError::Infrastructure(
                "this target cannot stop its database".into(),
            ))
        }
    }
    /// Makes the submission's database accept its connections again.
    fn database_start(&self) -> impl Future<Output = Result<(), TargetError>> + Send {
        async {
            Err(TargetError::Infrastructure(
                "this target cannot start its database".into(),
            ))
        }
    }
    /// Whether the grader controls the submission's process and its services: false for
    /// a server that was already running when the grader attached to it (`--url`), whose
    /// restart, crash and database steps cannot be done (those checks are skipped).
    fn controls_process(&self) -> bool {
        true
    }
    /// Starts the submission again if it is not running (after a check that disturbed
    /// it), so that a later check is not failed for an earlier one.
    fn revive(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
    /// What the submission has used so far: CPU time and resident memory (its cgroup's,
    /// for the grader). None: this target cannot tell, and no `cpu` or `memory_growth`
    /// figure is measured.
    fn usage(&self) -> impl Future<Output = Option<Usage>> + Send {
        async { None }
    }
    /// The PostgreSQL role the submission connects as: whose statements count.
    fn database_role(&self) -> Option<String> {
        None
    }
    /// A URL to the submission's database as a role that reads all statistics and may
    /// write the submission's tables (work counters and `exec` steps use it).
    fn database_admin_url(&self) -> Option<String> {
        None
    }
}

/// The submission's resource use so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// CPU time used since it started (user and system), in nanoseconds.
    pub cpu_ns: u64,
    /// Resident memory now (RSS; anonymous memory on cgroup v2), in bytes.
    pub memory_bytes: u64,
}

/// What a target can tell about a failure: the submission's own output over the
/// check, and the causes it shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnosis {
    pub output: Option<SubmissionOutput>,
    pub causes: Vec<Cause>,
}
