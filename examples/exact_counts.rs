//! Exactly-once counts from a Redis stream: entries with a `key` field are read through a
//! consumer group by a replayable spout, counted per key in exactly-once keyed state, and at
//! each checkpoint the counts are committed to the Redis hash `exact_counts` (key → count)
//! through a two-phase sink. The hash never holds an uncommitted or double-counted value,
//! whatever fails: after a crash every count and every spout goes back to the last committed
//! checkpoint and the entries since are read again.
//!
//!     redis-server --port 6379 &
//!     redis-cli XADD events '*' key storm
//!     cargo run --release --example exact_counts -- --redis redis://127.0.0.1:6379 \
//!         --stream events --group squall --seconds 10
//!
//! The group is created at the stream's start if it is missing; the counts' state is kept in
//! the same Redis server. With `--seconds N` it stops by itself and prints the spouts' totals
//! last: `emitted=<n> acked=<n> failed=<n>`. Submitted with `squall submit BINARY -- --redis
//! ...` it runs on a cluster (`--workers W`).

use clap::Parser;
use squall_connectors::redis::{RedisCommitSink, RedisStateBackend, RedisStreamSpout};
use squall_worker::prelude::*;
use squall_worker::state::{
    TOPOLOGY_STATE_GUARANTEE, TOPOLOGY_STATE_PROVIDER, TOPOLOGY_STATE_PROVIDER_CONFIG,
};

#[derive(Parser)]
#[command(
    about = "Exactly-once counts per key from a Redis stream into the Redis hash exact_counts"
)]
struct Args {
    /// The Redis server, redis://HOST:PORT.
    #[arg(long)]
    redis: String,
    /// The stream to read.
    #[arg(long, default_value = "events")]
    stream: String,
    /// The consumer group to read it through.
    #[arg(long, default_value = "squall")]
    group: String,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long)]
    seconds: Option<u64>,
    /// Executors for the spout, the count and the sink.
    #[arg(long, default_value_t = 2)]
    parallelism: u32,
    /// topology.workers, when submitted to a cluster.
    #[arg(long, default_value_t = 1)]
    workers: u32,
}

/// Counts entries per key in exactly-once state and emits each key's new count.
struct CountKeys;

impl StatefulBolt for CountKeys {
    type Key = String;
    type Value = i64;

    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["key", "count"]));
    }

    fn execute(
        &mut self,
        input: &Tuple,
        state: &mut KeyValueState<String, i64>,
        out: &mut BasicCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        let key = input.get_str("key")?.to_owned();
        let count = state.entry(key.clone()).or_insert(0);
        *count += 1;
        let n = *count;
        out.emit(values![key, n])?;
        Ok(())
    }
}

fn topology(args: &Args) -> anyhow::Result<Topology> {
    let mut b = TopologyBuilder::new();
    let (url, stream, group) = (args.redis.clone(), args.stream.clone(), args.group.clone());
    b.set_replayable_spout(
        "events",
        move || RedisStreamSpout::new(&url, &stream, &group).fields(["key"]),
        args.parallelism,
    );
    b.set_stateful_bolt("count", || CountKeys, args.parallelism)
        .fields_grouping("events", ["key"]);
    let url = args.redis.clone();
    b.set_two_phase_sink(
        "store",
        move || RedisCommitSink::new(&url, "exact_counts", "key", "count"),
        args.parallelism,
    )
    .fields_grouping("count", ["key"]);
    b.state_backend("redis", RedisStateBackend::from_config);
    Ok(b.build()?)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let topology = topology(&args)?;
    let mut conf = Config::new();
    conf.set_max_spout_pending(2_000)
        .set_num_workers(args.workers);
    conf.set(TOPOLOGY_STATE_GUARANTEE, "exactly_once");
    conf.set(TOPOLOGY_STATE_PROVIDER, "redis");
    conf.set(
        TOPOLOGY_STATE_PROVIDER_CONFIG,
        serde_json::json!({ "url": args.redis }),
    );
    if squall_worker::serve_cluster_role(&topology, &conf)? {
        return Ok(());
    }
    squall_examples::run_local_for("exact-counts", &conf, &topology, args.seconds)
}
