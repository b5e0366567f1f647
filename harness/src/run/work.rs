//! Work counted around a step: a snapshot of every counter the exercise has before the
//! step and one after it, the difference divided by the requests the step sent, and
//! the bounds (`expect.work`, load thresholds) judged on it.

use std::time::Duration;

use grader_report::{Failure, Fault, LoadReport, StatementCount, WorkFigure, WorkReport};

use super::check::{Runner, StepFail};
use crate::exercise::{Cause, WorkAssert, WorkBound, WorkOp};
use crate::loadgen::{Metric, Op, PlannedThreshold};
use crate::probe::work::{Figure, PgCounters, PgSnapshot, RedisCounters, RedisSnapshot, explain};
use crate::target::{Target, Usage};

/// How long a snapshot waits, at most, for the database's other sessions to flush.
const SETTLE_LIMIT: Duration = Duration::from_secs(12);
/// Why the submission's own figures are missing when it stopped during the step: its
/// fault, not the grader's.
const STOPPED: &str = "the server was not running at the step's end (it exited or was killed \
     during the step: see its output)";
/// Statements shown as evidence.
const TOP: usize = 5;
/// A statement's text is cut after this many characters.
const QUERY_CHARS: usize = 300;

/// The counters' state before a step.
pub(super) struct Meter {
    pg: Option<PgMeter>,
    /// The step bounds a figure PostgreSQL flushes late (`rows_read`, `transactions`):
    /// both snapshots wait until the database's sessions have flushed theirs.
    lazy: bool,
    redis: Option<Result<(RedisCounters, RedisSnapshot), String>>,
    upstream: Option<u64>,
    usage: Option<Usage>,
}

struct PgMeter {
    role: String,
    database: String,
    start: Result<(PgCounters, PgSnapshot), String>,
}

/// The database a URL names (`postgres://u:p@host:port/NAME?...`).
fn database_of(url: &str) -> String {
    let path = url.rsplit('/').next().unwrap_or("");
    path.split('?').next().unwrap_or(path).to_string()
}

impl<T: Target> Runner<'_, T> {
    /// Snapshots of every counter the exercise has; when `lazy`, once the database's
    /// other sessions have flushed theirs (up to ~10 s).
    pub(super) async fn meter(&self, lazy: bool) -> Meter {
        let pg = match (
            self.target.database_admin_url(),
            self.target.database_role(),
        ) {
            (Some(url), Some(role)) => {
                let start = async {
                    let mut c = PgCounters::open(&url, &role).await?;
                    let snap = if lazy {
                        c.settle(SETTLE_LIMIT).await?.0
                    } else {
                        c.read().await?
                    };
                    Ok((c, snap))
                }
                .await
                .map_err(|e: crate::probe::work::WorkError| e.to_string());
                Some(PgMeter {
                    role,
                    database: database_of(&url),
                    start,
                })
            }
            _ => None,
        };
        let redis = match self.target.redis_url() {
            Some(url) => Some(
                async {
                    let mut c = RedisCounters::open(&url).await?;
                    let s = c.read().await?;
                    Ok((c, s))
                }
                .await
                .map_err(|e: crate::probe::work::WorkError| e.to_string()),
            ),
            None => None,
        };
        Meter {
            pg,
            lazy,
            redis,
            upstream: self.target.upstream().map(crate::probe::Mock::total_calls),
            usage: self.target.usage().await,
        }
    }

    /// The work of step `step`, which sent `requests`, from the snapshots in `meter`.
    pub(super) async fn count(&self, meter: Meter, step: usize, requests: u64) -> WorkReport {
        let mut w = Work {
            report: WorkReport {
                step,
                requests,
                figures: Vec::new(),
                errors: Vec::new(),
                top_statements: Vec::new(),
            },
        };
        // The submission's own figures first: they are read at the step's end, before
        // the wait for the database's counts.
        let usage = match meter.usage {
            Some(before) => {
                let after = self.target.usage().await;
                if after.is_none() {
                    w.report
                        .errors
                        .push(format!("cpu, memory_growth: {STOPPED}"));
                }
                after.map(|after| (before, after))
            }
            None => None,
        };
        if let (Some(before), Some(mock)) = (meter.upstream, self.target.upstream()) {
            let n = mock.total_calls().saturating_sub(before);
            w.add(
                Figure::UpstreamCalls,
                n as i64,
                "requests the upstream mock received".into(),
            );
        }
        if let Some(redis) = meter.redis {
            w.redis(redis).await;
        }
        if let Some(pg) = meter.pg {
            w.postgres(pg, meter.lazy).await;
        }
        if let Some((before, after)) = usage {
            w.add(
                Figure::Cpu,
                after.cpu_ns.saturating_sub(before.cpu_ns) as i64,
                "CPU time of the submission's cgroup (user and system)".into(),
            );
            w.add(
                Figure::MemoryGrowth,
                after.memory_bytes as i64 - before.memory_bytes as i64,
                format!(
                    "resident memory of the submission's cgroup: {} before the step, {} after",
                    Figure::MemoryGrowth.show(before.memory_bytes as f64),
                    Figure::MemoryGrowth.show(after.memory_bytes as f64)
                ),
            );
        }
        w.report
    }
}

