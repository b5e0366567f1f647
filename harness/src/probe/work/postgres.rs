//! PostgreSQL's counters: pg_stat_statements (statements and their pages, at once) and
//! the table and database statistics (flushed late: `PgCounters::settle`).

use std::collections::HashMap;
use std::str::FromStr;
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, Connection};

use super::{TIMEOUT, WorkError};

/// What the database's statistics said at one moment.
#[derive(Debug, Clone, Default)]
pub struct PgSnapshot {
    /// Per pg_stat_statements entry (queryid) of the role in the database.
    pub statements: HashMap<i64, Entry>,
    /// pg_stat_statements_info.dealloc: entries evicted so far.
    pub dealloc: i64,
    /// seq_tup_read + idx_tup_fetch over the database's tables.
    pub rows_read: i64,
    /// xact_commit + xact_rollback of the database.
    pub transactions: i64,
    pub sessions: i64,
    /// The grader's own transactions in the database that these counts include.
    pub own_transactions: u64,
}

/// One pg_stat_statements entry: its normalized text, calls, and the pages (shared
/// blocks, hit or read) its executions touched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub query: String,
    pub calls: u64,
    pub pages: u64,
}

impl Entry {
    pub fn new(query: &str, calls: u64, pages: u64) -> Entry {
        Entry {
            query: query.to_string(),
            calls,
            pages,
        }
    }
}

/// The difference between two snapshots, the grader's own work subtracted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgDelta {
    /// Evicted entries make this an error.
    pub statements: Result<u64, WorkError>,
    /// Pages every statement of the role touched (transaction control included: it
    /// touches none); evicted entries make this an error.
    pub pages: Result<u64, WorkError>,
    /// The statements counted, most called first.
    pub top: Vec<(String, u64)>,
    pub rows_read: i64,
    pub transactions: i64,
    /// The grader's own transactions subtracted from `transactions`.
    pub own_transactions: u64,
    pub sessions: i64,
}

/// Transaction control and session settings: not counted as statements.
const NOT_COUNTED: &[&str] = &[
    "BEGIN",
    "START",
    "COMMIT",
    "END",
    "ROLLBACK",
    "ABORT",
    "SAVEPOINT",
    "RELEASE",
    "SET",
    "RESET",
    "SHOW",
    "DISCARD",
    "DEALLOCATE",
];

/// Whether a normalized statement counts (not transaction control, not a setting).
pub fn counts_as_statement(query: &str) -> bool {
    let first: String = query
        .trim_start()
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_uppercase();
    !NOT_COUNTED.contains(&first.as_str())
}

impl PgSnapshot {
    /// What happened from `before` to `self`.
    pub fn since(&self, before: &PgSnapshot) -> PgDelta {
        let evicted = self.dealloc != before.dealloc
            || before
                .statements
                .keys()
                .any(|id| !self.statements.contains_key(id));
        let mut top: Vec<(String, u64)> = self
            .statements
            .iter()
            .filter(|(_, e)| counts_as_statement(&e.query))
            .filter_map(|(id, e)| {
                let was = before.statements.get(id).map_or(0, |b| b.calls);
                let d = e.calls.saturating_sub(was);
                (d > 0).then(|| (e.query.clone(), d))
            })
            .collect();
        let pages: u64 = self
            .statements
            .iter()
            .map(|(id, e)| {
                let was = before.statements.get(id).map_or(0, |b| b.pages);
                e.pages.saturating_sub(was)
            })
            .sum();
        top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let total: u64 = top.iter().map(|(_, c)| c).sum();
        let own = self.own_transactions - before.own_transactions;
        PgDelta {
            statements: if evicted {
                Err(WorkError::Evicted)
            } else {
                Ok(total)
            },
            pages: if evicted {
                Err(WorkError::Evicted)
            } else {
                Ok(pages)
            },
            top,
            rows_read: self.rows_read - before.rows_read,
            transactions: self.transactions - before.transactions - own as i64,
            own_transactions: own,
            sessions: self.sessions - before.sessions,
        }
    }
}

