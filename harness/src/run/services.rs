//! Steps on the submission's services and lifecycle: SQL queries, bulk writes, Redis commands, the
//! upstream mock's mode and counts, and restarts, crashes and readiness waits.

use std::time::Duration;

use grader_report::{Failure, Fault, Shutdown};
use serde_json::Value;

use super::check::{Runner, StepFail};
use super::document::judge_document;
use crate::exercise::{
    DatabaseAction, ExecStep, RedisStep, SqlStep, UpstreamCallsStep, UpstreamMode,
};
use crate::probe::{Blame, RedisProbe, SqlProbe, WriteError};
use crate::target::{Target, TargetError};
use crate::template::Context;

/// What a lifecycle step does to the submission before it waits for it to be ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lifecycle {
    Restart { grace: Duration },
    Crash,
    WaitReady,
}

/// `5s`, `2.5s`: a duration as a spec writes it.
fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}s")
    } else {
        format!("{s}s")
    }
}

/// The failure of a server that had to be killed after SIGTERM.
fn killed_reason(grace: Duration) -> String {
    format!(
        "did not exit within {} of SIGTERM: it was killed; handle SIGTERM: stop accepting, finish in-flight requests, exit",
        secs(grace)
    )
}

/// A failure that is not the submission's, with what was asked when there was a
/// request.
fn not_submissions(fault: Fault, message: String, request: Option<&str>) -> StepFail {
    StepFail::with_fault(
        fault,
        Failure {
            request: request.map(str::to_string),
            ..Failure::message(message)
        },
    )
}

/// A failed `exec` step, blamed on whoever's doing it is: the exercise's SQL, the
/// learner's schema (said so), or the grader.
fn write_failure(e: &WriteError, what: &str, shown: &str) -> StepFail {
    let message = match e.blame() {
        Blame::Schema if e.is_unique_violation() => format!(
            "{what}: {e}; the grader adds rows with the ids your table's default gives them: does your code pick ids itself (MAX(id) + 1, a counter) so that the table's sequence lags behind the rows? let the database pick ids"
        ),
        Blame::Schema => format!(
            "{what}: {e}; the grader writes this data into the tables the exercise's contract describes: your schema differs from it (or your locks held the write up)"
        ),
        Blame::Exercise => format!("{what}: {e} (the exercise's SQL is wrong)"),
        Blame::Grader => format!("{what}: {e}"),
    };
    let mut f = not_submissions(e.fault(), message, Some(shown));
    f.cause = crate::exercise::Cause::Other;
    f
}

/// A step that needs a service the exercise does not declare.
fn no_service(message: &str, request: Option<&str>) -> StepFail {
    not_submissions(Fault::Exercise, message.into(), request)
}

