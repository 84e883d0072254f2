//! The JetStream pull-consumer spout: the I/O around a [`Tracker`].

use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use squall_topology_api::{
    ComponentError, Fields, MessageId, OutputDeclarer, Spout, SpoutCollector, TopologyContext,
    Values, config as keys,
};
use tokio_stream::StreamExt;

use super::{NatsError, block_on, runtime};
use crate::retry::Reconnect;
use crate::tracker::{Fetched, Tracker};

/// Messages fetched per round trip.
const FETCH: usize = 256;
/// Completed messages are acknowledged at most this late...
const ACK_EVERY: Duration = Duration::from_millis(5);
/// ... or as soon as this many wait.
const ACK_BATCH: usize = 512;
/// Storm's `topology.message.timeout.secs` default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long JetStream waits before delivering a nak'ed message again.
const NAK_DELAY: Duration = Duration::from_secs(1);
/// How often acks and progress marks are sent while `next_tuple` is not being called.
const HOUSEKEEPING: Duration = Duration::from_millis(100);

/// A message in flight: where to acknowledge it, and since when it was last said to be in
/// progress.
type Position = (String, Instant);

/// What the spout holds once connected.
struct Connected {
    runtime: tokio::runtime::Runtime,
    client: async_nats::Client,
    consumer: PullConsumer,
}

/// Pulls messages from a durable JetStream consumer (created on `stream` if missing, with
/// explicit acks and an ack wait of twice the message timeout, shared by all the spout's
/// tasks) and emits each payload as a one-field tuple (`payload` unless renamed with
/// [`field`](Self::field)) with a message id. A message is acknowledged when its tree
/// completes; when the tree fails it is nak'ed with a one-second delay and JetStream delivers
/// it again; every quarter of the ack wait, messages fetched and not yet acked (in flight, or
/// waiting to be emitted) are marked in progress.
///
/// ```no_run
/// use squall_connectors::nats::JetStreamSpout;
/// use squall_topology_api::TopologyBuilder;
///
/// let mut b = TopologyBuilder::new();
/// b.set_spout("events", || JetStreamSpout::new("nats://127.0.0.1:4222", "EVENTS", "squall"), 2);
/// ```
pub struct JetStreamSpout {
    url: String,
    stream: String,
    durable: String,
    field: String,
    ack_wait: Duration,
    connected: Option<Connected>,
    /// When to try the server again after losing it.
    reconnect: Reconnect,
    tracker: Tracker<Position>,
    /// Reply subjects to send `+ACK` (completed trees) and `-NAK` (failed ones) to.
    acks: Vec<String>,
    naks: Vec<String>,
    last_ack: Instant,
    last_progress: Instant,
    /// Deactivated, it marks nothing in progress: JetStream then gives what it holds to other
    /// consumers after the ack wait.
    active: bool,
}

impl JetStreamSpout {
    /// Pulls from the durable consumer `durable` of stream `stream` at `url` (`nats://HOST:PORT`).
    pub fn new(
        url: impl Into<String>,
        stream: impl Into<String>,
        durable: impl Into<String>,
    ) -> Self {
        JetStreamSpout {
            url: url.into(),
            stream: stream.into(),
            durable: durable.into(),
            field: "payload".to_owned(),
            ack_wait: DEFAULT_TIMEOUT * 2,
            connected: None,
            reconnect: Reconnect::default(),
            tracker: Tracker::default(),
            acks: Vec::new(),
            naks: Vec::new(),
            last_ack: Instant::now(),
            last_progress: Instant::now(),
            active: true,
        }
    }

    /// The name of the tuple's one field (default `payload`).
    #[must_use]
    pub fn field(mut self, name: impl Into<String>) -> Self {
        self.field = name.into();
        self
    }

