//! A topology over a Redis stream, for the connector tests: entries (field `n`) read through a
//! consumer group → a bolt that fails the first sighting of every `--fail-every`th entry →
//! a sink appending each entry's id to the stream `--out` (acked once Redis confirmed it).
//!
//!     redis_topology --redis URL --stream IN --group G --out OUT [--fail-every 10] [--workers 2]

use squall_connectors::redis::{RedisSink, RedisStreamSpout, RedisWrite};
use squall_tests::flaky::{Flaky, arg};
use squall_worker::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let url = arg(&args, "--redis").ok_or("--redis URL is required")?;
    let stream = arg(&args, "--stream").unwrap_or_else(|| "in".into());
    let group = arg(&args, "--group").unwrap_or_else(|| "squall".into());
    let out = arg(&args, "--out").unwrap_or_else(|| "out".into());
    let every: i64 = arg(&args, "--fail-every").map_or(Ok(10), |s| s.parse())?;
    let workers: u32 = arg(&args, "--workers").map_or(Ok(2), |s| s.parse())?;
    let mut builder = TopologyBuilder::new();
    let spout_url = url.clone();
    builder.set_spout(
        "entries",
        move || {
            RedisStreamSpout::new(&spout_url, &stream, &group)
                .fields(["n"])
                .with_entry_id("id")
        },
        2,
    );
    builder
        .set_bolt("flaky", move || Flaky::new(every, "n", "id"), 2)
        .shuffle_grouping("entries");
    let write = RedisWrite::XAdd {
        stream: out,
        fields: vec!["id".into()],
    };
    builder
        .set_bolt("sink", move || RedisSink::new(&url, write.clone()), 2)
        .shuffle_grouping("flaky");
    let topology = builder.build()?;
    let mut conf = Config::new();
    conf.set_num_workers(workers)
        .set_max_spout_pending(1_000)
        .set_message_timeout_secs(10);
    if squall_worker::serve_cluster_role(&topology, &conf)? {
        return Ok(());
    }
    let running = LocalTopology::start("redis", &conf, &topology)?;
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
