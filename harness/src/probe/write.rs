//! Bulk writes on the learner's database as a grader role (`exec` steps), and the
//! `ANALYZE` after them, each on a connection of its own.

use std::str::FromStr;
use std::time::Duration;

use grader_report::Fault;
use serde_json::Value;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, Error, PgConnection};

/// Why an `exec` step's statements, or the `ANALYZE` after them, failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("bad database URL: {0}")]
    BadUrl(#[source] Error),
    #[error("cannot reach the database: {0}")]
    Unreachable(#[source] Error),
    #[error("the statements did not finish within {}s", .0.as_secs_f64())]
    Timeout(Duration),
    /// PostgreSQL's own error, with its SQLSTATE code.
    #[error("{message}")]
    Database { code: String, message: String },
    #[error("{0}")]
    Other(#[source] Error),
}

/// Whose doing a PostgreSQL error is when grader-written SQL fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The SQL is wrong whatever the learner's schema (syntax, a function that does
    /// not exist, a parameter of the wrong type).
    Exercise,
    /// The learner's tables are missing or not as the contract says (a column missing
    /// or of another type, a constraint the data breaks), or its locks held it up.
    Schema,
    /// The grader's role could not do what it must (privileges), or anything else.
    Grader,
}

impl WriteError {
    pub fn blame(&self) -> Blame {
        match self {
            WriteError::Database { code, .. } => blame_code(code),
            WriteError::Timeout(_) => Blame::Schema,
            WriteError::BadUrl(_) | WriteError::Unreachable(_) | WriteError::Other(_) => {
                Blame::Grader
            }
        }
    }

    /// A unique constraint refused a row (SQLSTATE 23505).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, WriteError::Database { code, .. } if code == "23505")
    }

    pub fn fault(&self) -> Fault {
        match self.blame() {
            Blame::Exercise => Fault::Exercise,
            Blame::Schema => Fault::Submission,
            Blame::Grader => Fault::Grader,
        }
    }
}

/// SQLSTATE classes (PostgreSQL's errcodes appendix) by whose doing they are.
fn blame_code(code: &str) -> Blame {
    match code {
        // syntax_error, undefined_function, undefined_parameter, indeterminate_datatype,
        // feature_not_supported, invalid_parameter_value (a bad argument).
        "42601" | "42883" | "42P02" | "42P18" | "0A000" | "22023" => Blame::Exercise,
        // insufficient_privilege: the grader's role is set up to write every table.
        "42501" => Blame::Grader,
        // undefined_table/column, datatype_mismatch, wrong_object_type, ambiguous
        // column..., integrity constraints, data exceptions (a value too long for the
        // learner's column), lock and deadlock waits, a statement cancelled by a timeout.
        c if c.starts_with("42")
            || c.starts_with("23")
            || c.starts_with("22")
            || c.starts_with("40")
            || c.starts_with("55")
            || c == "57014" =>
        {
            Blame::Schema
        }
        _ => Blame::Grader,
    }
}

fn classify(e: Error) -> WriteError {
    match e {
        Error::Database(db) => WriteError::Database {
            code: db.code().map(|c| c.to_string()).unwrap_or_default(),
            message: db.message().to_string(),
        },
        Error::PoolTimedOut | Error::Io(_) | Error::Tls(_) | Error::Protocol(_) => {
            WriteError::Unreachable(e)
        }
        other => WriteError::Other(other),
    }
}

async fn connect(url: &str, timeout: Duration) -> Result<PgConnection, WriteError> {
    let ms = timeout.as_millis().to_string();
    let options = PgConnectOptions::from_str(url)
        .map_err(WriteError::BadUrl)?
        .options([("statement_timeout", ms.as_str())]);
    PgConnection::connect_with(&options).await.map_err(classify)
}

/// Closes a grader session once its statistics are in PostgreSQL's shared counters:
/// `pg_stat_force_next_flush()` makes the session flush as it goes idle after that very
/// statement, before it answers. Without it the counts go in when the backend exits,
/// which on a busy server can be after the next step's first snapshot: a bulk write's
/// transactions would be counted as the submission's.
async fn flush_and_close(mut conn: PgConnection) {
    let _ = sqlx::raw_sql("SELECT pg_stat_force_next_flush()")
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
}

/// Runs `sql` (any statements without `params`, one with them, bound to $1, $2...) on
/// a connection of its own: the rows the statements affected, summed.
pub async fn exec(
    url: &str,
    sql: &str,
    params: &[Value],
    timeout: Duration,
) -> Result<u64, WriteError> {
    let work = async {
        let mut conn = connect(url, timeout).await?;
        let done = if params.is_empty() {
            // The simple protocol: several statements, one implicit transaction.
            sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await
        } else {
            sqlx::query_with(AssertSqlSafe(sql), super::sql::arguments(params))
                .execute(&mut conn)
                .await
        };
        let affected = done.map_err(classify)?.rows_affected();
        flush_and_close(conn).await;
        Ok(affected)
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| WriteError::Timeout(timeout))?
}

/// `ANALYZE` of the whole database at `url`, so that plans after a bulk write do not
/// depend on when autovacuum would have come by (it is off while grading).
pub async fn analyze(url: &str, timeout: Duration) -> Result<(), WriteError> {
    let work = async {
        let mut conn = connect(url, timeout).await?;
        sqlx::raw_sql("ANALYZE")
            .execute(&mut conn)
            .await
            .map_err(classify)?;
        flush_and_close(conn).await;
        Ok(())
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| WriteError::Timeout(timeout))?
}

#[cfg(test)]
mod tests {
    use super::{Blame, blame_code};

    #[test]
    fn errors_are_blamed_by_their_class() {
        assert_eq!(blame_code("42601"), Blame::Exercise);
        assert_eq!(blame_code("42P01"), Blame::Schema);
        assert_eq!(blame_code("42703"), Blame::Schema);
        assert_eq!(blame_code("23502"), Blame::Schema);
        assert_eq!(blame_code("42501"), Blame::Grader);
        assert_eq!(blame_code("08006"), Blame::Grader);
    }
}
