//! The JetStream publish sink.

use std::time::{Duration, Instant};

use squall_topology_api::{Bolt, BoltCollector, ComponentError, Tuple, Value};

use super::{NatsError, block_on, runtime};
use crate::retry::Reconnect;

/// Inputs published per batch at most (a batch of inputs is published when it ends anyway).
const MAX_BATCH: usize = 1024;
/// Inputs held while the server is unreachable; beyond this the oldest fail (and replay).
const MAX_HELD: usize = 64 * 1024;

/// Publishes one input field per message to a JetStream subject and acks each input once the
/// stream acknowledged its message (a refused or unanswered publish fails the input, so it
/// replays). At least once: a message whose input ack was lost is published again.
///
/// ```no_run
/// use squall_connectors::nats::JetStreamSink;
/// use squall_topology_api::TopologyBuilder;
/// # struct Lines;
/// # impl squall_topology_api::Spout for Lines {
/// #     fn declare_outputs(&self, out: &mut squall_topology_api::OutputDeclarer) { out.declare(squall_topology_api::Fields::new(["payload"])); }
/// #     fn next_tuple(&mut self, _: &mut squall_topology_api::SpoutCollector<'_>) -> Result<(), squall_topology_api::ComponentError> { Ok(()) }
/// # }
///
/// let mut b = TopologyBuilder::new();
/// # b.set_spout("lines", || Lines, 1);
/// b.set_bolt("publish", || JetStreamSink::new("nats://127.0.0.1:4222", "events.out"), 1)
///     .shuffle_grouping("lines");
/// ```
pub struct JetStreamSink {
    url: String,
    subject: String,
    field: String,
    connected: Option<(tokio::runtime::Runtime, async_nats::jetstream::Context)>,
    /// When to try the server again after losing it.
    reconnect: Reconnect,
    buffer: Vec<Tuple>,
}

impl JetStreamSink {
    /// Publishes to `subject` (which a stream must capture) on the server at `url`.
    pub fn new(url: impl Into<String>, subject: impl Into<String>) -> Self {
        JetStreamSink {
            url: url.into(),
            subject: subject.into(),
            field: "payload".to_owned(),
            connected: None,
            reconnect: Reconnect::default(),
            buffer: Vec::new(),
        }
    }

    /// The input field published (default `payload`).
    #[must_use]
    pub fn field(mut self, name: impl Into<String>) -> Self {
        self.field = name.into();
        self
    }

    fn payload(&self, input: &Tuple) -> Vec<u8> {
        match input.get(&self.field.as_str()) {
            Ok(Value::Str(s)) => s.as_bytes().to_vec(),
            Ok(Value::Bytes(b)) => b.clone(),
            Ok(other) => other.to_string().into_bytes(),
            Err(_) => Vec::new(),
        }
    }

    /// A client and its JetStream context.
    fn open_connection(
        &self,
    ) -> Result<(tokio::runtime::Runtime, async_nats::jetstream::Context), NatsError> {
        let rt = runtime()?;
        let client = block_on(&rt, &self.url, "connect", async_nats::connect(&self.url))?;
        // The JetStream context spawns its acker task: inside the runtime.
        let js = {
            let _inside = rt.enter();
            async_nats::jetstream::new(client)
        };
        Ok((rt, js))
    }

    /// Drops the connection; the next attempt waits a little longer.
    fn lost(&mut self, e: &NatsError) {
        self.connected = None;
        let wait = self.reconnect.failed(Instant::now());
        tracing::warn!(error = %e, retry_in = ?wait, "nats unreachable; holding messages");
    }

    /// Publishes the buffered inputs; returns for each what became of it.
    fn publish(&mut self) -> Result<Vec<Answer>, NatsError> {
        let payloads: Vec<Vec<u8>> = self.buffer.iter().map(|t| self.payload(t)).collect();
        let (subject, url) = (self.subject.clone(), self.url.clone());
        let Some((rt, js)) = self.connected.as_ref() else {
            return Ok(vec![Answer::NoAck; payloads.len()]);
        };
        let result = block_on(rt, &url, "publish", async {
            // Publish them all, then wait for the acks: one round trip per batch, not per input.
            // A message the client refuses (too large, say) fails alone.
            let mut pending = Vec::with_capacity(payloads.len());
            for payload in payloads {
                pending.push(js.publish(subject.clone(), payload.into()).await.ok());
            }
            let mut confirmed = Vec::with_capacity(pending.len());
            for ack in pending {
                confirmed.push(match ack {
                    Some(ack) => Answer::from(ack.await.is_ok()),
                    None => Answer::Refused,
                });
            }
            Ok::<_, String>(confirmed)
        });
        if let Err(e) = &result {
            self.lost(e);
        }
        result
    }

    /// Inputs wait for the server while it is unreachable; the oldest fail (and replay from
    /// the spout) if too many wait.
    fn hold(&mut self, collector: &mut BoltCollector<'_>) {
        let excess = self.buffer.len().saturating_sub(MAX_HELD);
        for input in self.buffer.drain(..excess) {
            collector.fail(&input);
        }
    }

    /// Publishes the buffered inputs and acks each the stream acknowledged; the others fail and
    /// replay. While the server is unreachable the inputs are held, not failed.
    fn flush(&mut self, collector: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        if self.connected.is_none() {
            if !self.reconnect.ready(Instant::now()) {
                self.hold(collector);
                return Ok(());
            }
            match self.open_connection() {
                Ok(c) => {
                    self.reconnect.succeeded();
                    self.connected = Some(c);
                }
                Err(e) => {
                    self.lost(&e);
                    self.hold(collector);
                    return Err(e.into());
                }
            }
        }
        let result = self.publish();
        let buffer = std::mem::take(&mut self.buffer);
        match result {
            Ok(confirmed) => {
                if confirmed.contains(&Answer::NoAck) && !confirmed.contains(&Answer::Acked) {
                    // Not one acknowledgement: the server (or the stream's leader) is away,
                    // though the connection looks up. Back off as from a lost connection.
                    self.lost(&NatsError::Server {
                        url: self.url.clone(),
                        message: "no publish was acknowledged".to_owned(),
                    });
                }
                let mut refused = 0;
                for (input, answer) in buffer.iter().zip(confirmed) {
                    if answer == Answer::Acked {
                        collector.ack(input);
                    } else {
                        refused += 1;
                        collector.fail(input);
                    }
                }
                if refused > 0 {
                    return Err(ComponentError::msg(format!(
                        "JetStream did not acknowledge {refused} message(s) on {}; their inputs failed and replay",
                        self.subject
                    )));
                }
                Ok(())
            }
            Err(e) => {
                for input in &buffer {
                    collector.fail(input);
                }
                Err(e.into())
            }
        }
    }
}

/// What became of one published message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// The stream stored it.
    Acked,
    /// No acknowledgement came (the server or the stream's leader is away).
    NoAck,
    /// The client refused to send it (too large, say).
    Refused,
}

impl From<bool> for Answer {
    fn from(acked: bool) -> Self {
        if acked { Answer::Acked } else { Answer::NoAck }
    }
}

impl Bolt for JetStreamSink {
    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut BoltCollector<'_>,
    ) -> Result<(), ComponentError> {
        // Failed (the error fails this input), not published as an empty message and acked.
        if input.get(&self.field.as_str()).is_err() {
            return Err(NatsError::MissingField(self.field.clone()).into());
        }
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

    fn poll_interval(&self) -> Option<Duration> {
        Some(Duration::from_millis(2))
    }

    fn poll(&mut self, collector: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        self.flush(collector)
    }
}
