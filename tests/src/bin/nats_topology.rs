//! A topology over a JetStream stream, for the connector tests: messages (payload `n`) pulled
//! through the durable consumer `squall` of stream `IN` → a bolt that fails the first sighting
//! of every `--fail-every`th message → a sink publishing each payload to subject `out`.
//!
//!     nats_topology --nats URL [--fail-every 10] [--workers 2]

use squall_connectors::nats::{JetStreamSink, JetStreamSpout};
use squall_tests::flaky::{Flaky, arg};
use squall_worker::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let url = arg(&args, "--nats").ok_or("--nats URL is required")?;
    let every: i64 = arg(&args, "--fail-every").map_or(Ok(10), |s| s.parse())?;
    let workers: u32 = arg(&args, "--workers").map_or(Ok(2), |s| s.parse())?;
    let mut builder = TopologyBuilder::new();
    let spout_url = url.clone();
    builder.set_spout(
        "messages",
        move || JetStreamSpout::new(&spout_url, "IN", "squall"),
        2,
    );
    builder
        .set_bolt("flaky", move || Flaky::new(every, "payload", "payload"), 2)
        .shuffle_grouping("messages");
    builder
        .set_bolt("sink", move || JetStreamSink::new(&url, "out"), 2)
        .shuffle_grouping("flaky");
    let topology = builder.build()?;
    let mut conf = Config::new();
    conf.set_num_workers(workers)
        .set_max_spout_pending(1_000)
        .set_message_timeout_secs(10);
    if squall_worker::serve_cluster_role(&topology, &conf)? {
        return Ok(());
    }
    let running = LocalTopology::start("nats", &conf, &topology)?;
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
