//! The Redis sink: inputs buffered and written in one pipeline per batch, each acked only
//! after Redis answered the command that wrote it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use squall_topology_api::{Bolt, BoltCollector, ComponentError, Tuple, Value};

use super::{RedisError, connect};
use crate::retry::Reconnect;

/// Inputs written in one pipeline at most (a batch of inputs is written when it ends anyway).
const MAX_BATCH: usize = 1024;
/// Inputs held while the server is unreachable; beyond this the oldest fail (and replay).
const MAX_HELD: usize = 64 * 1024;

/// A batch's pipeline: for each of its commands the buffered inputs it writes, and the
/// inputs that cannot be written (a field is missing).
struct Writes {
    pipe: redis::Pipeline,
    covers: Vec<Vec<usize>>,
    unwritable: Vec<(usize, RedisError)>,
}

/// What the sink does with each input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisWrite {
    /// `XADD stream * field value ...` with these tuple fields.
    XAdd {
        /// The stream.
        stream: String,
        /// The tuple fields written, under the same names.
        fields: Vec<String>,
    },
    /// `HSET key <field> <value>`: the tuple's `field` names the hash field, `value` its value
    /// (a running count, say).
    HSet {
        /// The hash.
        key: String,
        /// The tuple field naming the hash field.
        field: String,
        /// The tuple field holding the value.
        value: String,
    },
    /// `HINCRBY key <field> <by>`.
    HIncrBy {
        /// The hash.
        key: String,
        /// The tuple field naming the hash field.
        field: String,
        /// The tuple field holding the increment (an integer).
        by: String,
    },
}

/// Writes its inputs to Redis in pipelines (a batch's `HSET`s as one command with each
/// field's last value, its `HINCRBY`s summed per field) and acks each input only once its
/// write is confirmed; a failed pipeline fails its inputs, so they are replayed from the spout. Writes
/// are at least once: an input replayed after a lost ack is written again (`HSET` of a running
/// value is harmless; `HINCRBY` and `XADD` count it twice).
///
/// ```no_run
/// use squall_connectors::redis::{RedisSink, RedisWrite};
/// use squall_topology_api::TopologyBuilder;
///
/// let mut b = TopologyBuilder::new();
/// # struct Counts;
/// # impl squall_topology_api::Spout for Counts {
/// #     fn declare_outputs(&self, out: &mut squall_topology_api::OutputDeclarer) { out.declare(squall_topology_api::Fields::new(["word", "count"])); }
/// #     fn next_tuple(&mut self, _: &mut squall_topology_api::SpoutCollector<'_>) -> Result<(), squall_topology_api::ComponentError> { Ok(()) }
/// # }
/// # b.set_spout("count", || Counts, 1);
/// let write = RedisWrite::HSet { key: "word_counts".into(), field: "word".into(), value: "count".into() };
/// b.set_bolt("store", move || RedisSink::new("redis://127.0.0.1:6379", write.clone()), 1)
///     .fields_grouping("count", ["word"]);
/// ```
pub struct RedisSink {
    url: String,
    write: RedisWrite,
    conn: Option<redis::Connection>,
    /// When to try the server again after losing it.
    reconnect: Reconnect,
    buffer: Vec<Tuple>,
}

impl RedisSink {
    /// A sink writing to the server at `url`.
    pub fn new(url: impl Into<String>, write: RedisWrite) -> Self {
        RedisSink {
            url: url.into(),
            write,
            conn: None,
            reconnect: Reconnect::default(),
            buffer: Vec::new(),
        }
    }

