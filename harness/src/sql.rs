//! SQL probes on the submission's database. Every query's rows come back as one JSON
//! array of objects, so the same JSONPath assertions serve HTTP and SQL.

use std::str::FromStr;
use std::time::Duration;

use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Error};

/// A pool on the submission's database, opened on first use.
pub(crate) struct SqlProbe {
    pool: PgPool,
}

/// A failed query: `infrastructure` when the database could not be reached at all
/// (not the submission's fault), otherwise the database's own message.
pub(crate) struct SqlError {
    pub message: String,
    pub infrastructure: bool,
}

impl SqlProbe {
    pub fn connect_lazy(url: &str) -> Result<SqlProbe, SqlError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| SqlError {
                message: format!("bad database URL: {e}"),
                infrastructure: true,
            })?
            .options([("statement_timeout", "10000")]);
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
        let mut q = sqlx::query_scalar::<_, Value>(AssertSqlSafe(wrapped));
        for p in params {
            q = match p {
                Value::Null => q.bind(None::<String>),
                Value::Bool(b) => q.bind(*b),
                Value::Number(n) if n.is_i64() => q.bind(n.as_i64()),
                Value::Number(n) => q.bind(n.as_f64()),
                Value::String(s) => q.bind(s.clone()),
                other => q.bind(sqlx::types::Json(other.clone())),
            };
        }
        let result = tokio::time::timeout(timeout, q.fetch_one(&self.pool)).await;
        match result {
            Err(_) => Err(SqlError {
                message: format!("the query did not finish within {timeout:?}"),
                infrastructure: false,
            }),
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
        Error::Database(db) => SqlError {
            message: db.message().to_string(),
            infrastructure: false,
        },
        Error::PoolTimedOut | Error::Io(_) | Error::Tls(_) | Error::Protocol(_) => SqlError {
            message: format!("cannot reach the database: {e}"),
            infrastructure: true,
        },
        other => SqlError {
            message: other.to_string(),
            infrastructure: false,
        },
    }
}

/// Waits until the database at `url` accepts a connection and answers `SELECT 1`.
pub async fn wait_database(url: &str, timeout: Duration) -> Result<(), String> {
    use sqlx::Connection;
    let options = PgConnectOptions::from_str(url).map_err(|e| format!("bad database URL: {e}"))?;
    let start = std::time::Instant::now();
    let mut last = String::from("no answer yet");
    while start.elapsed() < timeout {
        let attempt = async {
            let mut conn = sqlx::PgConnection::connect_with(&options).await?;
            sqlx::query("SELECT 1").execute(&mut conn).await?;
            conn.close().await
        };
        match tokio::time::timeout(Duration::from_secs(3), attempt).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = "connecting timed out".into(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!(
        "no connection within {}s (last: {last})",
        timeout.as_secs()
    ))
}

/// Runs administrative statements (no parameters, no results) one after another on one
/// connection: creating and dropping a learner's database on a shared server.
pub async fn admin_exec(url: &str, statements: &[String], timeout: Duration) -> Result<(), String> {
    use sqlx::Connection;
    let options = PgConnectOptions::from_str(url).map_err(|e| format!("bad database URL: {e}"))?;
    let work = async {
        let mut conn = sqlx::PgConnection::connect_with(&options)
            .await
            .map_err(|e| e.to_string())?;
        for s in statements {
            sqlx::raw_sql(sqlx::AssertSqlSafe(s.as_str()))
                .execute(&mut conn)
                .await
                .map_err(|e| format!("{s}: {e}"))?;
        }
        conn.close().await.map_err(|e| e.to_string())
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| format!("no answer within {}s", timeout.as_secs()))?
}