impl<T: Target> Runner<'_, T> {
    /// Restarts, crashes or waits for the submission; a graceful restart's shutdown is
    /// recorded in `shutdowns` (as step `step`), and one that had to be killed fails.
    pub(super) async fn lifecycle(
        &self,
        what: Lifecycle,
        ready: bool,
        step: usize,
        shutdowns: &mut Vec<Shutdown>,
    ) -> Result<(), StepFail> {
        let fail = |e: TargetError| {
            let message = match what {
                Lifecycle::Restart { .. } => {
                    format!("after a graceful restart (SIGTERM, then start): {e}")
                }
                Lifecycle::Crash => format!("after a crash (SIGKILL, then start): {e}"),
                Lifecycle::WaitReady => e.to_string(),
            };
            StepFail::with_fault(e.fault(), Failure::message(message))
        };
        let mut killed = None;
        match what {
            Lifecycle::Restart { grace } => {
                let stopped = self.target.restart(grace).await.map_err(fail)?;
                shutdowns.push(Shutdown {
                    step,
                    exit_ms: stopped.after.as_millis() as u64,
                    grace_ms: grace.as_millis() as u64,
                    killed: stopped.killed,
                });
                killed = stopped.killed.then_some(grace);
            }
            Lifecycle::Crash => self.target.crash().await.map_err(fail)?,
            Lifecycle::WaitReady => {}
        }
        if ready {
            self.target.wait_ready().await.map_err(fail)?;
        }
        match killed {
            Some(grace) => Err(StepFail::new(killed_reason(grace))),
            None => Ok(()),
        }
    }

    /// Stops or starts the submission's database; `down` remembers whether it is down,
    /// so that the check's end can bring it back.
    pub(super) async fn database(
        &self,
        action: DatabaseAction,
        down: &mut bool,
    ) -> Result<(), StepFail> {
        let fail = |e: TargetError| {
            StepFail::with_fault(
                e.fault(),
                Failure::message(format!("the database step failed: {e}")),
            )
        };
        match action {
            DatabaseAction::Stop => {
                *down = true;
                self.target.database_stop().await.map_err(fail)
            }
            DatabaseAction::Start => {
                self.target.database_start().await.map_err(fail)?;
                *down = false;
                Ok(())
            }
            DatabaseAction::Restart { down: pause } => {
                *down = true;
                self.target.database_stop().await.map_err(fail)?;
                tokio::time::sleep(pause).await;
                self.target.database_start().await.map_err(fail)?;
                *down = false;
                Ok(())
            }
        }
    }

    pub(super) async fn sql(&mut self, step: &SqlStep, ctx: &mut Context) -> Result<(), StepFail> {
        let mut params = Vec::with_capacity(step.params.len());
        for p in &step.params {
            params.push(p.render(ctx)?);
        }
        let shown = if params.is_empty() {
            step.query.clone()
        } else {
            format!(
                "{}  -- params: {}",
                step.query,
                Value::Array(params.clone())
            )
        };
        let probe = match &mut self.sql {
            Some(probe) => probe,
            slot => {
                let url = self.target.database_url().ok_or_else(|| {
                    no_service("this exercise has no database service for SQL steps", None)
                })?;
                let probe = SqlProbe::connect_lazy(&url)
                    .map_err(|e| not_submissions(e.fault(), e.to_string(), None))?;
                slot.insert(probe)
            }
        };
        let rows = probe
            .rows(&step.query, &params, step.timeout)
            .await
            .map_err(|e| {
                StepFail::with_fault(
                    e.fault(),
                    Failure {
                        request: Some(shown.clone()),
                        ..Failure::message(format!("the query failed: {e}"))
                    },
                )
            })?;
        judge_document(&step.expect, &step.captures, &rows, &shown, ctx)
    }

    /// Writes the learner's database as the grader's writer, then `ANALYZE`s it as
    /// the admin; judged by the rows the statements affected.
    pub(super) async fn exec(
        &mut self,
        step: &ExecStep,
        ctx: &mut Context,
    ) -> Result<(), StepFail> {
        let mut params = Vec::with_capacity(step.params.len());
        for p in &step.params {
            params.push(p.render(ctx)?);
        }
        let shown = if params.is_empty() {
            step.sql.clone()
        } else {
            format!("{}  -- params: {}", step.sql, Value::Array(params.clone()))
        };
        let none = || {
            no_service(
                "this exercise has no database service for `exec` steps",
                None,
            )
        };
        let writer = self.target.database_writer_url().ok_or_else(none)?;
        let admin = self.target.database_admin_url().ok_or_else(none)?;
        // A bulk write keeps the cores busy: it waits for, and holds up, every load.
        let gate = self.config.load_gate.as_ref();
        let held = super::gate::take(gate, crate::loadgen::LOAD_SLOTS, &self.paused).await;
        let affected = crate::probe::exec(&writer, &step.sql, &params, step.timeout)
            .await
            .map_err(|e| write_failure(&e, "the statements failed", &shown))?;
        crate::probe::analyze(&admin, step.timeout)
            .await
            .map_err(|e| write_failure(&e, "ANALYZE after the statements failed", &shown))?;
        drop(held);
        let doc = serde_json::json!({ "affected": affected });
        judge_document(&step.expect, &[], &doc, &shown, ctx)
    }

    pub(super) async fn redis(
        &mut self,
        step: &RedisStep,
        ctx: &mut Context,
    ) -> Result<(), StepFail> {
        let mut words = Vec::with_capacity(step.command.len());
        for w in &step.command {
            words.push(w.render_string(ctx)?);
        }
        let shown = format!("redis-cli {}", words.join(" "));
        let probe = match &mut self.redis {
            Some(probe) => probe,
            slot => {
                let url = self.target.redis_url().ok_or_else(|| {
                    no_service("this exercise has no Redis service", Some(&shown))
                })?;
                let probe = RedisProbe::connect(&url, step.timeout)
                    .await
                    .map_err(|e| not_submissions(e.fault(), e.to_string(), Some(&shown)))?;
                slot.insert(probe)
            }
        };
        let reply = match probe.command(&words, step.timeout).await {
            Ok(v) => v,
            Err(e) => {
                // A broken connection is reopened by the next step.
                self.redis = None;
                return Err(not_submissions(e.fault(), e.to_string(), Some(&shown)));
            }
        };
        judge_document(&step.expect, &step.captures, &reply, &shown, ctx)
    }

    fn mock(&self) -> Result<&crate::probe::Mock, StepFail> {
        self.target
            .upstream()
            .ok_or_else(|| no_service("this exercise has no upstream mock", None))
    }

    pub(super) fn upstream_mode(&self, mode: UpstreamMode) -> Result<(), StepFail> {
        self.mock()?.set_mode(mode);
        Ok(())
    }

    pub(super) async fn upstream_calls(
        &self,
        step: &UpstreamCallsStep,
        ctx: &mut Context,
    ) -> Result<(), StepFail> {
        let mock = self.mock()?;
        let path = step.path.render_string(ctx)?;
        let count = mock.calls(&path);
        let doc = serde_json::json!({ "path": path, "count": count });
        let shown = format!("requests the upstream received for {path}");
        judge_document(&step.expect, &step.captures, &doc, &shown, ctx)
    }
}
