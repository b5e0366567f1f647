//! Redis's counters: `INFO commandstats`, the grader's own INFO subtracted.

use super::{TIMEOUT, WorkError};

/// The grader's own connection to the submission's Redis, opened before the first
/// snapshot.
pub struct RedisCounters {
    conn: redis::aio::MultiplexedConnection,
    /// INFO commands this connection has sent.
    infos: u64,
}

/// What Redis's statistics said at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RedisSnapshot {
    /// Calls of every command, summed over `INFO commandstats`.
    pub commands: u64,
    pub connections_received: u64,
    /// The grader's own INFO commands these counts include.
    pub own: u64,
}

impl RedisSnapshot {
    /// Commands run from `before` to `self`, the grader's own INFO subtracted.
    pub fn commands_since(&self, before: &RedisSnapshot) -> u64 {
        (self.commands - before.commands).saturating_sub(self.own - before.own)
    }
}

impl RedisCounters {
    pub async fn open(url: &str) -> Result<RedisCounters, WorkError> {
        let client = redis::Client::open(url).map_err(|e| WorkError::Redis(e.to_string()))?;
        let conn = tokio::time::timeout(TIMEOUT, client.get_multiplexed_async_connection())
            .await
            .map_err(|_| WorkError::Redis("no connection within 10s".into()))?
            .map_err(|e| WorkError::Redis(e.to_string()))?;
        Ok(RedisCounters { conn, infos: 0 })
    }

    /// The counters now. Redis counts a command when it has run, so this INFO is not in
    /// its own answer, only in the next.
    pub async fn read(&mut self) -> Result<RedisSnapshot, WorkError> {
        let own = self.infos;
        self.infos += 1;
        let text: String = tokio::time::timeout(
            TIMEOUT,
            redis::cmd("INFO")
                .arg("stats")
                .arg("commandstats")
                .query_async(&mut self.conn),
        )
        .await
        .map_err(|_| WorkError::Redis("no answer within 10s".into()))?
        .map_err(|e| WorkError::Redis(e.to_string()))?;
        Ok(parse_info(&text, own))
    }
}

/// The command calls and connections in an INFO answer.
fn parse_info(text: &str, own: u64) -> RedisSnapshot {
    let mut s = RedisSnapshot {
        own,
        ..RedisSnapshot::default()
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("cmdstat_") {
            let calls = rest
                .split_once(':')
                .and_then(|(_, fields)| {
                    fields
                        .split(',')
                        .find_map(|f| f.strip_prefix("calls="))
                        .and_then(|n| n.trim().parse::<u64>().ok())
                })
                .unwrap_or(0);
            s.commands += calls;
        } else if let Some(n) = line.strip_prefix("total_connections_received:") {
            s.connections_received = n.trim().parse().unwrap_or(0);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_answers_are_summed() {
        let text = "# Stats\r\ntotal_connections_received:7\r\n# Commandstats\r\ncmdstat_get:calls=3,usec=10,usec_per_call=3.33\r\ncmdstat_info:calls=2,usec=1\r\n";
        let s = parse_info(text, 2);
        assert_eq!((s.commands, s.connections_received), (5, 7));
        let after = RedisSnapshot {
            commands: 9,
            connections_received: 7,
            own: 3,
        };
        assert_eq!(after.commands_since(&s), 3);
    }
}
