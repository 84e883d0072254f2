//! Word count with its bolts in Python: a Rust sentence spout, then pystorm's
//! `splitsentence.py` and `wordcount.py` (in `examples/multilang/`) run as shell bolts over
//! Storm's multi-lang protocol, and a Rust sink keeping each word's latest count.
//!
//!     python3 -m venv target/pystorm-venv && target/pystorm-venv/bin/pip install pystorm==3.1.4
//!     cargo run --release --example multilang_word_count -- --seconds 10
//!
//! With `--seconds N` it stops by itself, prints the top words, the words counted per second,
//! and, last, the spouts' `emitted=<n> acked=<n> failed=<n>`. Submitted with `squall submit`
//! it runs on a cluster whose hosts have the scripts at the same path (a one-machine `squall
//! dev`; shipping scripts with the topology is not built yet).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use squall_examples::word_count::{CLASSIC_SENTENCES, SentenceSpout};
use squall_worker::multilang::ShellBolt;
use squall_worker::prelude::*;

#[derive(Parser)]
#[command(about = "Word count with pystorm bolts on a local Squall topology")]
struct Args {
    /// Stop after this many seconds and print a report (default: run until interrupted).
    #[arg(long)]
    seconds: Option<u64>,
    /// Executors (each its own Python process) for the split and count bolts.
    #[arg(long, default_value_t = 2)]
    parallelism: u32,
    /// The Python that has pystorm (default: target/pystorm-venv/bin/python if present, else
    /// python3).
    #[arg(long)]
    python: Option<String>,
    /// Storm's topology.max.spout.pending: sentence trees in flight per spout task.
    #[arg(long, default_value_t = 1_000)]
    max_spout_pending: u64,
}

/// Keeps each word's latest count.
struct Latest(Arc<Mutex<HashMap<String, i64>>>);

impl Bolt for Latest {
    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        let word = input.get_str("word")?.to_owned();
        let count = input.get_i64("count")?;
        let mut latest = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let entry = latest.entry(word).or_default();
        *entry = (*entry).max(count);
        out.ack(&input);
        Ok(())
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = args.python.clone().unwrap_or_else(|| {
        let venv = repo.join("target/pystorm-venv/bin/python");
        if venv.exists() {
            venv.display().to_string()
        } else {
            "python3".to_owned()
        }
    });
    let script = |name: &str| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("multilang")
            .join(name)
            .display()
            .to_string()
    };
    let (split, count) = (script("splitsentence.py"), script("wordcount.py"));
    let latest = Arc::new(Mutex::new(HashMap::new()));
    let sink = Arc::clone(&latest);
    let (p1, p2) = (python.clone(), python);
    let mut builder = TopologyBuilder::new();
    let sentences =
        SentenceSpout::static_sentences(CLASSIC_SENTENCES.iter().map(|s| (*s).to_owned()));
    builder.set_spout(
        "sentences",
        move || SentenceSpout::new(Arc::clone(&sentences)),
        1,
    );
    builder
        .set_bolt(
            "split",
            move || ShellBolt::new([p1.clone(), split.clone()]).output(Fields::new(["word"])),
            args.parallelism,
        )
        .shuffle_grouping("sentences");
    builder
        .set_bolt(
            "count",
            move || {
                ShellBolt::new([p2.clone(), count.clone()]).output(Fields::new(["word", "count"]))
            },
            args.parallelism,
        )
        .fields_grouping("split", ["word"]);
    builder
        .set_bolt("latest", move || Latest(Arc::clone(&sink)), 1)
        .shuffle_grouping("count");
    let topology = builder.build()?;
    let mut conf = Config::new();
    conf.set_max_spout_pending(args.max_spout_pending);
    if squall_worker::serve_cluster_role(&topology, &conf)? {
        return Ok(());
    }
    let running = LocalTopology::start("multilang-word-count", &conf, &topology)?;
    let started = Instant::now();
    let (mut last_words, mut words_per_sec) = (0, Vec::new());
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let stats = running.stats();
        let spouts = stats.spout_totals();
        let words = stats.component("count").map_or(0, |c| c.counters.executed);
        words_per_sec.push(words - last_words);
        println!(
            "t={:>3}s sentences emitted={} acked={} failed={} | words counted={} ({} /s)",
            started.elapsed().as_secs(),
            spouts.emitted,
            spouts.acked,
            spouts.failed,
            words,
            words - last_words,
        );
        last_words = words;
        if args
            .seconds
            .is_some_and(|s| started.elapsed() >= Duration::from_secs(s))
        {
            break;
        }
    }
    let stats = running.kill(Duration::from_millis(500));
    let mut top: Vec<(String, i64)> = latest
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|(w, n)| (w.clone(), *n))
        .collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    println!("top words:");
    for (word, n) in top.iter().take(5) {
        println!("  {word:<10} {n}");
    }
    // The first second includes starting the Python processes; the median of the rest.
    let mut steady: Vec<u64> = words_per_sec.iter().skip(1).copied().collect();
    steady.sort_unstable();
    if let Some(median) = steady.get(steady.len() / 2) {
        println!("words_per_sec={median}");
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
