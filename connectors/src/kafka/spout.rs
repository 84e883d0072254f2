//! The Kafka spout: the I/O around a [`Tracker`] and the commit points of [`offsets`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use squall_topology_api::state::ReplayableSpout;
use squall_topology_api::{
    ComponentError, Fields, MessageId, OutputDeclarer, Spout, SpoutCollector, TopologyContext,
    Value, Values,
};

use super::offsets::{commit_points, partitions_for_task};
use super::{IO_TIMEOUT, KafkaError};
use crate::retry::Reconnect;
use crate::tracker::{Fetched, Tracker};

/// Records read per round of polling at most.
const POLL_BATCH: usize = 512;
/// Storm's `offset.commit.period.ms` is 30 s; committing every second keeps what a restart
/// replays small at the cost of one request a second per task.
const COMMIT_EVERY: Duration = Duration::from_secs(1);
/// How often the topic's partitions are looked up again (new partitions get a reader).
const REFRESH_PARTITIONS: Duration = Duration::from_secs(30);
/// How often housekeeping runs: commits, and the probe below.
const HOUSEKEEPING: Duration = Duration::from_millis(200);
/// How long the spout may go without polling its consumer before housekeeping asks the
/// brokers for the topic's metadata instead.
const PROBE_AFTER: Duration = Duration::from_secs(1);
/// How long that request may take: it holds up the executor's acks meanwhile.
const PROBE_TIMEOUT: Duration = Duration::from_millis(300);

/// A record's place: partition and offset.
type Position = (i32, i64);

/// Reads a Kafka topic and emits each record as `topic, partition, offset, key, value` (Storm's
/// default record translator; key and value are text when UTF-8, else bytes, and null when
/// absent) with a message id.
///
/// Partitions are dealt round-robin across the spout's tasks in partition order (Storm's
/// manual partitioner), so each has one reader. A task starts each partition at the group's
/// committed offset, or at the beginning when the group has none. It commits, per partition,
/// the lowest offset whose tree has not completed (or, when all have, the next to read): a
/// failed or timed-out tree is emitted again from memory, and after a crash the group's
/// offsets replay every record that might not have completed, never one before them.
///
/// It is also a [`ReplayableSpout`] (add it with `set_replayable_spout`): with
/// `topology.state.guarantee` = `exactly_once` its position is, per partition, the offset after
/// the last record emitted, recorded with every checkpoint; a rollback reads again from there,
/// and the group's offsets are committed only when a checkpoint commits.
///
/// ```no_run
/// use squall_connectors::kafka::KafkaSpout;
/// use squall_topology_api::TopologyBuilder;
///
/// let mut b = TopologyBuilder::new();
/// b.set_spout("sentences", || KafkaSpout::new("127.0.0.1:9092", "sentences", "squall"), 2);
/// ```
pub struct KafkaSpout {
    brokers: String,
    topic: String,
    group: String,
    settings: Vec<(String, String)>,
    /// Emit only the record's value, under this name, instead of Storm's five fields.
    value_only: Option<String>,
    task: (usize, usize),
    consumer: Option<BaseConsumer>,
    /// When to try the brokers again after failing to set the consumer up.
    reconnect: Reconnect,
    tracker: Tracker<Position>,
    /// Per assigned partition: one past the last offset read.
    next_fetch: BTreeMap<i32, i64>,
    /// Per partition: what the group holds (to commit only what moved).
    committed: BTreeMap<i32, i64>,
    /// Per partition assigned from a known offset and not read from since: that offset, to
    /// warn if the broker's first record comes later.
    resumed_at: BTreeMap<i32, i64>,
    last_commit: Instant,
    /// When the spout last polled its consumer, probed the brokers, or tried to connect.
    last_heard: Instant,
    refresh_at: Instant,
    /// Exactly-once mode: checkpoints, not trees, decide what is done.
    exactly_once: bool,
    /// Exactly-once: per partition, one past the last offset emitted.
    emitted: BTreeMap<i32, i64>,
}