    fn open_connection(&self) -> Result<Connected, NatsError> {
        let runtime = runtime()?;
        let client = block_on(
            &runtime,
            &self.url,
            "connect",
            async_nats::connect(&self.url),
        )?;
        // The JetStream context spawns its acker task: inside the runtime.
        let js = {
            let _inside = runtime.enter();
            async_nats::jetstream::new(client.clone())
        };
        let stream = block_on(
            &runtime,
            &self.url,
            "get stream",
            js.get_stream(&self.stream),
        )?;
        let config = pull::Config {
            durable_name: Some(self.durable.clone()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: self.ack_wait,
            max_deliver: -1,
            max_ack_pending: 100_000,
            ..Default::default()
        };
        let consumer = block_on(
            &runtime,
            &self.url,
            "get or create consumer",
            stream.get_or_create_consumer(&self.durable, config),
        )?;
        Ok(Connected {
            runtime,
            client,
            consumer,
        })
    }

    /// The connection, made first if there is none; `None` while waiting to try an
    /// unreachable server again.
    fn connect(&mut self) -> Result<Option<&Connected>, NatsError> {
        if self.connected.is_none() {
            if !self.reconnect.ready(Instant::now()) {
                return Ok(None);
            }
            match self.open_connection() {
                Ok(c) => {
                    self.reconnect.succeeded();
                    self.connected = Some(c);
                }
                Err(e) => {
                    self.lost(&e);
                    return Err(e);
                }
            }
        }
        Ok(self.connected.as_ref())
    }

    /// Drops the connection; the next attempt waits a little longer.
    fn lost(&mut self, e: &NatsError) {
        self.connected = None;
        let wait = self.reconnect.failed(Instant::now());
        tracing::warn!(error = %e, retry_in = ?wait, "nats unreachable; backing off");
    }

    fn fetch(&mut self) -> Result<(), NatsError> {
        let url = self.url.clone();
        let result = {
            let Some(c) = self.connect()? else {
                return Ok(());
            };
            c.runtime.block_on(async {
                tokio::time::timeout(super::IO_TIMEOUT, async {
                    let mut batch = c
                        .consumer
                        .fetch()
                        .max_messages(FETCH)
                        .messages()
                        .await
                        .map_err(|e| e.to_string())?;
                    let mut out = Vec::new();
                    while let Some(message) = batch.next().await {
                        let message = message.map_err(|e| e.to_string())?;
                        if let Some(reply) = message.message.reply.as_ref() {
                            out.push((reply.to_string(), message.message.payload.to_vec()));
                        }
                    }
                    Ok::<_, String>(out)
                })
                .await
                .map_err(|_| "no answer".to_owned())?
            })
        };
        match result {
            Ok(messages) => {
                let now = Instant::now();
                self.tracker
                    .fetched(messages.into_iter().map(|(reply, payload)| {
                        let mut values = Values::with_capacity(1);
                        match String::from_utf8(payload) {
                            Ok(s) => values.push(s),
                            Err(e) => values.push(e.into_bytes()),
                        }
                        Fetched {
                            position: (reply, now),
                            values,
                        }
                    }));
                Ok(())
            }
            Err(message) => {
                let e = NatsError::Server {
                    url,
                    message: format!("fetch: {message}"),
                };
                self.lost(&e);
                Err(e)
            }
        }
    }

    /// The reply subjects of the messages fetched before `cutoff` and not yet acked: in flight,
    /// and also fetched and not yet emitted. JetStream's ack wait runs from the fetch, so
    /// behind slow trees at max pending a message not yet emitted outwaited it, and JetStream
    /// delivered it again.
    fn to_mark_in_progress(&self, cutoff: Instant) -> Vec<String> {
        self.tracker
            .unacked_positions()
            .filter(|(_, since)| *since <= cutoff)
            .map(|(reply, _)| reply.clone())
            .collect()
    }

    /// Sends waiting acks and naks, and marks long-running messages in progress.
    fn flush(&mut self, force: bool) -> Result<(), NatsError> {
        for (reply, _) in self.tracker.take_completed() {
            self.acks.push(reply);
        }
        let progress_due = self.active && self.last_progress.elapsed() >= self.ack_wait / 4;
        let waiting = self.acks.len() + self.naks.len();
        if !progress_due
            && (waiting == 0
                || (!force && waiting < ACK_BATCH && self.last_ack.elapsed() < ACK_EVERY))
        {
            return Ok(());
        }
        let slow: Vec<String> = if progress_due {
            self.to_mark_in_progress(Instant::now() - self.ack_wait / 4)
        } else {
            Vec::new()
        };
        if self.connect()?.is_none() {
            // Kept for when the server is back (JetStream redelivers them after the ack wait
            // if it never is).
            return Ok(());
        }
        let acks = std::mem::take(&mut self.acks);
        let naks = std::mem::take(&mut self.naks);
        let nak = format!("-NAK {{\"delay\": {}}}", NAK_DELAY.as_nanos());
        let url = self.url.clone();
        let Some(c) = self.connected.as_ref() else {
            return Ok(());
        };
        let sent = block_on(&c.runtime, &url, "acknowledge", async {
            let sends = acks
                .iter()
                .map(|r| (r, "+ACK".to_owned()))
                .chain(naks.iter().map(|r| (r, nak.clone())))
                .chain(slow.iter().map(|r| (r, "+WPI".to_owned())));
            for (reply, body) in sends {
                c.client
                    .publish(reply.clone(), body.into())
                    .await
                    .map_err(|e| e.to_string())?;
            }
            c.client.flush().await.map_err(|e| e.to_string())
        });
        self.last_ack = Instant::now();
        if progress_due {
            self.last_progress = Instant::now();
        }
        if let Err(e) = sent {
            // Not acknowledged: JetStream delivers them again after the ack wait.
            self.lost(&e);
            return Err(e);
        }
        Ok(())
    }
}

impl Spout for JetStreamSpout {
    fn declare_outputs(&self, declarer: &mut OutputDeclarer) {
        declarer.declare(Fields::new([self.field.as_str()]));
    }