/// A work report being filled.
struct Work {
    report: WorkReport,
}

impl Work {
    fn add(&mut self, f: Figure, count: i64, source: String) {
        let raw = match f {
            Figure::Cpu => count as f64 / 1e6,
            _ => count as f64,
        };
        let value = if f.per_request() && self.report.requests > 0 {
            raw / self.report.requests as f64
        } else {
            raw
        };
        self.report.figures.push(WorkFigure {
            name: f.name().into(),
            value: (value * 1e6).round() / 1e6,
            per_request: f.per_request(),
            count,
            source,
        });
    }

    async fn redis(&mut self, redis: Result<(RedisCounters, RedisSnapshot), String>) {
        let read = match redis {
            Ok((mut c, before)) => c.read().await.map(|after| (before, after)),
            Err(e) => {
                self.report.errors.push(format!("redis_commands: {e}"));
                return;
            }
        };
        match read {
            Ok((before, after)) => {
                let own = after.own - before.own;
                self.add(
                    Figure::RedisCommands,
                    after.commands_since(&before) as i64,
                    format!(
                        "INFO commandstats calls, the grader's own {own} INFO subtracted ({} connections received)",
                        after.connections_received - before.connections_received
                    ),
                );
            }
            Err(e) => self.report.errors.push(format!("redis_commands: {e}")),
        }
    }

    async fn postgres(&mut self, pg: PgMeter, lazy: bool) {
        const FIGURES: &str = "statements, pages_read, rows_read, transactions, connections_opened";
        let (mut c, before) = match pg.start {
            Ok(s) => s,
            Err(e) => {
                self.report.errors.push(format!("{FIGURES}: {e}"));
                return;
            }
        };
        let after = if lazy {
            c.settle(SETTLE_LIMIT).await
        } else {
            // Statements are counted as they end; a new session's count is flushed at its
            // first idle moment or its exit: a moment is enough.
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            c.read().await.map(|s| (s, true))
        };
        c.close().await;
        let (after, settled) = match after {
            Ok(a) => a,
            Err(e) => {
                self.report.errors.push(format!("{FIGURES}: {e}"));
                return;
            }
        };
        let d = after.since(&before);
        let (role, db) = (&pg.role, &pg.database);
        match &d.statements {
            Ok(n) => self.add(
                Figure::Statements,
                *n as i64,
                format!(
                    "pg_stat_statements calls of role {role} in database {db} (transaction control and session settings not counted)"
                ),
            ),
            Err(e) => self.report.errors.push(format!("statements: {e}")),
        }
        match &d.pages {
            Ok(n) => self.add(
                Figure::PagesRead,
                *n as i64,
                format!(
                    "pg_stat_statements shared_blks_hit + shared_blks_read of role {role} in database {db} (8 KiB table and index pages, in memory or from disk)"
                ),
            ),
            Err(e) => self.report.errors.push(format!("pages_read: {e}")),
        }
        let caveat = if settled {
            ""
        } else {
            " (the database's sessions never went quiet: counts may include work from around the step)"
        };
        if lazy {
            self.add(
                Figure::RowsRead,
                d.rows_read,
                format!(
                    "pg_stat_user_tables seq_tup_read + idx_tup_fetch in database {db}{caveat}"
                ),
            );
            self.add(
                Figure::Transactions,
                d.transactions,
                format!(
                    "pg_stat_database xact_commit + xact_rollback of database {db}, the grader's own {} subtracted{caveat}",
                    d.own_transactions
                ),
            );
        }
        self.add(
            Figure::ConnectionsOpened,
            d.sessions,
            format!("pg_stat_database sessions of database {db} (new sessions during the step)"),
        );
        self.report.top_statements = d
            .top
            .iter()
            .take(TOP)
            .map(|(q, calls)| StatementCount {
                query: q.chars().take(QUERY_CHARS).collect(),
                calls: *calls,
            })
            .collect();
    }
}

