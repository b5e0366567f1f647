//! SQL probes on the submission's database. Every query's rows come back as one JSON
//! array of objects, so the same JSONPath assertions serve HTTP and SQL.

use std::str::FromStr;
use std::time::Duration;

use grader_report::Fault;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, Error};

/// A pool on the submission's database, opened on first use.
pub(crate) struct SqlProbe {
    pool: PgPool,
}

/// Why a query, a readiness wait or an administrative statement failed.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    #[error("bad database URL: {0}")]
    BadUrl(#[source] Error),
    /// The database could not be reached at all.
    #[error("cannot reach the database: {0}")]
    Unreachable(#[source] Error),
    #[error("the query did not finish within {0:?}")]
    QueryTimeout(Duration),
    /// The database's own message (a syntax error, a missing table...).
    #[error("{0}")]
    Database(String),
    #[error("{0}")]
    Query(#[source] Error),
    #[error("no connection within {}s (last: {last})", .within.as_secs())]
    NotReady { within: Duration, last: LastAttempt },
    #[error("{0}")]
    Connection(#[source] Error),
    #[error("{statement}: {source}")]
    Statement { statement: String, source: Error },
    #[error("no answer within {}s", .0.as_secs())]
    NoAnswer(Duration),
}

/// How the last attempt to reach a database that never became ready ended.
#[derive(Debug, thiserror::Error)]
pub enum LastAttempt {
    #[error("no answer yet")]
    NoneYet,
    #[error("connecting timed out")]
    TimedOut,
    #[error("{0}")]
    Failed(#[source] Error),
}

impl SqlError {
    /// A query the database rejected or that ran too long is the submission's doing
    /// (its schema, its locks); a database that cannot be reached or set up is not.
    pub fn fault(&self) -> Fault {
        match self {
            SqlError::QueryTimeout(_) | SqlError::Database(_) | SqlError::Query(_) => {
                Fault::Submission
            }
            SqlError::BadUrl(_)
            | SqlError::Unreachable(_)
            | SqlError::NotReady { .. }
            | SqlError::Connection(_)
            | SqlError::Statement { .. }
            | SqlError::NoAnswer(_) => Fault::Grader,
        }
    }
}

fn options(url: &str) -> Result<PgConnectOptions, SqlError> {
    PgConnectOptions::from_str(url).map_err(SqlError::BadUrl)
}

impl SqlProbe {
    pub fn connect_lazy(url: &str) -> Result<SqlProbe, SqlError> {
        let options = options(url)?.options([("statement_timeout", "10000")]);
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(10))
            .idle_timeout(Duration::from_secs(30))
            .connect_lazy_with(options);
        Ok(SqlProbe { pool })
    }

    /// Runs `query` with `params` bound to $1, $2...; returns the rows as a JSON array.
    pub async fn rows(
        &self,
        query: &str,
        params: &[Value],
        timeout: Duration,
    ) -> Result<Value, SqlError> {
        let wrapped =
            format!("SELECT COALESCE(jsonb_agg(to_jsonb(q)), '[]'::jsonb) FROM ({query}) AS q");
        let q = sqlx::query_scalar_with::<_, Value, _>(AssertSqlSafe(wrapped), arguments(params));
        match tokio::time::timeout(timeout, q.fetch_one(&self.pool)).await {
            Err(_) => Err(SqlError::QueryTimeout(timeout)),
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(classify(e)),
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn classify(e: Error) -> SqlError {
    match e {
        Error::Database(db) => SqlError::Database(db.message().to_string()),
        Error::PoolTimedOut | Error::Io(_) | Error::Tls(_) | Error::Protocol(_) => {
            SqlError::Unreachable(e)
        }
        other => SqlError::Query(other),
    }
}

/// Waits until the database at `url` accepts a connection and answers `SELECT 1`.
pub async fn wait_database(url: &str, timeout: Duration) -> Result<(), SqlError> {
    let options = options(url)?;
    let start = std::time::Instant::now();
    let mut last = LastAttempt::NoneYet;
    while start.elapsed() < timeout {
        let attempt = async {
            let mut conn = sqlx::PgConnection::connect_with(&options).await?;
            sqlx::query("SELECT 1").execute(&mut conn).await?;
            conn.close().await
        };
        match tokio::time::timeout(Duration::from_secs(3), attempt).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => last = LastAttempt::Failed(e),
            Err(_) => last = LastAttempt::TimedOut,
        }
        // Every grade waits here for its database: a poll every 25 ms answers within
        // milliseconds of the server being up (a refused connection costs nothing).
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Err(SqlError::NotReady {
        within: timeout,
        last,
    })
}

/// Runs administrative statements (no parameters, no results) one after another on one
/// connection: creating and dropping a learner's database on a shared server.
pub async fn admin_exec(
    url: &str,
    statements: &[String],
    timeout: Duration,
) -> Result<(), SqlError> {
    let options = options(url)?;
    let work = async {
        let mut conn = sqlx::PgConnection::connect_with(&options)
            .await
            .map_err(SqlError::Connection)?;
        for s in statements {
            sqlx::raw_sql(AssertSqlSafe(s.as_str()))
                .execute(&mut conn)
                .await
                .map_err(|source| SqlError::Statement {
                    statement: s.clone(),
                    source,
                })?;
        }
        conn.close().await.map_err(SqlError::Connection)
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| SqlError::NoAnswer(timeout))?
}

/// Runs one administrative query that answers a single integer (a database's size, a
/// count), on a connection of its own.
pub async fn admin_scalar(url: &str, query: &str, timeout: Duration) -> Result<i64, SqlError> {
    let options = options(url)?;
    let work = async {
        let mut conn = sqlx::PgConnection::connect_with(&options)
            .await
            .map_err(SqlError::Connection)?;
        let value: i64 = sqlx::query_scalar(AssertSqlSafe(query))
            .fetch_one(&mut conn)
            .await
            .map_err(|source| SqlError::Statement {
                statement: query.to_string(),
                source,
            })?;
        conn.close().await.map_err(SqlError::Connection)?;
        Ok(value)
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| SqlError::NoAnswer(timeout))?
}

/// `params` as PostgreSQL arguments for $1, $2...: a whole number as `bigint`, another
/// number as `double precision`, a string as `text`, a boolean, null, and a list or
/// table as `jsonb` (the mapping docs/spec.md gives for `sql` and `exec` steps).
pub(crate) fn arguments(params: &[Value]) -> sqlx::postgres::PgArguments {
    use sqlx::Arguments as _;
    let mut args = sqlx::postgres::PgArguments::default();
    for p in params {
        // Adding a value this simple cannot fail; a failure would show at the query.
        let _ = match p {
            Value::Null => args.add(None::<String>),
            Value::Bool(b) => args.add(*b),
            Value::Number(n) if n.is_i64() => args.add(n.as_i64()),
            Value::Number(n) => args.add(n.as_f64()),
            Value::String(s) => args.add(s.clone()),
            other => args.add(sqlx::types::Json(other.clone())),
        };
    }
    args
}
