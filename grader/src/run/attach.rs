//! Grading a server that is already running (`grader grade EXERCISE --url URL`): the
//! learner's development loop, with a debugger attached or hot reload on. Nothing is
//! built or started; the checks that need control of the process (restart, crash, the
//! database going away) or a service the grader was not given are skipped with the
//! reason, and the report says how many points could not be checked.

use std::time::{Duration, Instant};

use harness::probe::{Prober, wait_ready};
use harness::{Report, RunConfig, RunStatus, Stopped, Target, TargetError};

use super::event::{Reporter, RunEvent};
use super::grade::{GradeOptions, finish, skeleton};
use crate::report::hidden;

/// Where the running server and its services are.
#[derive(Debug, Clone)]
pub(crate) struct Attach {
    /// The server's base URL, `http://127.0.0.1:8080`.
    pub(crate) url: String,
    /// Its database, as the grader reaches it (`sql` steps).
    pub(crate) database_url: Option<String>,
    /// Its Redis (`redis` steps).
    pub(crate) redis_url: Option<String>,
}

/// Why a `--url` is not one the grader can probe.
pub(crate) fn check_url(url: &str) -> Result<String, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("--url {url}: {e}"))?;
    if parsed.scheme() != "http" {
        return Err(format!(
            "--url {url}: the grader probes plain HTTP (http://HOST:PORT), not {}",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none() {
        return Err(format!("--url {url}: no host"));
    }
    if parsed.path() != "/" || parsed.query().is_some() {
        return Err(format!(
            "--url {url}: give the server's base URL (http://HOST:PORT), without a path: \
             the checks add their own"
        ));
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// A server the grader only sends requests to.
struct Attached {
    attach: Attach,
    health: String,
    startup: Duration,
    prober: Prober,
}

impl Target for Attached {
    fn base_url(&self) -> String {
        self.attach.url.clone()
    }

    fn database_url(&self) -> Option<String> {
        self.attach.database_url.clone()
    }

    fn redis_url(&self) -> Option<String> {
        self.attach.redis_url.clone()
    }

    /// The URL given is the server's own: its role is whose statements count, and it
    /// writes the tables `exec` steps fill (the grader has no other role there).
    fn database_admin_url(&self) -> Option<String> {
        self.attach.database_url.clone()
    }

    fn database_role(&self) -> Option<String> {
        let url = url::Url::parse(self.attach.database_url.as_deref()?).ok()?;
        (!url.username().is_empty()).then(|| url.username().to_string())
    }

    fn controls_process(&self) -> bool {
        false
    }

    async fn restart(&self, _grace: Duration) -> Result<Stopped, TargetError> {
        Err(TargetError::Infrastructure(
            "an attached server cannot be restarted by the grader".into(),
        ))
    }

    async fn crash(&self) -> Result<(), TargetError> {
        Err(TargetError::Infrastructure(
            "an attached server cannot be crashed by the grader".into(),
        ))
    }

    async fn wait_ready(&self) -> Result<(), TargetError> {
        wait_ready(
            &self.prober,
            || self.attach.url.clone(),
            &self.health,
            self.startup,
        )
        .await
        .map(|_| ())
        .map_err(|e| {
            TargetError::Submission(format!(
                "{} did not answer GET {} with 2xx within {}s ({e}): is the server running?",
                self.attach.url,
                self.health,
                self.startup.as_secs()
            ))
        })
    }
}

/// Grades the running server at `attach.url`: the report is as for a grade, with the
/// checks it cannot run skipped and their points counted in `unchecked_points`.
pub(crate) async fn grade_attached(
    opts: &GradeOptions,
    attach: &Attach,
    reporter: &dyn Reporter,
) -> Report {
    let ex = &opts.exercise;
    let mut report = skeleton(opts);
    report.submission = attach.url.clone();
    let target = Attached {
        attach: attach.clone(),
        health: ex.submission.health.clone(),
        startup: ex.submission.startup_timeout.min(Duration::from_secs(10)),
        prober: Prober::new(),
    };
    let started = Instant::now();
    let mut results = Vec::new();
    match target.wait_ready().await {
        Err(e) => {
            report.status = RunStatus::StartFailed;
            report.reason = Some(e.to_string());
        }
        Ok(()) => {
            report.phases.start_ms = Some(ms(started));
            reporter.report(&RunEvent::SandboxReady {
                took: started.elapsed(),
                checks: ex.checks.len(),
            });
            let config = RunConfig {
                seed: opts.seed,
                public_base_url: attach.url.clone(),
                load_gate: None,
                only: opts.only.clone(),
            };
            let checking = Instant::now();
            results = harness::run_checks(ex, &target, &config, |e| {
                reporter.report(&RunEvent::Check(e));
            })
            .await;
            report.phases.checks_ms = Some(ms(checking));
        }
    }
    report.unchecked_points = ex
        .checks
        .iter()
        .filter(|c| harness::cannot_check(c, &target).is_some())
        .map(|c| c.points)
        .sum();
    let mut report = finish(ex, report, results);
    report.reference_work = super::baseline::for_checks(&opts.reference, &report.checks);
    if !opts.show_hidden {
        hidden::redact_all(&mut report.checks);
    }
    report
}

/// Grades the running server and writes report.json and the other `formats`, saying
/// so to `reporter`, like `grade_alone` does for a built submission.
pub(crate) async fn attach_alone(
    opts: &GradeOptions,
    attach: &Attach,
    formats: &[crate::report::Format],
    reporter: &dyn Reporter,
) -> anyhow::Result<Report> {
    reporter.report(&RunEvent::RunStarted {
        submission: std::path::Path::new(&attach.url),
        exercise: &opts.exercise.name,
        run_id: &opts.run_id,
        seed: opts.seed,
    });
    let report = grade_attached(opts, attach, reporter).await;
    crate::report::write::write_reports(&report, &opts.out_dir, formats, true)?;
    reporter.report(&RunEvent::RunFinished {
        report: &report,
        report_path: &opts.out_dir.join("report.json"),
    });
    Ok(report)
}

fn ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plain_http_base_url_is_attached_to() {
        assert_eq!(
            check_url("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            check_url("http://localhost:3000").unwrap(),
            "http://localhost:3000"
        );
        assert!(
            check_url("https://127.0.0.1:8443")
                .unwrap_err()
                .contains("plain HTTP")
        );
        assert!(
            check_url("http://127.0.0.1:8080/todos")
                .unwrap_err()
                .contains("without a path")
        );
        assert!(check_url("127.0.0.1:8080").is_err());
    }
}
