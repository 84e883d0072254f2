//! The Redis Streams spout: the I/O around a [`Tracker`].

use std::cmp::Ordering;
use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};
use squall_topology_api::state::ReplayableSpout;
use squall_topology_api::{
    ComponentError, Fields, MessageId, OutputDeclarer, Spout, SpoutCollector, TopologyContext,
    Values, config as keys,
};

use super::{RedisError, connect, value_of};
use crate::retry::Reconnect;
use crate::tracker::{Fetched, Tracker};

/// Entries read per round trip.
const READ_COUNT: usize = 256;
/// Completed entries acknowledged to Redis in one `XACK` at most this late.
const ACK_EVERY: Duration = Duration::from_millis(5);
/// Or as soon as this many are waiting.
const ACK_BATCH: usize = 512;
/// Storm's `topology.message.timeout.secs` default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How often `housekeep` runs: acknowledgements due, and the idle times of held entries.
const HOUSEKEEPING: Duration = Duration::from_millis(100);
/// Entries whose idle time one `XCLAIM` resets at most.
const HOLD_BATCH: usize = 512;

/// Where reading stands: this consumer's own unacknowledged entries first (after a restart),
/// then entries other consumers left pending, then new entries.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Own { after: String },
    Claim { cursor: String },
    New,
}

/// Reads a Redis stream through a consumer group: each entry becomes a tuple of the fields
/// named with [`fields`](Self::fields) (missing ones are null), emitted with a message id, and
/// is acknowledged (`XACK`) only when its tree completes. A failed or timed-out tree is emitted
/// again; its entry stays pending in Redis until then, so nothing is lost if the worker dies.
///
/// The group is created at the start of the stream (`0`, with `MKSTREAM`) if it is missing.
/// Each task reads as consumer `<component>-<task index>`, so a restarted task finds its own
/// pending entries again. `topology.max.spout.pending` bounds the entries in flight per task.
///
/// ```no_run
/// use squall_connectors::redis::RedisStreamSpout;
/// use squall_topology_api::TopologyBuilder;
///
/// let mut b = TopologyBuilder::new();
/// b.set_spout(
///     "sentences",
///     || RedisStreamSpout::new("redis://127.0.0.1:6379", "sentences", "squall").fields(["sentence"]),
///     1,
/// );
/// ```
pub struct RedisStreamSpout {
    url: String,
    stream: String,
    group: String,
    fields: Vec<String>,
    id_field: Option<String>,
    consumer: String,
    min_idle_ms: u64,
    conn: Option<redis::Connection>,
    tracker: Tracker<String>,
    phase: Phase,
    last_ack: Instant,
    /// When to look again for entries dead consumers left pending.
    next_claim: Instant,
    /// When to reset the idle times of the entries this task holds again (see
    /// [`hold_entries`](Self::hold_entries)).
    next_hold: Instant,
    /// When to try the server again after losing it.
    reconnect: Reconnect,
    /// Pending entries deleted from the stream meanwhile (read back with no fields): nothing
    /// to emit, acknowledged with the next batch.
    deleted: Vec<String>,
    /// Run as a [`ReplayableSpout`] in exactly-once mode: entries are acknowledged when a
    /// checkpoint commits them, not when their trees complete.
    replayable: bool,
    /// Replayable: read and not yet emitted.
    unsent: VecDeque<Fetched<String>>,
    /// Replayable: emitted and not yet acknowledged to Redis, oldest first.
    unacked: VecDeque<String>,
    /// Replayable: the id of the last entry emitted.
    last_emitted: Option<String>,
}

impl RedisStreamSpout {
    /// Reads `stream` through consumer group `group` on the server at `url`
    /// (`redis://HOST:PORT[/DB]`).
    pub fn new(
        url: impl Into<String>,
        stream: impl Into<String>,
        group: impl Into<String>,
    ) -> Self {
        RedisStreamSpout {
            url: url.into(),
            stream: stream.into(),
            group: group.into(),
            fields: Vec::new(),
            id_field: None,
            consumer: "squall".to_owned(),
            min_idle_ms: DEFAULT_TIMEOUT.as_millis() as u64,
            conn: None,
            tracker: Tracker::default(),
            phase: Phase::Own {
                after: "0".to_owned(),
            },
            last_ack: Instant::now(),
            next_claim: Instant::now(),
            next_hold: Instant::now(),
            reconnect: Reconnect::default(),
            deleted: Vec::new(),
            replayable: false,
            unsent: VecDeque::new(),
            unacked: VecDeque::new(),
            last_emitted: None,
        }
    }

