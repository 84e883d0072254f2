//! The Kafka sink: a producer with `acks=all`, inputs acked from its delivery reports.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use squall_topology_api::{Bolt, BoltCollector, ComponentError, TopologyContext, Tuple, Value};

use super::KafkaError;
use crate::retry::Reconnect;

/// How long `close` waits for records still in flight.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// A record's delivery report: its input's number, and why it was refused if it was.
type Report = (usize, Option<String>);

/// Delivery reports not yet settled, as librdkafka hands them to [`BaseProducer::poll`] on
/// the executor's thread.
#[derive(Default, Clone)]
struct Deliveries(Arc<Mutex<Vec<Report>>>);

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, input: usize) {
        let refused = result.as_ref().err().map(|(e, _)| e.to_string());
        // Records purged with a replaced producer belong to inputs already failed.
        let purged = result.as_ref().err().is_some_and(|(e, _)| {
            matches!(
                e.rdkafka_error_code(),
                Some(RDKafkaErrorCode::PurgeQueue | RDKafkaErrorCode::PurgeInflight)
            )
        });
        if let Some(e) = refused.as_ref().filter(|_| !purged) {
            tracing::warn!(error = %e, "kafka did not take a record; its input fails and replays");
        }
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((input, refused));
    }
}

/// Produces one record per input to a Kafka topic (the value from one input field, the key
/// optionally from another) with `acks=all` and, unless [`idempotent(false)`](Self::idempotent),
/// an idempotent producer (librdkafka's retries never write a record twice), and acks each
/// input once the brokers confirmed its record; a record librdkafka gives up on (after
/// `message.timeout.ms`, 30 s here) fails its input, so it replays. A producer librdkafka
/// declares fatally broken is replaced (with backoff) and the inputs it held replay. At least
/// once: a record whose input ack was lost is produced again.
///
/// ```no_run
/// use squall_connectors::kafka::KafkaSink;
/// use squall_topology_api::TopologyBuilder;
/// # struct Counts;
/// # impl squall_topology_api::Spout for Counts {
/// #     fn declare_outputs(&self, out: &mut squall_topology_api::OutputDeclarer) { out.declare(squall_topology_api::Fields::new(["word", "count"])); }
/// #     fn next_tuple(&mut self, _: &mut squall_topology_api::SpoutCollector<'_>) -> Result<(), squall_topology_api::ComponentError> { Ok(()) }
/// # }
///
/// let mut b = TopologyBuilder::new();
/// # b.set_spout("count", || Counts, 1);
/// b.set_bolt("publish", || KafkaSink::new("127.0.0.1:9092", "word_counts", "count").key_field("word"), 1)
///     .fields_grouping("count", ["word"]);
/// ```
pub struct KafkaSink {
    brokers: String,
    topic: String,
    value_field: String,
    key_field: Option<String>,
    settings: Vec<(String, String)>,
    idempotent: bool,
    producer: Option<BaseProducer<Deliveries>>,
    deliveries: Deliveries,
    /// When a producer may next be made after a fatal error or a failed start.
    reconnect: Reconnect,
    /// Inputs whose records await their delivery report, by number.
    waiting: HashMap<usize, Tuple>,
    next: usize,
}

impl KafkaSink {
    /// Produces to `topic` on the cluster at `brokers`, the record's value from input field
    /// `value_field`.
    pub fn new(
        brokers: impl Into<String>,
        topic: impl Into<String>,
        value_field: impl Into<String>,
    ) -> Self {
        KafkaSink {
            brokers: brokers.into(),
            topic: topic.into(),
            value_field: value_field.into(),
            key_field: None,
            settings: Vec::new(),
            idempotent: true,
            producer: None,
            deliveries: Deliveries::default(),
            reconnect: Reconnect::default(),
            waiting: HashMap::new(),
            next: 0,
        }
    }

    /// Keys each record by this input field (records with one key go to one partition).
    #[must_use]
    pub fn key_field(mut self, name: impl Into<String>) -> Self {
        self.key_field = Some(name.into());
        self
    }

    /// Whether the producer is idempotent (on by default): librdkafka's retries then never
    /// write a record twice. Turn it off only for a cluster that refuses idempotent producers
    /// (brokers older than Kafka 0.11, or ACLs without `IdempotentWrite` on brokers before
    /// 2.8); a retried record may then be written twice, which at-least-once allows.
    #[must_use]
    pub fn idempotent(mut self, on: bool) -> Self {
        self.idempotent = on;
        self
    }