/// The figure named `f` in `work`, or why it is missing.
fn find(work: &WorkReport, f: Figure) -> Result<&WorkFigure, String> {
    if let Some(fig) = work.figures.iter().find(|x| x.name == f.name()) {
        return Ok(fig);
    }
    let why = work
        .errors
        .iter()
        .find(|e| {
            e.split(':')
                .next()
                .is_some_and(|names| names.split(", ").any(|n| n == f.name()))
        })
        .cloned()
        .unwrap_or_else(|| "this run has nothing to count it in".into());
    Err(why)
}

fn bound_words(f: Figure, b: &WorkBound) -> String {
    let v = f.show(b.value);
    match b.op {
        WorkOp::Lt => format!("less than {v} expected"),
        WorkOp::Le => format!("at most {v} expected"),
        WorkOp::Gt => format!("more than {v} expected"),
        WorkOp::Ge => format!("at least {v} expected"),
        WorkOp::Eq => format!("exactly {v} expected"),
    }
}

/// The top statements as evidence, one a line: "400× SELECT ...".
fn evidence(work: &WorkReport) -> String {
    if work.top_statements.is_empty() {
        return String::new();
    }
    let lines: Vec<String> = work
        .top_statements
        .iter()
        .map(|s| format!("  {}× {}", s.calls, s.query.replace(['\n', '\r'], " ")))
        .collect();
    format!(
        "\nstatements run most often in the step (calls, normalized):\n{}",
        lines.join("\n")
    )
}

/// `expect.work`: the first bound a figure breaks fails the step; a figure that could
/// not be measured is the grader's failure, not the submission's.
pub(super) fn judge_asserts(asserts: &[WorkAssert], work: &WorkReport) -> Result<(), StepFail> {
    for a in asserts {
        let fig = find(work, a.figure).map_err(|why| unmeasured(a.figure, &why))?;
        let Some(broken) = a.bounds.iter().find(|b| !b.holds(fig.value)) else {
            continue;
        };
        let name = a.figure.name();
        let said = explain(fig, work.requests);
        let advice = if broken.is_upper() && fig.value > broken.value {
            format!(": {}", a.figure.advice())
        } else {
            String::new()
        };
        let mut f = StepFail::new(format!(
            "`{name}` was {said}, {}{advice}",
            bound_words(a.figure, broken)
        ));
        f.failure.expected = Some(format!("{name} {}", op_text(broken)));
        f.failure.actual = Some(format!("{said}{}", evidence(work)));
        f.cause = Cause::Value;
        return Err(f);
    }
    Ok(())
}

fn op_text(b: &WorkBound) -> String {
    let op = match b.op {
        WorkOp::Lt => "<",
        WorkOp::Le => "<=",
        WorkOp::Gt => ">",
        WorkOp::Ge => ">=",
        WorkOp::Eq => "==",
    };
    format!("{op} {}", crate::exercise::show_num(b.value))
}

fn unmeasured(f: Figure, why: &str) -> StepFail {
    let message = format!("`{}` could not be measured: {why}", f.name());
    if why.contains(STOPPED) {
        return StepFail::new(message);
    }
    StepFail::with_fault(Fault::Grader, Failure::message(message))
}