impl KafkaSpout {
    /// Reads `topic` from the cluster at `brokers` (`bootstrap.servers`: `HOST:PORT[,...]`)
    /// as consumer group `group`.
    pub fn new(
        brokers: impl Into<String>,
        topic: impl Into<String>,
        group: impl Into<String>,
    ) -> Self {
        KafkaSpout {
            brokers: brokers.into(),
            topic: topic.into(),
            group: group.into(),
            settings: Vec::new(),
            value_only: None,
            task: (0, 1),
            consumer: None,
            reconnect: Reconnect::default(),
            tracker: Tracker::default(),
            next_fetch: BTreeMap::new(),
            committed: BTreeMap::new(),
            resumed_at: BTreeMap::new(),
            last_commit: Instant::now(),
            last_heard: Instant::now(),
            refresh_at: Instant::now(),
            exactly_once: false,
            emitted: BTreeMap::new(),
        }
    }

    /// Emits each record as one field, its value, named `name` (as a sentence spout would),
    /// instead of `topic, partition, offset, key, value`.
    #[must_use]
    pub fn value_only(mut self, name: impl Into<String>) -> Self {
        self.value_only = Some(name.into());
        self
    }

    /// Sets a librdkafka consumer property (`fetch.min.bytes`, `security.protocol`, ...).
    #[must_use]
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((key.into(), value.into()));
        self
    }

    fn client_error(&self, what: &'static str, source: rdkafka::error::KafkaError) -> KafkaError {
        KafkaError::Client {
            brokers: self.brokers.clone(),
            what,
            source,
        }
    }

    /// A consumer with the group's offsets for this task's partitions, assigned.
    fn open_consumer(&mut self) -> Result<BaseConsumer, KafkaError> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", &self.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set(
                "client.id",
                format!("squall-{}-{}", self.group, self.task.0),
            );
        for (k, v) in &self.settings {
            config.set(k, v);
        }
        let consumer: BaseConsumer = config
            .create()
            .map_err(|e| self.client_error("create consumer", e))?;
        self.assign(&consumer)?;
        Ok(consumer)
    }

    /// Looks the topic's partitions up and assigns this task's share, each from the group's
    /// committed offset (or the beginning); partitions already read keep their position.
    fn assign(&mut self, consumer: &BaseConsumer) -> Result<(), KafkaError> {
        let metadata = consumer
            .fetch_metadata(Some(&self.topic), IO_TIMEOUT)
            .map_err(|e| self.client_error("look up the topic", e))?;
        let all: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == self.topic && t.error().is_none())
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if all.is_empty() {
            return Err(KafkaError::NoPartitions {
                brokers: self.brokers.clone(),
                topic: self.topic.clone(),
            });
        }
        let mine = partitions_for_task(all, self.task.0, self.task.1);
        // A position kept by this task under another parallelism may name partitions that
        // are another task's now: they are not read, recorded or committed here.
        self.next_fetch.retain(|p, _| mine.contains(p));
        self.emitted.retain(|p, _| mine.contains(p));
        let new: Vec<i32> = mine
            .iter()
            .copied()
            .filter(|p| !self.next_fetch.contains_key(p))
            .collect();
        if new.is_empty() && consumer.assignment().is_ok_and(|a| a.count() == mine.len()) {
            return Ok(());
        }
        let mut ask = TopicPartitionList::new();
        for p in &new {
            ask.add_partition(&self.topic, *p);
        }
        let committed = consumer
            .committed_offsets(ask, IO_TIMEOUT)
            .map_err(|e| self.client_error("read the group's offsets", e))?;
        for e in committed.elements() {
            if let Offset::Offset(n) = e.offset() {
                self.committed.insert(e.partition(), n);
            }
        }
        let mut assignment = TopicPartitionList::new();
        let mut starts = Vec::with_capacity(mine.len());
        for p in &mine {
            let start = match (self.next_fetch.get(p), self.committed.get(p)) {
                (Some(n), _) | (None, Some(n)) => Offset::Offset(*n),
                (None, None) => Offset::Beginning,
            };
            starts.push((*p, start));
            if let Offset::Offset(n) = start {
                self.resumed_at.insert(*p, n);
            }
            assignment
                .add_partition_offset(&self.topic, *p, start)
                .map_err(|e| self.client_error("assign partitions", e))?;
        }
        consumer
            .assign(&assignment)
            .map_err(|e| self.client_error("assign partitions", e))?;
        tracing::info!(topic = %self.topic, partitions = ?starts, "reading partitions (partition, from)");
        Ok(())
    }

    /// The consumer, set up first if there is none; `None` while waiting to try again.
    fn consumer(&mut self) -> Result<Option<&BaseConsumer>, KafkaError> {
        if self.consumer.is_none() {
            if !self.reconnect.ready(Instant::now()) {
                return Ok(None);
            }
            match self.open_consumer() {
                Ok(c) => {
                    self.reconnect.succeeded();
                    self.refresh_at = Instant::now() + REFRESH_PARTITIONS;
                    self.consumer = Some(c);
                }
                Err(e) => {
                    let wait = self.reconnect.failed(Instant::now());
                    tracing::warn!(error = %e, retry_in = ?wait, "kafka consumer not ready; backing off");
                    return Err(e);
                }
            }
        }
        Ok(self.consumer.as_ref())
    }

    /// Reads what the consumer has buffered, without waiting.
    fn fetch(&mut self) -> Result<(), KafkaError> {
        if self.consumer.is_some() && Instant::now() >= self.refresh_at {
            self.refresh_at = Instant::now() + REFRESH_PARTITIONS;
            if let Some(consumer) = self.consumer.take() {
                let refreshed = self.assign(&consumer);
                self.consumer = Some(consumer);
                refreshed?;
            }
        }
        let value_only = self.value_only.is_some();
        self.last_heard = Instant::now();
        let Some(consumer) = self.consumer()? else {
            return Ok(());
        };
        let mut read = Vec::new();
        let mut error = None;
        while read.len() < POLL_BATCH {
            match consumer.poll(Duration::ZERO) {
                None => break,
                Some(Ok(record)) => {
                    let text = |bytes: Option<&[u8]>| match bytes {
                        None => Value::Null,
                        Some(b) => match std::str::from_utf8(b) {
                            Ok(s) => Value::from(s),
                            Err(_) => Value::from(b.to_vec()),
                        },
                    };
                    let mut values = Values::with_capacity(5);
                    if !value_only {
                        values.push(Value::from(record.topic()));
                        values.push(Value::from(i64::from(record.partition())));
                        values.push(Value::from(record.offset()));
                        values.push(text(record.key()));
                    }
                    values.push(text(record.payload()));
                    read.push(Fetched {
                        position: (record.partition(), record.offset()),
                        values,
                    });
                }
                Some(Err(e)) => {
                    // Broker or partition trouble librdkafka is already recovering from:
                    // reported, and reading goes on.
                    error = Some(e);
                    break;
                }
            }
        }
        for f in &read {
            let (p, o) = f.position;
            if let Some(asked) = self.resumed_at.remove(&p)
                && o > asked
            {
                // Kafka skips offsets only for compacted records or transaction markers;
                // anything else is a broker that lost them, and the group will commit past.
                tracing::warn!(
                    partition = p,
                    asked,
                    first = o,
                    "the broker's first record is past the offset asked for: offsets in between are skipped"
                );
            }
            let next = self.next_fetch.entry(p).or_insert(o + 1);
            *next = (*next).max(o + 1);
        }
        self.tracker.fetched(read);
        match error {
            Some(e) => Err(self.client_error("read", e)),
            None => Ok(()),
        }
    }

    /// Commits each partition's commit point where it moved, at most every [`COMMIT_EVERY`]
    /// unless forced.
    fn commit(&mut self, force: bool) -> Result<(), KafkaError> {
        if !force && self.last_commit.elapsed() < COMMIT_EVERY {
            return Ok(());
        }
        self.last_commit = Instant::now();
        // Completed positions need no bookkeeping: what is not unacked any more is done.
        self.tracker.take_completed();
        let points = commit_points(&self.next_fetch, self.tracker.unacked_positions().copied());
        self.commit_offsets(points)
    }

    /// Commits to the group each partition's offset in `points` that moved.
    fn commit_offsets(
        &mut self,
        points: impl IntoIterator<Item = (i32, i64)>,
    ) -> Result<(), KafkaError> {
        let moved: Vec<(i32, i64)> = points
            .into_iter()
            .filter(|(p, o)| self.committed.get(p) != Some(o))
            .collect();
        if moved.is_empty() {
            return Ok(());
        }
        let Some(consumer) = self.consumer.as_ref() else {
            return Ok(());
        };
        let mut list = TopicPartitionList::new();
        for (p, o) in &moved {
            list.add_partition_offset(&self.topic, *p, Offset::Offset(*o))
                .map_err(|e| self.client_error("commit", e))?;
        }
        consumer
            // Async: a sync commit waits without bound while the group coordinator is away,
            // stalling every ack and emit of this executor. A commit that fails is only a
            // replay after a restart; the next one carries the same or later offsets.
            .commit(&list, CommitMode::Async)
            .map_err(|e| self.client_error("commit", e))?;
        self.committed.extend(moved);
        Ok(())
    }
}