/// How long a backend may keep its counts after it went idle (PostgreSQL's
/// PGSTAT_IDLE_INTERVAL, 10 s), with a margin.
pub const FLUSH_WITHIN: Duration = Duration::from_millis(10_300);

/// The grader's own session on the submission's database, as a role that reads every
/// statistic. Open it before the first snapshot: its own session is then not counted.
pub struct PgCounters {
    conn: PgConnection,
    role: String,
    /// Statements this session has run: each is one transaction of its own.
    run: u64,
}

fn pg_err(e: impl std::fmt::Display) -> WorkError {
    WorkError::Postgres(e.to_string())
}

/// One read of every counter, as one statement (one transaction of the grader's).
const READ: &str = "SELECT \
  (SELECT (COALESCE(sum(seq_tup_read), 0) + COALESCE(sum(idx_tup_fetch), 0))::bigint FROM pg_stat_user_tables), \
  (SELECT (xact_commit + xact_rollback)::bigint FROM pg_stat_database WHERE datname = current_database()), \
  (SELECT COALESCE(sessions, 0)::bigint FROM pg_stat_database WHERE datname = current_database()), \
  (SELECT dealloc::bigint FROM pg_stat_statements_info), \
  (SELECT COALESCE(jsonb_agg(jsonb_build_array(s.queryid::text, s.calls::bigint, s.query, (s.shared_blks_hit + s.shared_blks_read)::bigint)), '[]'::jsonb) \
     FROM pg_stat_statements s \
    WHERE s.userid = (SELECT oid FROM pg_roles WHERE rolname = $1) \
      AND s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database()))";

/// The other sessions of the database: how many are not idle, and how long since the
/// last of them changed state (seconds; none: there are none).
const ACTIVITY: &str = "SELECT count(*) FILTER (WHERE state IS DISTINCT FROM 'idle')::bigint, \
  EXTRACT(EPOCH FROM clock_timestamp() - max(state_change))::float8 \
  FROM pg_stat_activity \
  WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'";

type ReadRow = (i64, i64, i64, i64, Value);

impl PgCounters {
    /// Opens the session on `admin_url`; `role` is the submission's.
    pub async fn open(admin_url: &str, role: &str) -> Result<PgCounters, WorkError> {
        let options = PgConnectOptions::from_str(admin_url)
            .map_err(pg_err)?
            .options([
                ("stats_fetch_consistency", "none"),
                ("statement_timeout", "10000"),
            ]);
        let conn = tokio::time::timeout(TIMEOUT, PgConnection::connect_with(&options))
            .await
            .map_err(|_| pg_err("no connection within 10s"))?
            .map_err(pg_err)?;
        Ok(PgCounters {
            conn,
            role: role.to_string(),
            run: 0,
        })
    }