    fn open(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        let timeout = context
            .config()
            .get_f64(keys::TOPOLOGY_MESSAGE_TIMEOUT_SECS)
            .filter(|t| *t > 0.0)
            .map_or(DEFAULT_TIMEOUT, Duration::from_secs_f64);
        self.ack_wait = timeout * 2;
        Ok(())
    }

    fn next_tuple(&mut self, collector: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        self.flush(false)?;
        if self.tracker.wants_more() {
            self.fetch()?;
        }
        if let Some((id, values)) = self.tracker.next_to_emit() {
            collector.emit_with_id(values, id)?;
        }
        Ok(())
    }

    fn ack(&mut self, msg_id: MessageId) {
        self.tracker.ack(msg_id);
    }

    /// Acks and progress marks go out even while `next_tuple` is not called (max pending
    /// reached, or deactivated).
    fn housekeeping_interval(&self) -> Option<Duration> {
        Some(HOUSEKEEPING)
    }

    fn housekeep(&mut self) -> Result<(), ComponentError> {
        Ok(self.flush(false)?)
    }

    fn fail(&mut self, msg_id: MessageId) {
        if let Some((reply, _)) = self.tracker.forget(msg_id) {
            self.naks.push(reply);
        }
    }

    fn activate(&mut self) {
        self.active = true;
    }

    fn deactivate(&mut self) {
        self.active = false;
        if let Err(e) = self.flush(true) {
            tracing::warn!(error = %e, "could not acknowledge completed messages; they will be delivered again");
        }
    }

    fn close(&mut self) {
        if let Err(e) = self.flush(true) {
            tracing::warn!(error = %e, "could not acknowledge completed messages; they will be delivered again");
        }
    }
}

#[cfg(test)]
mod tests {
    use squall_topology_api::values;

    use super::*;

    #[test]
    fn messages_fetched_long_ago_are_marked_in_progress_whether_emitted_or_not() {
        let mut spout = JetStreamSpout::new("nats://127.0.0.1:1", "IN", "squall");
        let fetched = Instant::now();
        spout.tracker.fetched(["a", "b", "c"].map(|reply| Fetched {
            position: (reply.to_owned(), fetched),
            values: values![reply],
        }));
        // "a" in flight, "b" and "c" waiting behind it (max pending 1).
        assert!(spout.tracker.next_to_emit().is_some());
        let mut marked = spout.to_mark_in_progress(fetched);
        marked.sort();
        assert_eq!(marked, ["a", "b", "c"]);
        assert!(
            spout
                .to_mark_in_progress(fetched - Duration::from_secs(1))
                .is_empty(),
            "fetched after the cutoff"
        );
    }
}