impl Spout for KafkaSpout {
    fn declare_outputs(&self, declarer: &mut OutputDeclarer) {
        match &self.value_only {
            Some(name) => declarer.declare(Fields::new([name.as_str()])),
            None => declarer.declare(Fields::new([
                "topic",
                "partition",
                "offset",
                "key",
                "value",
            ])),
        };
    }

    fn open(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        let tasks = context.component_tasks(context.this_component_id()).len();
        self.task = (context.this_task_index(), tasks.max(1));
        Ok(())
    }

    fn next_tuple(&mut self, collector: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        self.commit(false)?;
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

    /// Commits what completed, and notices the brokers going away while `next_tuple` is not
    /// called: librdkafka reports broker trouble through the consumer's poll, which only
    /// `next_tuple` does, and a spout whose trees are all stuck (behind a sink that cannot
    /// reach the same brokers, say) is held at max pending and never polls. Then a metadata
    /// request, at most once a second, says whether the brokers answer.
    fn housekeep(&mut self) -> Result<(), ComponentError> {
        // In exactly-once mode checkpoints, not completed trees, decide what is committed.
        if self.exactly_once {
            return Ok(());
        }
        self.commit(false)?;
        if self.last_heard.elapsed() < PROBE_AFTER {
            return Ok(());
        }
        // Not connected yet: `next_tuple` reconnects, with backoff, and reports.
        let Some(consumer) = self.consumer.as_ref() else {
            return Ok(());
        };
        let probe = consumer.fetch_metadata(Some(&self.topic), PROBE_TIMEOUT);
        // From when it returned: a probe that waited its whole timeout is not repeated at once.
        self.last_heard = Instant::now();
        match probe {
            Ok(_) => Ok(()),
            Err(e) => Err(self.client_error("reach the brokers", e).into()),
        }
    }

    fn deactivate(&mut self) {
        if let Err(e) = self.commit(true) {
            tracing::warn!(error = %e, "could not commit completed offsets; they will be read again");
        }
    }

    fn close(&mut self) {
        if let Err(e) = self.commit(true) {
            tracing::warn!(error = %e, "could not commit completed offsets; they will be read again");
        }
    }
}

impl KafkaSpout {
    /// Exactly-once: emits the next record; its tree is not tracked (a checkpoint covers it).
    fn emit_next_once(&mut self, collector: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        if self.tracker.is_drained() {
            self.fetch()?;
        }
        let Some((id, values)) = self.tracker.next_to_emit() else {
            return Ok(());
        };
        let Some((partition, offset)) = self.tracker.forget(id) else {
            return Ok(());
        };
        collector.emit_with_id(values, id)?;
        self.emitted.insert(partition, offset + 1);
        Ok(())
    }
}

impl ReplayableSpout for KafkaSpout {
    /// Per partition this task read: the offset after its last record emitted.
    type Position = BTreeMap<i32, i64>;