    /// The pipeline writing the buffered inputs. A batch's `HSET`s are one command holding
    /// each hash field's last value, and its `HINCRBY`s one per field with the increments
    /// summed: what Redis ends up holding is the same as with one command per input, for a
    /// fraction of its work.
    fn pipeline(&self) -> Writes {
        let mut pipe = redis::pipe();
        let mut covers = Vec::new();
        let mut unwritable = Vec::new();
        let field = |input: &Tuple, name: &str| {
            input
                .get(&name)
                .map_err(|_| RedisError::MissingField(name.to_owned()))
                .map(arg)
        };
        match &self.write {
            RedisWrite::XAdd { stream, fields } => {
                for (i, input) in self.buffer.iter().enumerate() {
                    let values: Result<Vec<Vec<u8>>, RedisError> =
                        fields.iter().map(|f| field(input, f)).collect();
                    match values {
                        Ok(values) => {
                            let mut cmd = redis::cmd("XADD");
                            cmd.arg(stream).arg("*");
                            for (f, v) in fields.iter().zip(values) {
                                cmd.arg(f).arg(v);
                            }
                            pipe.add_command(cmd);
                            covers.push(vec![i]);
                        }
                        Err(e) => unwritable.push((i, e)),
                    }
                }
            }
            RedisWrite::HSet {
                key,
                field: f,
                value,
            } => {
                let mut last: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
                let mut order = Vec::new();
                let mut written = Vec::new();
                for (i, input) in self.buffer.iter().enumerate() {
                    match (field(input, f), field(input, value)) {
                        (Ok(name), Ok(v)) => {
                            if last.insert(name.clone(), v).is_none() {
                                order.push(name);
                            }
                            written.push(i);
                        }
                        (Err(e), _) | (_, Err(e)) => unwritable.push((i, e)),
                    }
                }
                if !order.is_empty() {
                    let mut cmd = redis::cmd("HSET");
                    cmd.arg(key);
                    for name in order {
                        let v = last.remove(&name).unwrap_or_default();
                        cmd.arg(name).arg(v);
                    }
                    pipe.add_command(cmd);
                    covers.push(written);
                }
            }
            RedisWrite::HIncrBy { key, field: f, by } => {
                // Per hash field: the summed increment and the inputs in it.
                let mut sums: HashMap<Vec<u8>, (i64, Vec<usize>)> = HashMap::new();
                let mut order = Vec::new();
                for (i, input) in self.buffer.iter().enumerate() {
                    let by = match input.get(&by.as_str()) {
                        Err(_) => Err(RedisError::MissingField(by.clone())),
                        Ok(Value::I64(n)) => Ok(*n),
                        Ok(Value::Str(s)) => {
                            s.parse().map_err(|_| RedisError::NotAnInteger(by.clone()))
                        }
                        Ok(_) => Err(RedisError::NotAnInteger(by.clone())),
                    };
                    match (field(input, f), by) {
                        (Ok(name), Ok(n)) => {
                            let (sum, inputs) = sums.entry(name.clone()).or_insert_with(|| {
                                order.push(name);
                                (0, Vec::new())
                            });
                            *sum = sum.saturating_add(n);
                            inputs.push(i);
                        }
                        (Err(e), _) | (_, Err(e)) => unwritable.push((i, e)),
                    }
                }
                for name in order {
                    let (n, inputs) = sums.remove(&name).unwrap_or_default();
                    pipe.cmd("HINCRBY").arg(key).arg(name).arg(n);
                    covers.push(inputs);
                }
            }
        }
        Writes {
            pipe,
            covers,
            unwritable,
        }
    }

    /// Writes the buffered inputs in one pipeline and acks each input whose command Redis
    /// carried out. An input Redis refused (a wrong type, say) or that cannot be written fails
    /// alone, and the first such error is returned; a lost connection fails them all and
    /// backs off before the next attempt.
    fn flush(&mut self, collector: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        if self.conn.is_none() {
            if !self.reconnect.ready(Instant::now()) {
                // Held until the next attempt; the oldest fail if too many wait.
                let excess = self.buffer.len().saturating_sub(MAX_HELD);
                for input in self.buffer.drain(..excess) {
                    collector.fail(&input);
                }
                return Ok(());
            }
            match connect(&self.url) {
                Ok(c) => {
                    self.reconnect.succeeded();
                    self.conn = Some(c);
                }
                Err(e) => {
                    let wait = self.reconnect.failed(Instant::now());
                    tracing::warn!(error = %e, retry_in = ?wait, "redis unreachable; holding writes");
                    return Err(e.into());
                }
            }
        }
        let Writes {
            mut pipe,
            covers,
            unwritable,
        } = self.pipeline();
        // Each command's own answer: a refused command is an error in its place, not a failure
        // of the whole pipeline.
        let result: redis::RedisResult<Vec<redis::RedisResult<redis::Value>>> =
            match self.conn.as_mut() {
                Some(conn) if !covers.is_empty() => pipe.ignore_errors().query(conn),
                _ => Ok(Vec::new()),
            };
        let buffer = std::mem::take(&mut self.buffer);
        match result {
            Ok(answers) => {
                let mut failed = vec![false; buffer.len()];
                let mut first_error = None;
                for (i, e) in unwritable {
                    failed[i] = true;
                    first_error.get_or_insert(e);
                }
                let mut answers = answers.into_iter();
                for inputs in &covers {
                    let error = match answers.next() {
                        Some(Ok(_)) => continue,
                        Some(Err(source)) => RedisError::Command {
                            url: self.url.clone(),
                            source,
                        },
                        None => RedisError::NoAnswer {
                            url: self.url.clone(),
                        },
                    };
                    for &i in inputs {
                        failed[i] = true;
                    }
                    first_error.get_or_insert(error);
                }
                for (input, failed) in buffer.iter().zip(failed) {
                    if failed {
                        collector.fail(input);
                    } else {
                        collector.ack(input);
                    }
                }
                match first_error {
                    Some(e) => Err(e.into()),
                    None => Ok(()),
                }
            }
            Err(source) => {
                self.conn = None;
                self.reconnect.failed(Instant::now());
                for input in &buffer {
                    collector.fail(input);
                }
                Err(RedisError::Command {
                    url: self.url.clone(),
                    source,
                }
                .into())
            }
        }
    }
}

