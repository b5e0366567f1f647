//! Probes: how the engine talks to a submission and its services. HTTP requests (one at a
//! time, or a few at once), SQL queries, bulk writes, Redis commands, and the upstream mock that the
//! submission calls. Each failure is a typed error that says whose fault it is.

pub(crate) mod http;
mod mock;
mod redis;
mod sql;
mod sse;
mod tcp;
pub mod work;
mod write;

pub use http::{NotReady, ProbeError, ProbeRequest, ProbeResponse, Prober, wait_ready};
pub use mock::Mock;
pub use redis::{RedisError, RedisProbe};
pub use sql::{LastAttempt, SqlError, admin_exec, admin_scalar, wait_database};
pub use tcp::{TcpError, exchange};
pub use write::{Blame, WriteError, analyze, exec};

pub(crate) use http::{MAX_BODY_BYTES, curl_command, encode_component, excerpt_text};
pub(crate) use sql::SqlProbe;