    /// The entry fields to emit, in this order (the tuple's fields have the same names).
    #[must_use]
    pub fn fields<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.fields = fields.into_iter().map(Into::into).collect();
        self
    }

    /// Also emits the entry's id (`1700000000000-0`) as the last field, named `name`.
    #[must_use]
    pub fn with_entry_id(mut self, name: impl Into<String>) -> Self {
        self.id_field = Some(name.into());
        self
    }

    fn command_error(&self, source: redis::RedisError) -> RedisError {
        RedisError::Command {
            url: self.url.clone(),
            source,
        }
    }

    /// The connection, (re)connecting and creating the group first; `None` while waiting to
    /// retry an unreachable server.
    fn conn(&mut self) -> Result<Option<&mut redis::Connection>, RedisError> {
        if self.conn.is_none() {
            if !self.reconnect.ready(Instant::now()) {
                return Ok(None);
            }
            let mut conn = match connect(&self.url) {
                Ok(c) => c,
                Err(e) => return Err(self.backing_off(e)),
            };
            let created: redis::RedisResult<()> = redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(&self.stream)
                .arg(&self.group)
                .arg("0")
                .arg("MKSTREAM")
                .query(&mut conn);
            match created {
                Ok(()) => {}
                Err(e) if e.code() == Some("BUSYGROUP") => {}
                Err(e) => {
                    let e = self.command_error(e);
                    return Err(self.backing_off(e));
                }
            }
            self.reconnect.succeeded();
            self.conn = Some(conn);
        }
        Ok(self.conn.as_mut())
    }

    /// Drops the connection and waits longer before the next attempt.
    fn backing_off(&mut self, e: RedisError) -> RedisError {
        self.conn = None;
        let wait = self.reconnect.failed(Instant::now());
        tracing::warn!(error = %e, retry_in = ?wait, "redis unreachable; backing off");
        e
    }

    fn fetched(&mut self, entries: Vec<StreamId>) -> Vec<Fetched<String>> {
        let (gone, entries): (Vec<StreamId>, Vec<StreamId>) =
            entries.into_iter().partition(|e| e.map.is_empty());
        self.deleted.extend(gone.into_iter().map(|e| e.id));
        entries
            .into_iter()
            .map(|entry| {
                let mut values = Values::with_capacity(self.fields.len() + 1);
                for field in &self.fields {
                    values.push(
                        entry
                            .map
                            .get(field)
                            .map_or(squall_topology_api::Value::Null, value_of),
                    );
                }
                if self.id_field.is_some() {
                    values.push(entry.id.as_str());
                }
                Fetched {
                    position: entry.id,
                    values,
                }
            })
            .collect()
    }

    /// One read, according to the phase.
    fn fetch(&mut self) -> Result<(), RedisError> {
        // Claiming what dead consumers left is at-least-once's recovery; a replayable spout's
        // consumer is its task's, and its own entries are all it replays.
        if self.phase == Phase::New && !self.replayable && Instant::now() >= self.next_claim {
            self.phase = Phase::Claim {
                cursor: "0-0".to_owned(),
            };
        }
        let (stream, group, consumer, min_idle) = (
            self.stream.clone(),
            self.group.clone(),
            self.consumer.clone(),
            self.min_idle_ms,
        );
        let phase = self.phase.clone();
        let Some(conn) = self.conn()? else {
            return Ok(());
        };
        let result = match phase {
            Phase::Own { after } => {
                read_group(conn, &stream, &group, &consumer, &after).map(|entries| {
                    let next = match entries.last() {
                        Some(last) => Phase::Own {
                            after: last.id.clone(),
                        },
                        None if self.replayable => Phase::New,
                        None => Phase::Claim {
                            cursor: "0-0".to_owned(),
                        },
                    };
                    (entries, next)
                })
            }
            Phase::Claim { cursor } => {
                let reply: redis::RedisResult<StreamAutoClaimReply> = redis::cmd("XAUTOCLAIM")
                    .arg(&stream)
                    .arg(&group)
                    .arg(&consumer)
                    .arg(min_idle)
                    .arg(&cursor)
                    .arg("COUNT")
                    .arg(READ_COUNT)
                    .query(conn);
                reply
                    .map(|r| {
                        let next = if r.next_stream_id == "0-0" {
                            Phase::New
                        } else {
                            Phase::Claim {
                                cursor: r.next_stream_id,
                            }
                        };
                        (r.claimed, next)
                    })
                    .map(|(claimed, next)| (self.not_held(claimed), next))
            }
            Phase::New => {
                read_group(conn, &stream, &group, &consumer, ">").map(|e| (e, Phase::New))
            }
        };
        match result {
            Ok((entries, next)) => {
                if !entries.is_empty() && !matches!(next, Phase::New) {
                    tracing::info!(stream = %self.stream, entries = entries.len(), phase = ?self.phase, "re-emitting pending entries");
                }
                if next == Phase::New && self.phase != Phase::New {
                    self.next_claim = Instant::now() + Duration::from_millis(self.min_idle_ms);
                }
                self.phase = next;
                let fetched = self.fetched(entries);
                if self.replayable {
                    self.unsent.extend(fetched);
                } else {
                    self.tracker.fetched(fetched);
                }
                Ok(())
            }
            Err(e) => {
                let e = self.command_error(e);
                Err(self.backing_off(e))
            }
        }
    }

    /// The claimed entries this task does not hold already. An entry it replays from memory,
    /// or holds unacknowledged, may have been idle at Redis long enough to be claimed back
    /// (the claim threshold is the message timeout), and must not be emitted a second time.
    fn not_held(&self, claimed: Vec<StreamId>) -> Vec<StreamId> {
        if claimed.is_empty() {
            return claimed;
        }
        let held: HashSet<&String> = self
            .tracker
            .unacked_positions()
            .chain(self.tracker.completed())
            .collect();
        if held.is_empty() {
            return claimed;
        }
        claimed
            .into_iter()
            .filter(|e| !held.contains(&e.id))
            .collect()
    }

    /// Resets the idle time at Redis of every entry this task holds (`XCLAIM … JUSTID` to
    /// itself), a third of the claim threshold apart, as a JetStream consumer marks its
    /// messages in progress. Without it an entry held longer than the message timeout (a slow
    /// tree, or one waiting behind `topology.max.spout.pending` or a retry delay) was claimed
    /// by another task's pass over idle entries and emitted twice. A deactivated task holds
    /// them too: it keeps them in memory and emits them again once reactivated.
    fn hold_entries(&mut self) -> Result<(), RedisError> {
        let now = Instant::now();
        if self.replayable || now < self.next_hold {
            return Ok(());
        }
        if self.tracker.unacked_positions().next().is_none() {
            self.next_hold = now + self.hold_every();
            return Ok(());
        }
        if self.conn()?.is_none() {
            return Ok(());
        }
        let held: Vec<String> = self.tracker.unacked_positions().cloned().collect();
        let (stream, group, consumer) = (
            self.stream.clone(),
            self.group.clone(),
            self.consumer.clone(),
        );
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        for chunk in held.chunks(HOLD_BATCH) {
            let reset: redis::RedisResult<redis::Value> = redis::cmd("XCLAIM")
                .arg(&stream)
                .arg(&group)
                .arg(&consumer)
                .arg(0)
                .arg(chunk)
                .arg("JUSTID")
                .query(conn);
            if let Err(e) = reset {
                let e = self.command_error(e);
                return Err(self.backing_off(e));
            }
        }
        self.next_hold = now + self.hold_every();
        Ok(())
    }

    fn hold_every(&self) -> Duration {
        Duration::from_millis(self.min_idle_ms / 3)
    }

    /// Acknowledges completed entries to Redis when enough wait or they waited long enough.
    fn flush_acks(&mut self, force: bool) -> Result<(), RedisError> {
        let waiting = self.tracker.completed().len() + self.deleted.len();
        if waiting == 0 || (!force && waiting < ACK_BATCH && self.last_ack.elapsed() < ACK_EVERY) {
            return Ok(());
        }
        let (stream, group) = (self.stream.clone(), self.group.clone());
        let ids: Vec<String> = self
            .tracker
            .completed()
            .iter()
            .chain(&self.deleted)
            .cloned()
            .collect();
        let Some(conn) = self.conn()? else {
            return Ok(());
        };
        let acked: redis::RedisResult<i64> = redis::cmd("XACK")
            .arg(&stream)
            .arg(&group)
            .arg(&ids)
            .query(conn);
        match acked {
            Ok(_) => {
                self.tracker.take_completed();
                self.deleted.clear();
                self.last_ack = Instant::now();
                Ok(())
            }
            Err(e) => {
                let e = self.command_error(e);
                Err(self.backing_off(e))
            }
        }
    }
}

