//! The Redis connector benchmark (`docs/benchmarks.md`): the Redis-stream word count (stream
//! spout → split → count → Redis sink, acking on) against the rate at which the same Redis
//! server ingests `XADD`s from `redis-benchmark`, its ceiling. Rounds alternate the two, since
//! these machines are noisy.
//!
//!     redis-server --port 6379 --save "" &
//!     cargo run --release --example redis_bench -- --redis redis://127.0.0.1:6379
//!
//! Each round prints `round=<r> xadd_per_sec=<n> topology_msgs_per_sec=<n> ratio=<x>
//! topology_cores=<c> redis_cores=<c>`; the last line holds the medians. It deletes the keys
//! `bench:*` and `word_counts` on that server.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use squall_examples::cpu::{pid_cpu_secs, process_cpu_secs};
use squall_examples::redis_word_count::{COUNTS_HASH, topology};
use squall_worker::prelude::*;

// As the other benchmarks (bench.rs): mimalloc, the allocator a topology binary would pick.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const STREAM: &str = "bench:sentences";
const CEILING_STREAM: &str = "bench:ceiling";
const GROUP: &str = "squall";

#[derive(Parser)]
#[command(about = "Redis-stream word count against redis-benchmark's XADD rate")]
struct Args {
    /// The Redis server, redis://HOST:PORT.
    #[arg(long)]
    redis: String,
    /// Messages (sentences of 10 words) per round.
    #[arg(long, default_value_t = 300_000)]
    messages: u64,
    /// Rounds of each.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Executors of each bolt.
    #[arg(long, default_value_t = 2)]
    parallelism: u32,
    /// Spout tasks, each a consumer of the group.
    #[arg(long, default_value_t = 1)]
    spouts: u32,
    /// topology.max.spout.pending of each spout task.
    #[arg(long, default_value_t = 2_000)]
    max_spout_pending: u64,
    /// topology.executor.threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    executor_threads: u64,
}

/// `redis-benchmark`'s XADD rate (pipelined 16 deep, its default 50 clients) for `n` entries.
fn xadd_ceiling(host: &str, port: u16, n: u64, sentence: &str) -> anyhow::Result<f64> {
    let out = Command::new("redis-benchmark")
        .args(["-h", host, "-p", &port.to_string(), "-n", &n.to_string()])
        .args([
            "-P",
            "16",
            "-q",
            "XADD",
            CEILING_STREAM,
            "*",
            "sentence",
            sentence,
        ])
        .output()
        .context("run redis-benchmark (Debian's redis-tools)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "XADD bench:ceiling * sentence ...: 412371.12 requests per second, p50=..." after
    // carriage-return progress lines.
    let rate = text
        .rsplit("requests per second")
        .nth(1)
        .and_then(|before| before.rsplit(' ').find(|w| !w.is_empty()))
        .and_then(|n| n.parse::<f64>().ok());
    match rate {
        Some(r) => Ok(r),
        None => bail!("no rate in redis-benchmark's output: {text}"),
    }
}

/// Entries the group has read, and entries pending (read, not acknowledged).
fn group_progress(conn: &mut redis::Connection) -> anyhow::Result<(u64, u64)> {
    let groups: Vec<std::collections::HashMap<String, redis::Value>> =
        redis::cmd("XINFO").arg("GROUPS").arg(STREAM).query(conn)?;
    let group = groups
        .into_iter()
        .find(
            |g| matches!(g.get("name"), Some(redis::Value::BulkString(b)) if b == GROUP.as_bytes()),
        )
        .context("the consumer group is missing")?;
    let int = |k: &str| match group.get(k) {
        Some(redis::Value::Int(n)) => *n as u64,
        _ => 0,
    };
    Ok((int("entries-read"), int("pending")))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = redis::Client::open(args.redis.as_str())?;
    let mut conn = client.get_connection()?;
    let info: String = redis::cmd("INFO").arg("server").query(&mut conn)?;
    let redis_pid: u32 = info
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|p| p.trim().parse().ok())
        .context("no process_id in INFO server")?;
    let addr = client.get_connection_info().addr().to_string();
    let (host, port) = addr
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?)))
        .context("the URL names no HOST:PORT")?;
    let sentences = squall_examples::data::sentences();
    let topology = topology(&args.redis, STREAM, GROUP, args.spouts, args.parallelism)?;
    let mut conf = Config::new();
    conf.set_max_spout_pending(args.max_spout_pending);
    if args.executor_threads > 0 {
        conf.set("topology.executor.threads", args.executor_threads);
    }

    let (mut ceilings, mut rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=args.rounds {
        let _: () = redis::cmd("DEL")
            .arg(CEILING_STREAM)
            .arg(STREAM)
            .arg(COUNTS_HASH)
            .query(&mut conn)?;
        let ceiling = xadd_ceiling(&host, port, args.messages, &sentences[0])?;
        let _: () = redis::cmd("DEL").arg(CEILING_STREAM).query(&mut conn)?;

        for chunk in sentences
            .iter()
            .cycle()
            .take(args.messages as usize)
            .collect::<Vec<_>>()
            .chunks(10_000)
        {
            let mut pipe = redis::pipe();
            for s in chunk {
                pipe.cmd("XADD")
                    .arg(STREAM)
                    .arg("*")
                    .arg("sentence")
                    .arg(s.as_str())
                    .ignore();
            }
            pipe.query::<()>(&mut conn)?;
        }
        let (cpu0, redis_cpu0) = (process_cpu_secs(), pid_cpu_secs(redis_pid));
        let started = Instant::now();
        let running = LocalTopology::start("redis-bench", &conf, &topology)?;
        loop {
            std::thread::sleep(Duration::from_millis(20));
            let (read, pending) = group_progress(&mut conn).unwrap_or((0, u64::MAX));
            if read >= args.messages && pending == 0 {
                break;
            }
            if started.elapsed() > Duration::from_secs(600) {
                bail!("the topology did not finish in 10 minutes: read {read}, pending {pending}");
            }
        }
        let secs = started.elapsed().as_secs_f64();
        let (cores, redis_cores) = (
            (process_cpu_secs() - cpu0) / secs,
            (pid_cpu_secs(redis_pid) - redis_cpu0) / secs,
        );
        running.kill(Duration::from_millis(500));
        let rate = args.messages as f64 / secs;
        println!(
            "round={round} xadd_per_sec={ceiling:.0} topology_msgs_per_sec={rate:.0} ratio={:.2} topology_cores={cores:.2} redis_cores={redis_cores:.2}",
            rate / ceiling
        );
        ceilings.push(ceiling);
        rates.push(rate);
        ratios.push(rate / ceiling);
    }
    println!(
        "median xadd_per_sec={:.0} topology_msgs_per_sec={:.0} ratio={:.2}",
        median(ceilings),
        median(rates),
        median(ratios)
    );
    Ok(())
}