    /// Sets a librdkafka producer property (`linger.ms`, `compression.type`, ...);
    /// `acks=all` stays whatever is set, and `enable.idempotence` follows
    /// [`idempotent`](Self::idempotent).
    #[must_use]
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((key.into(), value.into()));
        self
    }

    fn field(input: &Tuple, name: &str) -> Option<Vec<u8>> {
        match input.get(&name).ok()? {
            Value::Str(s) => Some(s.as_bytes().to_vec()),
            Value::Bytes(b) => Some(b.clone()),
            Value::Null => None,
            other => Some(other.to_string().into_bytes()),
        }
    }

    /// The producer, configured: librdkafka's defaults, then the user's settings, then the
    /// guarantee.
    fn create_producer(&self) -> Result<BaseProducer<Deliveries>, KafkaError> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("linger.ms", "5")
            .set("message.timeout.ms", "30000");
        for (k, v) in &self.settings {
            config.set(k, v);
        }
        // Set last, so no `set` undoes the guarantee: every in-sync replica holds a record
        // before its input is acked, and (unless turned off) librdkafka's retries never write
        // a record twice.
        config.set("acks", "all").set(
            "enable.idempotence",
            if self.idempotent { "true" } else { "false" },
        );
        config
            .create_with_context(self.deliveries.clone())
            .map_err(|source| KafkaError::Client {
                brokers: self.brokers.clone(),
                what: "create producer",
                source,
            })
    }

    /// Replaces a producer that librdkafka declared fatally broken (an idempotent producer
    /// refused its producer id, or out of step with the broker's sequence numbers): such a
    /// producer fails every record from then on, so without a new one the sink would fail its
    /// inputs for ever. Reports already in are settled first; the inputs whose records it
    /// still held then fail and replay (their records may have been written: at least once).
    /// Replacements, and retries of a producer that could not be made, wait with exponential
    /// backoff, so a cluster that refuses every new producer is not asked in a tight loop.
    /// Returns the error to report, if any.
    fn replace_if_fatal(&mut self, collector: &mut BoltCollector<'_>) -> Option<ComponentError> {
        let fatal = match &self.producer {
            Some(p) => Some(p.client().fatal_error()?),
            None => None,
        };
        let now = Instant::now();
        if !self.reconnect.ready(now) {
            return None;
        }
        let mut said = String::new();
        if let Some((code, reason)) = fatal {
            if let Some(e) = self.serve_reports(collector) {
                collector.report_error(&e);
            }
            let failed = self.waiting.len();
            for (_, input) in self.waiting.drain() {
                collector.fail(&input);
            }
            // Dropping it purges its queue; those reports name inputs no longer waiting.
            self.producer = None;
            let hint = if code == RDKafkaErrorCode::ClusterAuthorizationFailed && self.idempotent {
                " (a cluster that refuses idempotent producers needs idempotent(false))"
            } else {
                ""
            };
            said = format!(
                "the producer hit a fatal error ({code:?}: {reason}){hint}; {failed} input(s) in flight failed and replay; "
            );
        }
        match self.create_producer() {
            Ok(p) => {
                self.producer = Some(p);
                // Until a record gets through, a next fatal error waits longer.
                self.reconnect.failed(now);
                (!said.is_empty()).then(|| {
                    ComponentError::msg(format!(
                        "kafka at {}: {said}a new producer took over",
                        self.brokers
                    ))
                })
            }
            Err(e) => {
                let wait = self.reconnect.failed(now);
                Some(ComponentError::msg(format!(
                    "{said}{e}; trying again in {wait:?}"
                )))
            }
        }
    }

    /// Serves the producer's delivery reports: acks the inputs whose records were delivered
    /// and fails the others. Returns the error to report for those refused.
    fn serve_reports(&mut self, collector: &mut BoltCollector<'_>) -> Option<ComponentError> {
        if let Some(p) = &self.producer {
            p.poll(Duration::ZERO);
        }
        let reports = std::mem::take(
            &mut *self
                .deliveries
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let mut refused = 0;
        let mut why = None;
        for (n, refusal) in reports {
            let Some(input) = self.waiting.remove(&n) else {
                continue;
            };
            match refusal {
                None => {
                    self.reconnect.succeeded();
                    collector.ack(&input);
                }
                Some(reason) => {
                    refused += 1;
                    why.get_or_insert(reason);
                    collector.fail(&input);
                }
            }
        }
        (refused > 0).then(|| {
            ComponentError::msg(format!(
                "kafka at {}: {refused} record(s) for {} not delivered ({}); their inputs failed and replay",
                self.brokers,
                self.topic,
                why.unwrap_or_default()
            ))
        })
    }

    /// Settles the delivery reports.
    fn settle(&mut self, collector: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        self.serve_reports(collector).map_or(Ok(()), Err)
    }
}

impl Bolt for KafkaSink {
    fn prepare(&mut self, _context: &TopologyContext) -> Result<(), ComponentError> {
        self.producer = Some(self.create_producer()?);
        Ok(())
    }