fn read_group(
    conn: &mut redis::Connection,
    stream: &str,
    group: &str,
    consumer: &str,
    from: &str,
) -> redis::RedisResult<Vec<StreamId>> {
    let reply: Option<StreamReadReply> = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(group)
        .arg(consumer)
        .arg("COUNT")
        .arg(READ_COUNT)
        .arg("STREAMS")
        .arg(stream)
        .arg(from)
        .query(conn)?;
    Ok(reply
        .into_iter()
        .flat_map(|r| r.keys)
        .flat_map(|k| k.ids)
        .collect())
}

impl Spout for RedisStreamSpout {
    fn declare_outputs(&self, declarer: &mut OutputDeclarer) {
        let names = self
            .fields
            .iter()
            .map(String::as_str)
            .chain(self.id_field.as_deref());
        declarer.declare(Fields::new(names));
    }

    fn open(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        self.consumer = format!(
            "{}-{}",
            context.this_component_id(),
            context.this_task_index()
        );
        let timeout = context
            .config()
            .get_f64(keys::TOPOLOGY_MESSAGE_TIMEOUT_SECS)
            .filter(|t| *t > 0.0)
            .map_or(DEFAULT_TIMEOUT, Duration::from_secs_f64);
        self.min_idle_ms = timeout.as_millis() as u64;
        self.next_claim = Instant::now();
        Ok(())
    }

