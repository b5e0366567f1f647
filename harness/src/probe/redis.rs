//! Redis steps: one command on the exercise's Redis, its reply as JSON so the same
//! assertions apply as to HTTP bodies and SQL rows.

use std::time::Duration;

use grader_report::Fault;
use serde_json::Value;

/// A connection to the submission's Redis, opened on the first `redis` step.
pub struct RedisProbe {
    conn: redis::aio::MultiplexedConnection,
}

/// Why a Redis connection or command failed.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    #[error("bad Redis URL: {0}")]
    BadUrl(#[source] redis::RedisError),
    #[error("Redis did not answer within {}s", .0.as_secs_f64())]
    Timeout(Duration),
    #[error("cannot connect to Redis: {0}")]
    Connect(#[source] redis::RedisError),
    #[error("an empty Redis command")]
    EmptyCommand,
    #[error("Redis answered an error: {0}")]
    Reply(#[source] redis::RedisError),
}

impl RedisError {
    /// Every Redis failure is counted as the grader's: the exercise's Redis is a service
    /// the grader runs, and a step that cannot talk to it says nothing of the submission.
    pub fn fault(&self) -> Fault {
        Fault::Grader
    }
}

impl RedisProbe {
    pub async fn connect(url: &str, timeout: Duration) -> Result<RedisProbe, RedisError> {
        let client = redis::Client::open(url).map_err(RedisError::BadUrl)?;
        let conn = tokio::time::timeout(timeout, client.get_multiplexed_async_connection())
            .await
            .map_err(|_| RedisError::Timeout(timeout))?
            .map_err(RedisError::Connect)?;
        Ok(RedisProbe { conn })
    }

    /// Runs `words` (a command and its arguments) and returns the reply as JSON.
    pub async fn command(
        &mut self,
        words: &[String],
        timeout: Duration,
    ) -> Result<Value, RedisError> {
        let Some((name, args)) = words.split_first() else {
            return Err(RedisError::EmptyCommand);
        };
        let mut cmd = redis::cmd(name);
        for a in args {
            cmd.arg(a);
        }
        let reply = tokio::time::timeout(timeout, cmd.query_async::<redis::Value>(&mut self.conn))
            .await
            .map_err(|_| RedisError::Timeout(timeout))?
            .map_err(RedisError::Reply)?;
        Ok(to_json(reply))
    }
}

/// A Redis reply as JSON: nil is null, strings stay strings (binary ones lossily),
/// integers are numbers, arrays and sets are arrays, maps are objects.
pub(crate) fn to_json(v: redis::Value) -> Value {
    use redis::Value as R;
    match v {
        R::Nil => Value::Null,
        R::Int(i) => i.into(),
        R::BulkString(b) => Value::String(String::from_utf8_lossy(&b).into_owned()),
        R::SimpleString(s) => Value::String(s),
        R::Okay => Value::String("OK".into()),
        R::Array(items) | R::Set(items) => Value::Array(items.into_iter().map(to_json).collect()),
        R::Map(pairs) => {
            let mut map = serde_json::Map::new();
            for (k, v) in pairs {
                let key = match to_json(k) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                map.insert(key, to_json(v));
            }
            Value::Object(map)
        }
        R::Attribute { data, .. } => to_json(*data),
        R::Double(d) => serde_json::Number::from_f64(d).map_or(Value::Null, Value::Number),
        R::Boolean(b) => Value::Bool(b),
        R::VerbatimString { text, .. } => Value::String(text),
        R::Push { data, .. } => Value::Array(data.into_iter().map(to_json).collect()),
        other => Value::String(format!("{other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_become_json() {
        use redis::Value as R;
        assert_eq!(to_json(R::Nil), Value::Null);
        assert_eq!(to_json(R::Int(3)), serde_json::json!(3));
        assert_eq!(
            to_json(R::BulkString(b"hi".to_vec())),
            serde_json::json!("hi")
        );
        assert_eq!(
            to_json(R::Array(vec![R::Int(1), R::Okay])),
            serde_json::json!([1, "OK"])
        );
    }
}
