//! A stateful topology over a Redis stream, for the state tests: entries (field `key`) read
//! through a consumer group → a stateful bolt counting entries per key, its state in Redis
//! (`squall:state:<name>:count-<task>`, key → count as JSON).
//!
//!     state_topology --redis URL --stream IN --group G [--workers 2] [--interval-ms 500]

use squall_connectors::redis::{RedisStateBackend, RedisStreamSpout};
use squall_tests::flaky::arg;
use squall_worker::prelude::*;
use squall_worker::state::{
    TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS, TOPOLOGY_STATE_PROVIDER, TOPOLOGY_STATE_PROVIDER_CONFIG,
};

/// Counts entries per key.
struct Count;

impl StatefulBolt for Count {
    type Key = String;
    type Value = i64;

    fn execute(
        &mut self,
        input: &Tuple,
        state: &mut KeyValueState<String, i64>,
        _out: &mut BasicCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        *state.entry(input.get_str("key")?.to_owned()).or_insert(0) += 1;
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let url = arg(&args, "--redis").ok_or("--redis URL is required")?;
    let stream = arg(&args, "--stream").unwrap_or_else(|| "in".into());
    let group = arg(&args, "--group").unwrap_or_else(|| "squall".into());
    let workers: u32 = arg(&args, "--workers").map_or(Ok(2), |s| s.parse())?;
    let interval: u64 = arg(&args, "--interval-ms").map_or(Ok(500), |s| s.parse())?;
    let mut builder = TopologyBuilder::new();
    let spout_url = url.clone();
    builder.set_spout(
        "entries",
        move || RedisStreamSpout::new(&spout_url, &stream, &group).fields(["key"]),
        2,
    );
    builder
        .set_stateful_bolt("count", || Count, 2)
        .fields_grouping("entries", ["key"]);
    builder.state_backend("redis", RedisStateBackend::from_config);
    let topology = builder.build()?;
    let mut conf = Config::new();
    conf.set_num_workers(workers)
        .set_max_spout_pending(1_000)
        .set_message_timeout_secs(10);
    conf.set(TOPOLOGY_STATE_CHECKPOINT_INTERVAL_MS, interval);
    conf.set(TOPOLOGY_STATE_PROVIDER, "redis");
    conf.set(
        TOPOLOGY_STATE_PROVIDER_CONFIG,
        serde_json::json!({ "url": url }),
    );
    if squall_worker::serve_cluster_role(&topology, &conf)? {
        return Ok(());
    }
    let running = LocalTopology::start("state", &conf, &topology)?;
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