    fn next_tuple(&mut self, collector: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        self.flush_acks(false)?;
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

    fn fail(&mut self, msg_id: MessageId) {
        self.tracker.fail(msg_id);
    }

    fn housekeeping_interval(&self) -> Option<Duration> {
        Some(HOUSEKEEPING)
    }

    /// Acknowledges what completed and keeps the held entries' idle times short, also while
    /// `next_tuple` is not called (`topology.max.spout.pending` trees in flight, or
    /// deactivated).
    fn housekeep(&mut self) -> Result<(), ComponentError> {
        if self.replayable {
            return Ok(());
        }
        self.flush_acks(false)?;
        self.hold_entries()?;
        Ok(())
    }

    fn deactivate(&mut self) {
        if let Err(e) = self.flush_acks(true) {
            tracing::warn!(error = %e, "could not acknowledge completed entries; they will be delivered again");
        }
    }

    fn close(&mut self) {
        if let Err(e) = self.flush_acks(true) {
            tracing::warn!(error = %e, "could not acknowledge completed entries; they will be delivered again");
        }
        let left = self.tracker.forget_pending();
        if left > 0 {
            tracing::info!(
                entries = left,
                "entries left pending in the group, delivered again after a restart"
            );
        }
    }
}

/// Orders stream entry ids (`<ms>-<seq>`) as Redis does.
fn compare_ids(a: &str, b: &str) -> Ordering {
    let parse = |id: &str| {
        let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
        (
            ms.parse::<u64>().unwrap_or(0),
            seq.parse::<u64>().unwrap_or(0),
        )
    };
    parse(a).cmp(&parse(b))
}

/// Exactly-once reading: the position is the id of the last entry emitted. Entries stay
/// pending in the group until a checkpoint commits them, so a rewind re-reads this consumer's
/// own pending entries after the committed id (`XREADGROUP` from an id), then new ones (`>`).
impl ReplayableSpout for RedisStreamSpout {
    type Position = String;

    fn declare_outputs(&self, declarer: &mut OutputDeclarer) {
        Spout::declare_outputs(self, declarer);
    }

    fn open(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        // In an at-least-once topology it is the plain spout: entries acknowledged per tree.
        self.replayable = squall_topology_api::state::exactly_once(context);
        Spout::open(self, context)
    }