    fn declare_outputs(&self, declarer: &mut OutputDeclarer) {
        Spout::declare_outputs(self, declarer);
    }

    fn open(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        // In an at-least-once topology it is the plain spout: offsets committed per tree.
        self.exactly_once = squall_topology_api::state::exactly_once(context);
        Spout::open(self, context)
    }

    fn next_tuple(&mut self, collector: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        if self.exactly_once {
            self.emit_next_once(collector)
        } else {
            Spout::next_tuple(self, collector)
        }
    }

    fn position(&self) -> BTreeMap<i32, i64> {
        self.emitted.clone()
    }

    /// Reads every partition again from its offset in `position`, and a partition not in it
    /// from the group's committed offset (the beginning when the group has none): the
    /// consumer is set up anew.
    fn seek(&mut self, position: Option<&BTreeMap<i32, i64>>) -> Result<(), ComponentError> {
        let position = position.cloned().unwrap_or_default();
        self.consumer = None;
        self.tracker = Tracker::default();
        self.resumed_at.clear();
        self.next_fetch = position.clone();
        self.emitted = position;
        Ok(())
    }

    fn committed(&mut self, position: &BTreeMap<i32, i64>) {
        if let Err(e) = self.commit_offsets(position.iter().map(|(p, o)| (*p, *o))) {
            tracing::warn!(error = %e, "could not commit the checkpoint's offsets to the group; the checkpoint still holds them");
        }
    }