    /// Every counter now, this session's own counts flushed first.
    pub async fn read(&mut self) -> Result<PgSnapshot, WorkError> {
        self.run += 1;
        tokio::time::timeout(
            TIMEOUT,
            sqlx::query("SELECT pg_stat_force_next_flush()").execute(&mut self.conn),
        )
        .await
        .map_err(|_| pg_err("no answer within 10s"))?
        .map_err(pg_err)?;
        // The flush happened as the session went idle: it holds every transaction of
        // this session so far, the one above included.
        let own = self.run;
        self.run += 1;
        let row: ReadRow = tokio::time::timeout(
            TIMEOUT,
            sqlx::query_as(AssertSqlSafe(READ))
                .bind(&self.role)
                .fetch_one(&mut self.conn),
        )
        .await
        .map_err(|_| pg_err("no answer within 10s"))?
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.message().contains("pg_stat_statements") => {
                WorkError::NoStatements(db.message().to_string())
            }
            _ => pg_err(e),
        })?;
        let (rows_read, transactions, sessions, dealloc, list) = row;
        let statements = list
            .as_array()
            .map(|items| items.iter().filter_map(statement_entry).collect())
            .unwrap_or_default();
        Ok(PgSnapshot {
            statements,
            dealloc,
            rows_read,
            transactions,
            sessions,
            own_transactions: own,
        })
    }

    /// Waits until every other session of the database has been idle long enough to have
    /// flushed its counts (`FLUSH_WITHIN`), at most `limit`; then reads until two reads
    /// agree (a session that just ended flushes as it exits). Whether it settled.
    pub async fn settle(&mut self, limit: Duration) -> Result<(PgSnapshot, bool), WorkError> {
        let deadline = Instant::now() + limit;
        let mut settled = false;
        while Instant::now() < deadline {
            let (busy, quiet) = self.activity().await?;
            let quiet = quiet.map(Duration::from_secs_f64);
            let wait = match quiet {
                _ if busy > 0 => Duration::from_millis(200),
                None => Duration::ZERO,
                Some(q) => FLUSH_WITHIN.saturating_sub(q),
            };
            if wait.is_zero() {
                settled = true;
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::time::sleep(wait.min(left).min(Duration::from_secs(1))).await;
        }
        let mut last = self.read().await?;
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            let next = self.read().await?;
            let same = next.since(&last);
            last = next;
            if same.rows_read == 0
                && same.transactions == 0
                && same.sessions == 0
                && same.statements == Ok(0)
            {
                return Ok((last, settled));
            }
        }
        Ok((last, false))
    }

    async fn activity(&mut self) -> Result<(i64, Option<f64>), WorkError> {
        self.run += 1;
        tokio::time::timeout(
            TIMEOUT,
            sqlx::query_as::<_, (i64, Option<f64>)>(AssertSqlSafe(ACTIVITY))
                .fetch_one(&mut self.conn),
        )
        .await
        .map_err(|_| pg_err("no answer within 10s"))?
        .map_err(pg_err)
    }

    pub async fn close(self) {
        let _ = self.conn.close().await;
    }
}

/// `["queryid", calls, "query", pages]` from the read's list.
fn statement_entry(v: &Value) -> Option<(i64, Entry)> {
    let a = v.as_array()?;
    let id = a.first()?.as_str()?.parse().ok()?;
    let calls = a.get(1)?.as_u64()?;
    let query = a.get(2)?.as_str().unwrap_or("");
    let pages = a.get(3).and_then(Value::as_u64).unwrap_or(0);
    Some((id, Entry::new(query, calls, pages)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_control_and_settings_do_not_count() {
        for q in [
            "BEGIN",
            "commit",
            "  SET search_path = $1",
            "RELEASE SAVEPOINT a",
            "SHOW x",
        ] {
            assert!(!counts_as_statement(q), "{q}");
        }
        for q in [
            "SELECT 1",
            "select * from t",
            "INSERT INTO t VALUES ($1)",
            "WITH a AS (SELECT 1) SELECT * FROM a",
            "SETTLE",
        ] {
            assert!(counts_as_statement(q), "{q}");
        }
    }

    #[test]
    fn a_missing_entry_is_an_eviction() {
        let mut before = PgSnapshot::default();
        before.statements.insert(1, Entry::new("SELECT 1", 4, 40));
        let after = PgSnapshot {
            own_transactions: 2,
            transactions: 5,
            ..PgSnapshot::default()
        };
        assert_eq!(after.since(&before).statements, Err(WorkError::Evicted));
        let mut after = before.clone();
        after.statements.insert(1, Entry::new("SELECT 1", 10, 100));
        after.statements.insert(2, Entry::new("BEGIN", 3, 0));
        after.statements.insert(3, Entry::new("SELECT 2", 1, 7));
        let d = after.since(&before);
        assert_eq!(d.statements, Ok(7));
        assert_eq!(d.pages, Ok(67));
        assert_eq!(d.top, vec![("SELECT 1".into(), 6), ("SELECT 2".into(), 1)]);
    }
}