    fn next_tuple(&mut self, collector: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        if !self.replayable {
            // Run as a `ReplayableSpout` it gets no `housekeep`: its held entries are kept
            // here instead (a clock read per call the plain spout does not pay).
            self.hold_entries()?;
            return Spout::next_tuple(self, collector);
        }
        if self.unsent.is_empty() {
            self.fetch()?;
        }
        if let Some(entry) = self.unsent.pop_front() {
            collector.emit_with_id(entry.values, 0)?;
            self.unacked.push_back(entry.position.clone());
            self.last_emitted = Some(entry.position);
        }
        Ok(())
    }

    fn position(&self) -> String {
        self.last_emitted.clone().unwrap_or_else(|| "0".to_owned())
    }

    fn seek(&mut self, position: Option<&String>) -> Result<(), ComponentError> {
        let after = position.cloned().unwrap_or_else(|| "0".to_owned());
        self.unsent.clear();
        self.unacked
            .retain(|id| compare_ids(id, &after) != Ordering::Greater);
        self.last_emitted = position.cloned();
        self.phase = Phase::Own { after };
        Ok(())
    }

    fn committed(&mut self, position: &String) {
        let mut ids: Vec<String> = std::mem::take(&mut self.deleted);
        while self
            .unacked
            .front()
            .is_some_and(|id| compare_ids(id, position) != Ordering::Greater)
        {
            ids.extend(self.unacked.pop_front());
        }
        if ids.is_empty() {
            return;
        }
        let (stream, group) = (self.stream.clone(), self.group.clone());
        let acked = match self.conn() {
            Ok(Some(conn)) => redis::cmd("XACK")
                .arg(&stream)
                .arg(&group)
                .arg(&ids)
                .query::<i64>(conn)
                .map_err(|e| self.command_error(e)),
            Ok(None) => Err(RedisError::NoAnswer {
                url: self.url.clone(),
            }),
            Err(e) => Err(e),
        };
        if let Err(e) = acked {
            // Still pending, and before the committed position, so never replayed: they are
            // acknowledged with the next commit.
            tracing::warn!(error = %e, entries = ids.len(), "could not acknowledge committed entries; retrying at the next checkpoint");
            self.deleted.extend(ids);
        }
    }

    fn ack(&mut self, msg_id: MessageId) {
        Spout::ack(self, msg_id);
    }

    fn fail(&mut self, msg_id: MessageId) {
        Spout::fail(self, msg_id);
    }

    fn deactivate(&mut self) {
        if !self.replayable {
            Spout::deactivate(self);
        }
    }

    fn close(&mut self) {
        if !self.replayable {
            Spout::close(self);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> StreamId {
        StreamId {
            id: id.to_owned(),
            map: [("n".to_owned(), redis::Value::Int(1))].into(),
            ..StreamId::default()
        }
    }

    #[test]
    fn claimed_entries_this_task_holds_are_not_read_again() {
        let mut spout = RedisStreamSpout::new("redis://127.0.0.1:1", "in", "g").fields(["n"]);
        let fetched = spout.fetched(vec![entry("1-0"), entry("2-0"), entry("3-0")]);
        spout.tracker.fetched(fetched);
        // 1-0 in flight, 2-0 failed and waiting to be replayed, 3-0 not emitted yet.
        let (first, _) = spout.tracker.next_to_emit().unwrap();
        let (second, _) = spout.tracker.next_to_emit().unwrap();
        spout.tracker.fail(second);
        let ids = |entries: Vec<StreamId>| entries.into_iter().map(|e| e.id).collect::<Vec<_>>();
        let claimed = vec![entry("1-0"), entry("2-0"), entry("3-0"), entry("4-0")];
        assert_eq!(ids(spout.not_held(claimed)), ["4-0"]);
        // Completed, its XACK not sent yet: still held.
        spout.tracker.ack(first);
        assert_eq!(
            ids(spout.not_held(vec![entry("1-0")])),
            Vec::<String>::new()
        );
    }

    #[test]
    fn stream_ids_order_by_time_then_sequence() {
        assert_eq!(compare_ids("1700-0", "1700-1"), Ordering::Less);
        assert_eq!(compare_ids("1700-10", "1700-9"), Ordering::Greater);
        assert_eq!(compare_ids("999-5", "1000-0"), Ordering::Less);
        assert_eq!(compare_ids("0", "1-0"), Ordering::Less);
    }
}
