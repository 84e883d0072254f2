//! A topology over a Kafka topic, for the connector tests: records (value `n`) read as group
//! `--group` → a bolt that fails the first sighting of every `--fail-every`th record → a sink
//! producing each value to topic `--out` (acked once the broker confirmed it).
//!
//!     kafka_topology --brokers HOST:PORT --topic IN --group G --out OUT [--fail-every 10] [--workers 2]
//!         [--max-pending 1000]

use squall_connectors::kafka::{KafkaSink, KafkaSpout};
use squall_tests::flaky::{Flaky, arg};
use squall_worker::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let brokers = arg(&args, "--brokers").ok_or("--brokers HOST:PORT is required")?;
    let topic = arg(&args, "--topic").unwrap_or_else(|| "in".into());
    let group = arg(&args, "--group").unwrap_or_else(|| "squall".into());
    let out = arg(&args, "--out").unwrap_or_else(|| "out".into());
    let every: i64 = arg(&args, "--fail-every").map_or(Ok(10), |s| s.parse())?;
    let workers: u32 = arg(&args, "--workers").map_or(Ok(2), |s| s.parse())?;
    let max_pending: u64 = arg(&args, "--max-pending").map_or(Ok(1_000), |s| s.parse())?;
    let mut builder = TopologyBuilder::new();
    let spout_brokers = brokers.clone();
    builder.set_spout(
        "records",
        move || KafkaSpout::new(&spout_brokers, &topic, &group),
        2,
    );
    builder
        .set_bolt("flaky", move || Flaky::new(every, "value", "value"), 2)
        .shuffle_grouping("records");
    builder
        .set_bolt("sink", move || KafkaSink::new(&brokers, &out, "value"), 2)
        .shuffle_grouping("flaky");
    let topology = builder.build()?;
    let mut conf = Config::new();
    conf.set_num_workers(workers)
        .set_max_spout_pending(max_pending)
        .set_message_timeout_secs(10);
    if squall_worker::serve_cluster_role(&topology, &conf)? {
        return Ok(());
    }
    let running = LocalTopology::start("kafka", &conf, &topology)?;
    let seconds: u64 = arg(&args, "--seconds").map_or(Ok(10), |s| s.parse())?;
    std::thread::sleep(std::time::Duration::from_secs(seconds));
    let s = running
        .kill(std::time::Duration::from_millis(500))
        .spout_totals();
    println!(
        "emitted={} acked={} failed={}",
        s.emitted, s.acked, s.failed
    );
    Ok(())
}
