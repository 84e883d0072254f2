//! A two-phase sink into a Redis hash: the latest value of each key since the last checkpoint
//! is set (`HSET`) only when the checkpoint commits, so the hash shows committed values only.

use std::collections::BTreeMap;

use squall_topology_api::state::TwoPhaseSink;
use squall_topology_api::{ComponentError, Tuple};

use super::{RedisError, connect};

/// Fields set per `HSET`.
const HSET_CHUNK: usize = 1_000;

/// Sets `hash[key] = value` from each input's `key_field` and `value_field`, a checkpoint at a
/// time. Values are absolute (a count, a state), so a commit done twice after a failure
/// writes the same thing: with `topology.state.guarantee` = `exactly_once` the hash never
/// holds an uncommitted or double-counted value.
///
/// ```no_run
/// use squall_connectors::redis::RedisCommitSink;
/// use squall_topology_api::TopologyBuilder;
/// let mut b = TopologyBuilder::new();
/// b.set_two_phase_sink("store", || RedisCommitSink::new("redis://127.0.0.1:6379", "exact_counts", "key", "count"), 1);
/// ```
pub struct RedisCommitSink {
    url: String,
    hash: String,
    key_field: String,
    value_field: String,
    conn: Option<redis::Connection>,
}

impl RedisCommitSink {
    /// A sink into `hash` on the server at `url`.
    pub fn new(
        url: impl Into<String>,
        hash: impl Into<String>,
        key_field: impl Into<String>,
        value_field: impl Into<String>,
    ) -> Self {
        RedisCommitSink {
            url: url.into(),
            hash: hash.into(),
            key_field: key_field.into(),
            value_field: value_field.into(),
            conn: None,
        }
    }
}

impl TwoPhaseSink for RedisCommitSink {
    type Transaction = BTreeMap<String, String>;

    fn write(
        &mut self,
        input: &Tuple,
        transaction: &mut Self::Transaction,
    ) -> Result<(), ComponentError> {
        let text = |field: &str| -> Result<String, RedisError> {
            let v = input
                .get(&field)
                .map_err(|_| RedisError::MissingField(field.to_owned()))?;
            Ok(match v.as_str() {
                Some(s) => s.to_owned(),
                None => v.to_string(),
            })
        };
        transaction.insert(text(&self.key_field)?, text(&self.value_field)?);
        Ok(())
    }

    fn commit(
        &mut self,
        _txid: i64,
        transaction: &Self::Transaction,
    ) -> Result<(), ComponentError> {
        if transaction.is_empty() {
            return Ok(());
        }
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => connect(&self.url)?,
        };
        let pairs: Vec<(&String, &String)> = transaction.iter().collect();
        let mut pipe = redis::pipe();
        pipe.atomic();
        for chunk in pairs.chunks(HSET_CHUNK) {
            pipe.hset_multiple(&self.hash, chunk).ignore();
        }
        pipe.query::<()>(&mut conn)
            .map_err(|source| RedisError::Command {
                url: self.url.clone(),
                source,
            })?;
        self.conn = Some(conn);
        Ok(())
    }
}
