//! Word count in local mode: a reliable sentence spout, a split bolt that anchors, and a
//! counting bolt behind a fields grouping.
//!
//!     cargo run --release --example word_count -- --seconds 5
//!
//! Prints a status line every second; with `--seconds N` it stops by itself, prints the top
//! words and, as its last line, the spouts' `emitted=<n> acked=<n> failed=<n>`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use squall_examples::word_count::{self, CLASSIC_SENTENCES, SentenceSpout, Totals};
use squall_worker::{Config, LocalTopology};

#[derive(Parser)]
#[command(about = "Word count on a local Squall topology")]
struct Args {
    /// Stop after this many seconds and print a report (default: run until interrupted).
    #[arg(long)]
    seconds: Option<u64>,
    /// Executors for the split and count bolts.
    #[arg(long, default_value_t = 2)]
    parallelism: u32,
    /// Storm's topology.max.spout.pending: sentence trees in flight per spout task.
    #[arg(long, default_value_t = 10_000)]
    max_spout_pending: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.parallelism == 0 {
        anyhow::bail!("--parallelism must be at least 1");
    }
    let totals = Totals::default();
    let sentences =
        SentenceSpout::static_sentences(CLASSIC_SENTENCES.iter().map(|s| (*s).to_owned()));
    let topology = word_count::topology(sentences, args.parallelism, Arc::clone(&totals))?;
    let mut conf = Config::new();
    conf.set_max_spout_pending(args.max_spout_pending);
    // Submitted with `squall submit`, or started by a supervisor: play that part instead.
    if squall_worker::serve_cluster_role(&topology, &conf)? {
        return Ok(());
    }
    squall_examples::log_to_stderr();
    let running = LocalTopology::start("word-count", &conf, &topology)?;

    let started = Instant::now();
    let mut last_words = 0;
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let stats = running.stats();
        let spouts = stats.spout_totals();
        let words = stats.component("count").map_or(0, |c| c.counters.executed);
        let p99 = stats
            .component("sentences")
            .map_or(0, |c| c.complete_latency_ns.value_at_quantile(0.99) / 1000);
        println!(
            "t={:>3}s sentences emitted={} acked={} failed={} pending={} | words counted={} ({} /s) | complete latency p99={} us",
            started.elapsed().as_secs(),
            spouts.emitted,
            spouts.acked,
            spouts.failed,
            spouts.pending,
            words,
            words - last_words,
            p99,
        );
        last_words = words;
        if args
            .seconds
            .is_some_and(|s| started.elapsed() >= Duration::from_secs(s))
        {
            break;
        }
    }
    // Give the trees in flight a moment to finish, as `squall kill --wait` does.
    let stats = running.kill(Duration::from_millis(500));
    let mut top: Vec<(String, u64)> = totals
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|(w, n)| (w.clone(), *n))
        .collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    println!("top words:");
    for (word, n) in top.iter().take(10) {
        println!("  {word:<10} {n}");
    }
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
