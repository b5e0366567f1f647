//! Work counters: what the submission's server did, read on the server side. PostgreSQL's
//! statement, table and database statistics, Redis's command statistics; the engine
//! (`run::work`) takes a snapshot before a step and one after it.
//!
//! PostgreSQL counts statements and the pages they touch (pg_stat_statements) when each
//! ends, so those figures cost no wait; but a backend keeps
//! its table and database counts to itself until it flushes them, which it does when it
//! goes idle at most once a second, and otherwise from a timer 10 s after it went idle
//! (PGSTAT_IDLE_INTERVAL). So a snapshot waits until every other session of the database
//! has been idle for longer than that (`settle`). The grader's own session is opened
//! before the first snapshot and flushes its own counts before each read
//! (`pg_stat_force_next_flush`); its transactions between two reads are counted here and
//! subtracted exactly.

mod postgres;
mod redis;

pub use postgres::{Entry, FLUSH_WITHIN, PgCounters, PgDelta, PgSnapshot, counts_as_statement};
pub use redis::{RedisCounters, RedisSnapshot};

use std::time::Duration;

/// A figure of the work a server does, as the spec and the report name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Figure {
    Statements,
    PagesRead,
    RowsRead,
    Transactions,
    ConnectionsOpened,
    RedisCommands,
    UpstreamCalls,
    Cpu,
    MemoryGrowth,
}

impl Figure {
    pub const ALL: [Figure; 9] = [
        Figure::Statements,
        Figure::PagesRead,
        Figure::RowsRead,
        Figure::Transactions,
        Figure::ConnectionsOpened,
        Figure::RedisCommands,
        Figure::UpstreamCalls,
        Figure::Cpu,
        Figure::MemoryGrowth,
    ];

    pub const NAMES: [&'static str; 9] = [
        "statements",
        "pages_read",
        "rows_read",
        "transactions",
        "connections_opened",
        "redis_commands",
        "upstream_calls",
        "cpu",
        "memory_growth",
    ];

    pub fn name(self) -> &'static str {
        Figure::NAMES[self as usize]
    }

    pub fn parse(name: &str) -> Option<Figure> {
        Figure::NAMES
            .iter()
            .position(|n| *n == name)
            .map(|k| Figure::ALL[k])
    }

    /// Divided by the step's requests (the rest are totals for the step).
    /// Whether PostgreSQL flushes this figure's counts late (a backend keeps them up
    /// to 10 s after it goes idle): measuring it costs that wait, before and after.
    pub fn flushed_late(self) -> bool {
        matches!(self, Figure::RowsRead | Figure::Transactions)
    }

    pub fn per_request(self) -> bool {
        !matches!(self, Figure::ConnectionsOpened | Figure::MemoryGrowth)
    }

    /// What one unit of the raw count is, for messages ("420 statements").
    pub fn unit(self) -> &'static str {
        match self {
            Figure::Statements => "statements",
            Figure::PagesRead => "pages",
            Figure::RowsRead => "rows",
            Figure::Transactions => "transactions",
            Figure::ConnectionsOpened => "connections",
            Figure::RedisCommands => "commands",
            Figure::UpstreamCalls => "calls",
            Figure::Cpu => "ns of CPU time",
            Figure::MemoryGrowth => "bytes",
        }
    }

    /// The figure's value as a person reads it: `3`, `2.5`, `12.3ms`, `1.5MiB`.
    pub fn show(self, value: f64) -> String {
        match self {
            Figure::Cpu => format!("{}ms", round3(value)),
            Figure::MemoryGrowth => show_bytes(value),
            _ => format!("{}", round3(value)),
        }
    }

    /// What to change when the figure is above its bound.
    pub fn advice(self) -> &'static str {
        match self {
            Figure::Statements => {
                "a query per row (N+1)? fetch what a request needs in one query (a JOIN, or WHERE id = ANY($1))"
            }
            Figure::PagesRead => {
                "a scan of the whole table (no index on the columns you look up, filter or sort by), or rows fetched only to be dropped in code? an index, and WHERE/ORDER BY/LIMIT in SQL"
            }
            Figure::RowsRead => {
                "a scan of the whole table? an index on the columns you filter and sort by, and LIMIT/OFFSET in SQL rather than slicing in code"
            }
            Figure::Transactions => {
                "a transaction per statement? group what belongs together in one transaction"
            }
            Figure::ConnectionsOpened => {
                "a new connection per request? open a pool once at start-up and reuse its connections"
            }
            Figure::RedisCommands => {
                "a command per item? fetch and store what a request needs in as few commands as possible (MGET, a pipeline)"
            }
            Figure::UpstreamCalls => {
                "the upstream called for every request? answer repeated requests from the cache"
            }
            Figure::Cpu => {
                "work done in code that the database could do (sorting, filtering, counting all rows)?"
            }
            Figure::MemoryGrowth => {
                "memory kept per request? a list, map or cache that grows without bound"
            }
        }
    }
}

/// A figure's value and the counts it came from, as every report says it: "21 per
/// request (420 statements over 20 requests)".
pub fn explain(fig: &grader_report::WorkFigure, requests: u64) -> String {
    let Some(f) = Figure::parse(&fig.name) else {
        return format!("{} ({})", fig.value, fig.count);
    };
    let shown = f.show(fig.value);
    let count = match f {
        Figure::Cpu => format!("{} of CPU time", Figure::Cpu.show(fig.count as f64 / 1e6)),
        Figure::MemoryGrowth => return format!("{shown} ({})", fig.source),
        _ => format!("{} {}", fig.count, f.unit()),
    };
    if fig.per_request {
        format!("{shown} per request ({count} over {requests} requests)")
    } else {
        format!("{shown} ({count} during the step)")
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn show_bytes(v: f64) -> String {
    let a = v.abs();
    if a >= 1024.0 * 1024.0 {
        format!("{}MiB", round3(v / 1024.0 / 1024.0))
    } else if a >= 1024.0 {
        format!("{}KiB", round3(v / 1024.0))
    } else {
        format!("{v}B")
    }
}

/// Why a counter could not be read: the figures it feeds are not measured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkError {
    #[error("cannot read PostgreSQL's statistics: {0}")]
    Postgres(String),
    #[error("pg_stat_statements is not available in the database: {0}")]
    NoStatements(String),
    #[error(
        "pg_stat_statements evicted statements during the step (more distinct statements than pg_stat_statements.max): `statements` and `pages_read` could not be counted"
    )]
    Evicted,
    #[error("cannot read Redis's command statistics: {0}")]
    Redis(String),
}

const TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_have_names_and_units() {
        for f in Figure::ALL {
            assert_eq!(Figure::parse(f.name()), Some(f));
        }
        assert_eq!(Figure::parse("statement"), None);
        assert_eq!(Figure::MemoryGrowth.show(1.5 * 1024.0 * 1024.0), "1.5MiB");
        assert_eq!(Figure::Cpu.show(12.34567), "12.346ms");
    }
}