    fn ack(&mut self, msg_id: MessageId) {
        Spout::ack(self, msg_id);
    }

    fn fail(&mut self, msg_id: MessageId) {
        Spout::fail(self, msg_id);
    }

    fn deactivate(&mut self) {
        if !self.exactly_once {
            Spout::deactivate(self);
        }
    }

    fn close(&mut self) {
        if !self.exactly_once {
            Spout::close(self);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};

    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use squall_topology_api::{BasicBolt, BasicCollector, Config, TopologyBuilder, Tuple};
    use squall_worker::LocalTopology;

    use super::*;

    /// Records every value it is given.
    struct Collect(Arc<Mutex<HashSet<String>>>);
    impl BasicBolt for Collect {
        fn declare_outputs(&self, _out: &mut OutputDeclarer) {}
        fn execute(
            &mut self,
            input: &Tuple,
            _out: &mut BasicCollector<'_, '_>,
        ) -> Result<(), ComponentError> {
            let v = input.get_str(0)?.to_owned();
            self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(v);
            Ok(())
        }
    }

    fn produce(brokers: &str, range: std::ops::Range<u32>) {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .create()
            .expect("producer");
        for i in range {
            let payload = format!("m{i}");
            producer
                .send(BaseRecord::<(), String>::to("in").payload(&payload))
                .expect("queued");
        }
        producer.flush(Duration::from_secs(10)).expect("produced");
    }

    fn eventually(limit: Duration, mut ok: impl FnMut() -> bool) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        ok()
    }

    /// The broker goes away for 10 s mid-run (librdkafka's mock broker, taken down and
    /// brought back): the spout reports it, librdkafka reconnects with its own backoff, and
    /// every record, those produced while the spout waited included, reaches the bolt.
    #[test]
    fn the_spout_reports_the_brokers_going_away_and_resumes_losing_nothing() {
        let cluster = MockCluster::new(1).expect("mock cluster");
        cluster.create_topic("in", 2, 1).expect("topic");
        let brokers = cluster.bootstrap_servers();
        produce(&brokers, 0..1000);
        let seen = Arc::new(Mutex::new(HashSet::new()));
        let mut b = TopologyBuilder::new();
        let spout_brokers = brokers.clone();
        b.set_spout(
            "in",
            move || KafkaSpout::new(spout_brokers.clone(), "in", "g").value_only("v"),
            1,
        );
        let sink = Arc::clone(&seen);
        b.set_basic_bolt("collect", move || Collect(Arc::clone(&sink)), 1)
            .shuffle_grouping("in");
        let running = LocalTopology::start("outage", &Config::new(), &b.build().expect("valid"))
            .expect("starts");
        let count = || seen.lock().unwrap_or_else(|p| p.into_inner()).len();
        assert!(
            eventually(Duration::from_secs(20), || count() == 1000),
            "{} of 1000 before the outage",
            count()
        );

        cluster.broker_down(1).expect("broker down");
        std::thread::sleep(Duration::from_secs(10));
        let errors = running
            .stats()
            .component("in")
            .map(|c| c.errors.clone())
            .unwrap_or_default();
        cluster.broker_up(1).expect("broker up");
        produce(&brokers, 1000..2000);
        let all = eventually(Duration::from_secs(30), || count() == 2000);
        running.kill(Duration::ZERO);
        assert!(
            errors.iter().any(|e| e.message.contains("AllBrokersDown")),
            "the spout reported no outage: {errors:?}"
        );
        assert!(all, "{} of 2000 reached the bolt after the outage", count());
    }
}
