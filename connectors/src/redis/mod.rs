//! Redis Streams: [`RedisStreamSpout`] reads a stream through a consumer group, one consumer
//! per spout task, and acknowledges (`XACK`) an entry only when its tuple tree completes;
//! [`RedisSink`] writes its inputs in pipelines and acks them once Redis confirmed the writes.
//!
//! An entry whose tree fails or times out is emitted again. After a restart, a spout task
//! first emits again what its consumer had read and not acknowledged, then claims
//! (`XAUTOCLAIM`) entries that other consumers (tasks that are gone) left pending longer than
//! the message timeout, then reads new entries.

mod commit_sink;
mod sink;
mod spout;
mod state;

pub use commit_sink::RedisCommitSink;
pub use sink::{RedisSink, RedisWrite};
pub use spout::RedisStreamSpout;
pub use state::RedisStateBackend;

use std::time::Duration;

/// How long a Redis command may take before the component reports an error and retries.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a Redis connector could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    /// The URL does not parse.
    #[error("invalid redis URL {url:?}: {source}")]
    Url {
        /// As given.
        url: String,
        /// Why.
        source: redis::RedisError,
    },
    /// Redis refused or did not answer.
    #[error("redis at {url}: {source}")]
    Command {
        /// The server.
        url: String,
        /// Why.
        source: redis::RedisError,
    },
    /// A pipeline's answers ended before its commands did.
    #[error("redis at {url} answered fewer commands than it was sent")]
    NoAnswer {
        /// The server.
        url: String,
    },
    /// An input lacks a field the sink writes.
    #[error("input has no field {0:?} to write")]
    MissingField(String),
    /// An input's increment is not an integer.
    #[error("input field {0:?} is not an integer to increment by")]
    NotAnInteger(String),
}

/// A connection with timeouts, so a hung server is an error rather than a stuck executor.
pub(crate) fn connect(url: &str) -> Result<redis::Connection, RedisError> {
    let client = redis::Client::open(url).map_err(|source| RedisError::Url {
        url: url.to_owned(),
        source,
    })?;
    let command = |source| RedisError::Command {
        url: url.to_owned(),
        source,
    };
    let conn = client
        .get_connection_with_timeout(IO_TIMEOUT)
        .map_err(command)?;
    conn.set_read_timeout(Some(IO_TIMEOUT)).map_err(command)?;
    conn.set_write_timeout(Some(IO_TIMEOUT)).map_err(command)?;
    Ok(conn)
}

/// A stream entry's field as a tuple value: text when it is UTF-8, else bytes.
pub(crate) fn value_of(v: &redis::Value) -> squall_topology_api::Value {
    use squall_topology_api::Value;
    match v {
        redis::Value::BulkString(bytes) => match std::str::from_utf8(bytes) {
            Ok(s) => Value::from(s),
            Err(_) => Value::from(bytes.clone()),
        },
        redis::Value::SimpleString(s) => Value::from(s.as_str()),
        redis::Value::Int(n) => Value::from(*n),
        _ => Value::Null,
    }
}
