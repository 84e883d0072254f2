//! The Kafka spout as a replayable spout, against a real Kafka-protocol broker (Tansu): with
//! `exactly_once` state, 3,000 records over three partitions counted per key by a bolt that
//! fails every seventh record once (each failure rewinds every task and the spout's
//! partitions to the last checkpoint). The group's offsets reach the end of every partition,
//! moved only by committed checkpoints, and the committed counts are exact.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use squall_connectors::kafka::KafkaSpout;
use squall_connectors::redis::RedisStateBackend;
use squall_tests::cluster::eventually;
use squall_tests::kafka_server::KafkaServer;
use squall_tests::redis_server::{RedisServer, committed_counts};
use squall_worker::prelude::*;
use squall_worker::state::{
    TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS, TOPOLOGY_STATE_GUARANTEE, TOPOLOGY_STATE_PROVIDER,
    TOPOLOGY_STATE_PROVIDER_CONFIG,
};

const RECORDS: i64 = 3_000;
const KEYS: i64 = 10;

/// Counts records per key (`k<n % KEYS>`); fails the first sighting of every seventh once.
struct CountKeys {
    failed: HashSet<i64>,
}

impl StatefulBolt for CountKeys {
    type Key = String;
    type Value = i64;

    fn execute(
        &mut self,
        input: &Tuple,
        state: &mut KeyValueState<String, i64>,
        _out: &mut BasicCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        let n: i64 = input.get_str("n")?.parse()?;
        if n % 7 == 3 && self.failed.insert(n) {
            return Err(ComponentError::msg("fails once"));
        }
        *state.entry(format!("k{}", n % KEYS)).or_insert(0) += 1;
        Ok(())
    }
}

#[test]
fn exactly_once_counts_from_kafka_are_exact_through_rewinds_and_the_group_catches_up() {
    let Some(kafka) = KafkaServer::start() else {
        return;
    };
    kafka.create_topic("numbers", 3);
    kafka.produce("numbers", (0..RECORDS).map(|n| n.to_string()));
    let mut reader = kafka.reader("numbers");
    assert_eq!(reader.catch_up().len() as i64, RECORDS);

    let Some(redis) = RedisServer::start() else {
        return;
    };
    let brokers = kafka.brokers.clone();
    let mut b = TopologyBuilder::new();
    b.set_replayable_spout(
        "records",
        move || KafkaSpout::new(&brokers, "numbers", "squall").value_only("n"),
        2,
    );
    b.set_stateful_bolt(
        "count",
        || CountKeys {
            failed: HashSet::new(),
        },
        2,
    )
    .shuffle_grouping("records");
    b.state_backend("redis", RedisStateBackend::from_config);
    let mut conf = Config::new();
    conf.set(TOPOLOGY_STATE_GUARANTEE, "exactly_once");
    conf.set(TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS, 200);
    conf.set(TOPOLOGY_STATE_PROVIDER, "redis");
    conf.set(
        TOPOLOGY_STATE_PROVIDER_CONFIG,
        format!(r#"{{"url": "{}"}}"#, redis.url),
    );
    let running = LocalTopology::start("kafka-eo", &conf, &b.build().unwrap()).unwrap();
    let truth: BTreeMap<String, i64> = (0..KEYS)
        .map(|k| (format!("k{k}"), RECORDS / KEYS))
        .collect();
    let mut conn = redis.conn();
    let mut worst_excess = i64::MIN;
    let counted = eventually(Duration::from_secs(120), || {
        let counts = committed_counts(&mut conn, "kafka-eo-local", "count");
        let excess = counts
            .iter()
            .map(|(k, n)| n - truth.get(k).copied().unwrap_or(0))
            .max()
            .unwrap_or(0);
        worst_excess = worst_excess.max(excess);
        counts == truth
    });
    // The group's offsets follow the committed checkpoints to the end of every partition.
    let caught_up = eventually(Duration::from_secs(60), || {
        kafka.lag(&reader, "numbers", "squall") == 0
    });
    let totals = running.kill(Duration::from_millis(500)).spout_totals();
    let counts = committed_counts(&mut conn, "kafka-eo-local", "count");
    println!(
        "kafka exactly_once: counted {} of {RECORDS}, worst key excess at any time {worst_excess}, spout emitted={} failed={}",
        counts.values().sum::<i64>(),
        totals.emitted,
        totals.failed
    );
    assert!(
        counted,
        "committed counts {counts:?} never equalled the truth"
    );
    assert!(
        worst_excess <= 0,
        "a count exceeded the truth by {worst_excess}"
    );
    assert!(
        caught_up,
        "the group's lag is {}",
        kafka.lag(&reader, "numbers", "squall")
    );
    assert!(
        totals.emitted > RECORDS as u64,
        "the failures were expected to rewind and replay records"
    );
}