/// Judges the load's work thresholds (left unjudged by the load generator) on `work`.
/// An error when a figure could not be measured.
pub(super) fn judge_thresholds(
    planned: &[PlannedThreshold],
    load: &mut LoadReport,
    work: &WorkReport,
) -> Result<(), StepFail> {
    let mut missing = None;
    for (t, result) in planned.iter().zip(load.thresholds.iter_mut()) {
        let Metric::Work(f) = t.threshold.metric else {
            continue;
        };
        match find(work, f) {
            Ok(fig) => {
                result.passed = t.threshold.holds(fig.value) && load.aborted.is_none();
                result.actual = explain(fig, work.requests);
            }
            Err(why) => {
                result.passed = false;
                result.actual = format!("not measured: {why}");
                missing.get_or_insert_with(|| unmeasured(f, &why));
            }
        }
    }
    missing.map_or(Ok(()), Err)
}

/// Advice for the load's failed work thresholds above their bounds, and the evidence.
pub(super) fn threshold_advice(
    planned: &[PlannedThreshold],
    load: &LoadReport,
    work: &WorkReport,
) -> Option<(String, String)> {
    let mut advice = Vec::new();
    for (t, result) in planned.iter().zip(&load.thresholds) {
        if let Metric::Work(f) = t.threshold.metric
            && !result.passed
            && matches!(t.threshold.op, Op::Lt | Op::Le)
        {
            advice.push(format!("`{}`: {}", f.name(), f.advice()));
        }
    }
    (!advice.is_empty()).then(|| (advice.join("; "), evidence(work)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> WorkReport {
        WorkReport {
            step: 1,
            requests: 20,
            figures: vec![WorkFigure {
                name: "statements".into(),
                value: 21.0,
                per_request: true,
                count: 420,
                source: "pg_stat_statements".into(),
            }],
            errors: vec!["redis_commands: cannot read".into()],
            top_statements: vec![StatementCount {
                query: "SELECT * FROM tags WHERE todo_id = $1".into(),
                calls: 400,
            }],
        }
    }

    #[test]
    fn a_broken_bound_says_the_counts_and_what_to_change() {
        let asserts = [WorkAssert {
            figure: Figure::Statements,
            bounds: vec![WorkBound {
                op: WorkOp::Le,
                value: 3.0,
            }],
        }];
        let f = judge_asserts(&asserts, &report()).err().unwrap();
        assert_eq!(
            f.failure.message,
            "`statements` was 21 per request (420 statements over 20 requests), at most 3 expected: a query per row (N+1)? fetch what a request needs in one query (a JOIN, or WHERE id = ANY($1))"
        );
        assert!(
            f.failure
                .actual
                .unwrap()
                .contains("400× SELECT * FROM tags")
        );
        let ok = [WorkAssert {
            figure: Figure::Statements,
            bounds: vec![WorkBound {
                op: WorkOp::Le,
                value: 21.0,
            }],
        }];
        assert!(judge_asserts(&ok, &report()).is_ok());
    }

    #[test]
    fn an_unmeasured_figure_is_the_graders_error() {
        let asserts = [WorkAssert {
            figure: Figure::RedisCommands,
            bounds: vec![WorkBound {
                op: WorkOp::Le,
                value: 3.0,
            }],
        }];
        let f = judge_asserts(&asserts, &report()).err().unwrap();
        assert_eq!(f.fault, Fault::Grader);
        assert!(
            f.failure.message.contains("cannot read"),
            "{}",
            f.failure.message
        );
    }

    #[test]
    fn a_server_that_died_during_the_step_loses_its_own_figures() {
        let asserts = [WorkAssert {
            figure: Figure::MemoryGrowth,
            bounds: vec![WorkBound {
                op: WorkOp::Le,
                value: 1.0,
            }],
        }];
        let mut work = report();
        work.errors.push(format!("cpu, memory_growth: {STOPPED}"));
        let f = judge_asserts(&asserts, &work).err().unwrap();
        assert_eq!(f.fault, Fault::Submission);
        assert!(
            f.failure.message.contains("not running"),
            "{}",
            f.failure.message
        );
    }

    #[test]
    fn database_names_come_from_the_url() {
        assert_eq!(database_of("postgres://a:b@127.0.0.1:5/app_1?x=1"), "app_1");
    }
}
