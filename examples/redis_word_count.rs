//! Word count over a Redis stream: entries with a `sentence` field are read through a consumer
//! group, split into words, counted per word (fields grouping), and each word's running count
//! is written to the Redis hash `word_counts`; an entry is acknowledged to Redis (`XACK`) only
//! once every write it led to is confirmed.
//!
//!     redis-server --port 6379 &
//!     redis-cli XADD sentences '*' sentence "the cow jumped over the moon"
//!     cargo run --release --example redis_word_count -- --redis redis://127.0.0.1:6379 \
//!         --stream sentences --group squall --seconds 10
//!
//! The group is created at the stream's start if it is missing. With `--seconds N` it stops by
//! itself and prints the spouts' totals last: `emitted=<n> acked=<n> failed=<n>`. Submitted
//! with `squall submit BINARY -- --redis ...` it runs on a cluster.

use std::time::{Duration, Instant};

use clap::Parser;
use squall_worker::prelude::*;

#[derive(Parser)]
#[command(about = "Word count from a Redis stream into the Redis hash word_counts")]
struct Args {
    /// The Redis server, redis://HOST:PORT.
    #[arg(long)]
    redis: String,
    /// The stream to read.
    #[arg(long, default_value = "sentences")]
    stream: String,
    /// The consumer group to read it through.
    #[arg(long, default_value = "squall")]
    group: String,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long)]
    seconds: Option<u64>,
    /// Executors for the split, count and store bolts.
    #[arg(long, default_value_t = 2)]
    parallelism: u32,
    /// topology.workers, when submitted to a cluster.
    #[arg(long, default_value_t = 1)]
    workers: u32,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let topology = squall_examples::redis_word_count::topology(
        &args.redis,
        &args.stream,
        &args.group,
        1,
        args.parallelism,
    )?;
    let mut conf = Config::new();
    conf.set_max_spout_pending(2_000)
        .set_num_workers(args.workers);
    if squall_worker::serve_cluster_role(&topology, &conf)? {
        return Ok(());
    }
    squall_examples::log_to_stderr();
    let running = LocalTopology::start("redis-word-count", &conf, &topology)?;
    let started = Instant::now();
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let s = running.stats().spout_totals();
        println!(
            "t={}s emitted={} acked={} failed={}",
            started.elapsed().as_secs(),
            s.emitted,
            s.acked,
            s.failed
        );
        if args
            .seconds
            .is_some_and(|n| started.elapsed() >= Duration::from_secs(n))
        {
            break;
        }
    }
    let stats = running.kill(Duration::from_millis(500));
    for c in &stats.components {
        if let Some(e) = c.errors.last() {
            println!("last error of {}: {}", c.id, e.message);
        }
    }
    let s = stats.spout_totals();
    println!(
        "emitted={} acked={} failed={}",
        s.emitted, s.acked, s.failed
    );
    Ok(())
}