/// A tuple value as a Redis argument.
fn arg(v: &Value) -> Vec<u8> {
    match v {
        Value::Str(s) => s.as_bytes().to_vec(),
        Value::Bytes(b) => b.clone(),
        Value::I64(n) => n.to_string().into_bytes(),
        Value::F64(x) => x.to_string().into_bytes(),
        Value::Bool(b) => b.to_string().into_bytes(),
        Value::Null => Vec::new(),
        other => other.to_string().into_bytes(),
    }
}

impl Bolt for RedisSink {
    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut BoltCollector<'_>,
    ) -> Result<(), ComponentError> {
        self.buffer.push(input);
        if self.buffer.len() >= MAX_BATCH {
            // Reported, not returned: an error from `execute` would fail this input, which the
            // failed flush has already failed or still holds.
            if let Err(e) = self.flush(collector) {
                collector.report_error(&e);
            }
        }
        Ok(())
    }

    /// Inputs wait at most one batch of input or this long.
    fn poll_interval(&self) -> Option<Duration> {
        Some(Duration::from_millis(2))
    }

    fn poll(&mut self, collector: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        self.flush(collector)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use squall_topology_api::{Fields, values};

    fn sink(write: RedisWrite, inputs: &[(&str, i64)]) -> RedisSink {
        let mut sink = RedisSink::new("redis://127.0.0.1:1", write);
        for (word, count) in inputs {
            sink.buffer.push(Tuple::for_test(
                "count",
                "default",
                Fields::new(["word", "count"]),
                values![*word, *count],
            ));
        }
        sink
    }

    #[test]
    fn a_batch_of_hsets_is_one_command_with_each_fields_last_value() {
        let write = RedisWrite::HSet {
            key: "counts".into(),
            field: "word".into(),
            value: "count".into(),
        };
        let s = sink(write, &[("a", 1), ("b", 1), ("a", 2), ("c", 1), ("b", 2)]);
        let Writes {
            pipe,
            covers,
            unwritable,
        } = s.pipeline();
        assert!(unwritable.is_empty());
        assert_eq!(covers, [vec![0, 1, 2, 3, 4]]);
        let mut expected = redis::pipe();
        expected
            .cmd("HSET")
            .arg("counts")
            .arg("a")
            .arg("2")
            .arg("b")
            .arg("2")
            .arg("c")
            .arg("1")
            .ignore();
        assert_eq!(pipe.get_packed_pipeline(), expected.get_packed_pipeline());
    }

    #[test]
    fn increments_are_summed_per_field_and_unwritable_inputs_are_named() {
        let write = RedisWrite::HIncrBy {
            key: "totals".into(),
            field: "word".into(),
            by: "count".into(),
        };
        let mut s = sink(write, &[("a", 1), ("b", 5), ("a", 2)]);
        s.buffer.push(Tuple::for_test(
            "count",
            "default",
            Fields::new(["word", "count"]),
            values!["c", "many"],
        ));
        let Writes {
            pipe,
            covers,
            unwritable,
        } = s.pipeline();
        assert_eq!(covers, [vec![0, 2], vec![1]]);
        let mut expected = redis::pipe();
        expected
            .cmd("HINCRBY")
            .arg("totals")
            .arg("a")
            .arg(3)
            .ignore();
        expected
            .cmd("HINCRBY")
            .arg("totals")
            .arg("b")
            .arg(5)
            .ignore();
        assert_eq!(pipe.get_packed_pipeline(), expected.get_packed_pipeline());
        assert_eq!(unwritable.len(), 1);
        assert_eq!(unwritable[0].0, 3);
        assert!(matches!(unwritable[0].1, RedisError::NotAnInteger(_)));
    }
}