    fn execute(
        &mut self,
        input: Tuple,
        collector: &mut BoltCollector<'_>,
    ) -> Result<(), ComponentError> {
        let Some(producer) = &self.producer else {
            // Returned, so the executor fails this input (once).
            return Err(ComponentError::msg(format!(
                "kafka at {}: no producer (see the earlier error); the input replays",
                self.brokers
            )));
        };
        if input.get(&self.value_field.as_str()).is_err() {
            // Returned, so the executor fails this input: a misspelt field is an error, not
            // an empty record.
            return Err(KafkaError::MissingField(self.value_field.clone()).into());
        }
        let value = Self::field(&input, &self.value_field);
        let key = self
            .key_field
            .as_deref()
            .and_then(|k| Self::field(&input, k));
        let n = self.next;
        self.next = self.next.wrapping_add(1);
        let mut record = BaseRecord::<Vec<u8>, Vec<u8>, usize>::with_opaque_to(&self.topic, n);
        if let Some(v) = &value {
            record = record.payload(v);
        }
        if let Some(k) = &key {
            record = record.key(k);
        }
        let mut attempt = producer.send(record);
        // A full local queue drains as reports are served: serve them once and try again.
        if let Err((e, record)) = attempt {
            if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) {
                producer.poll(Duration::from_millis(100));
                attempt = producer.send(record);
            } else {
                attempt = Err((e, record));
            }
        }
        match attempt {
            Ok(()) => {
                self.waiting.insert(n, input);
                // Refusals of earlier records are reported, not returned: an error from
                // `execute` would fail this input, whose record is still in flight.
                if let Err(e) = self.settle(collector) {
                    collector.report_error(&e);
                }
                Ok(())
            }
            // Returned, so the executor fails this input (once).
            Err((e, _)) => Err(KafkaError::Client {
                brokers: self.brokers.clone(),
                what: "produce",
                source: e,
            }
            .into()),
        }
    }

    fn poll_interval(&self) -> Option<Duration> {
        Some(Duration::from_millis(2))
    }

    /// Settles the reports, then replaces the producer if it broke: checked here, every
    /// 2 ms, rather than per input (each check is a call into librdkafka).
    fn poll(&mut self, collector: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        let settled = self.settle(collector);
        if let Some(e) = self.replace_if_fatal(collector) {
            collector.report_error(&e);
        }
        settled
    }

    fn cleanup(&mut self) {
        if let Some(p) = &self.producer
            && let Err(e) = p.flush(CLOSE_WAIT)
        {
            tracing::warn!(error = %e, records = self.waiting.len(), "records still in flight at close; their inputs replay");
        }
    }
}

#[cfg(test)]
mod tests {
    use rdkafka::mocking::MockCluster;
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
    use squall_topology_api::{Fields, TopologyBuilder, Values, values};
    use squall_worker::testing::{CompleteTopology, FixedSpout};

    use super::*;

    /// Runs 20 inputs through `sink` on librdkafka's mock cluster after queueing `refusals`
    /// refusals of the producer id (`CLUSTER_AUTHORIZATION_FAILED`, fatal to an idempotent
    /// producer).
    fn run_with_refusals(
        refusals: usize,
        sink: impl Fn(String) -> KafkaSink + Send + Sync + 'static,
    ) -> squall_worker::testing::CompletedRun {
        let cluster = MockCluster::new(1).expect("mock cluster");
        cluster.create_topic("out", 1, 1).expect("topic");
        cluster.request_errors(
            RDKafkaApiKey::InitProducerId,
            &vec![RDKafkaRespErr::RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED; refusals],
        );
        let brokers = cluster.bootstrap_servers();
        let inputs: Vec<Values> = (0..20).map(|i| values![format!("r{i}")]).collect();
        let mut b = TopologyBuilder::new();
        b.set_spout(
            "in",
            move || FixedSpout::new(Fields::new(["v"]), inputs.clone()),
            1,
        );
        b.set_bolt("out", move || sink(brokers.clone()), 1)
            .shuffle_grouping("in");
        CompleteTopology::new()
            .timeout(Duration::from_secs(20))
            .run(&b.build().expect("valid topology"))
            .expect("the topology runs")
    }

    /// librdkafka's mock cluster refuses the sink's idempotent producer its producer id once
    /// (`CLUSTER_AUTHORIZATION_FAILED`), which librdkafka treats as fatal: that producer fails
    /// every record from then on. The sink must replace it, so the inputs that failed replay
    /// and get through; a sink that kept the broken producer failed them for ever.
    #[test]
    fn a_producer_with_a_fatal_error_is_replaced_and_the_replayed_inputs_get_through() {
        let n = 20;
        let run = run_with_refusals(1, |brokers| KafkaSink::new(brokers, "out", "v"));
        let errors = run
            .stats()
            .component("out")
            .map(|c| c.errors.clone())
            .unwrap_or_default();
        assert!(
            errors
                .iter()
                .any(|e| e.message.contains("the producer hit a fatal error")),
            "the mock did not make the producer fatal, or the sink did not say so: {errors:?}"
        );
        assert!(
            run.is_complete(),
            "not every input got through after the fatal error: {} of {n} acked, {} failed",
            run.spout_acked(),
            run.spout_failed()
        );
        assert_eq!(run.spout_acked(), n);
    }

    /// The same refusal does not touch a producer with idempotence turned off: it never asks
    /// for a producer id, so no input fails.
    #[test]
    fn a_producer_without_idempotence_asks_for_no_producer_id() {
        let run = run_with_refusals(100, |brokers| {
            KafkaSink::new(brokers, "out", "v").idempotent(false)
        });
        assert!(run.is_complete());
        assert_eq!((run.spout_acked(), run.spout_failed()), (20, 0));
    }
}
