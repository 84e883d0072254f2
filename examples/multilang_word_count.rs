//! Word count with its bolts in Python: a Rust sentence spout, then pystorm's
//! `splitsentence.py` and `wordcount.py` (in `examples/multilang/`) run as shell bolts over
//! Storm's multi-lang protocol, and a Rust sink keeping each word's latest count.
//!
//!     python3 -m venv target/pystorm-venv && target/pystorm-venv/bin/pip install pystorm==3.1.4
//!     cargo run --release --example multilang_word_count -- --seconds 10
//!
//! With `--seconds N` it stops by itself, prints the top words, then a benchmark line
//! (`split=<lang> count=<lang> words_per_sec=<n> cores=<c> ...`) and, last, the spouts'
//! `emitted=<n> acked=<n> failed=<n>`. `--split rust` / `--count rust` swap in Rust bolts for
//! the comparison. The scripts' directory is the topology's resources
//! (`TopologyBuilder::resources`): `squall submit` ships it, so on a cluster the bolts run from
//! the copy each supervisor unpacks.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use clap::ValueEnum;
use squall_examples::cpu::{children_cpu_secs, process_cpu_secs};
use squall_examples::word_count::{CLASSIC_SENTENCES, SentenceSpout, SplitBolt};
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
    /// The split bolt: pystorm's splitsentence.py, or Squall's Rust one.
    #[arg(long, value_enum, default_value_t = Lang::Python)]
    split: Lang,
    /// The count bolt: pystorm's wordcount.py, or a Rust one.
    #[arg(long, value_enum, default_value_t = Lang::Python)]
    count: Lang,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Debug)]
enum Lang {
    Python,
    Rust,
}

impl Lang {
    fn name(self) -> &'static str {
        match self {
            Lang::Python => "python",
            Lang::Rust => "rust",
        }
    }
}

/// Counts words and emits each word's running count, as `wordcount.py` does.
#[derive(Default)]
struct RustCount(HashMap<String, i64>);

impl Bolt for RustCount {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["word", "count"]));
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        let word = input.get_str(0)?;
        let n = self.0.entry(word.to_owned()).or_default();
        *n += 1;
        out.emit(&[&input], values![word, *n])?;
        out.ack(&input);
        Ok(())
    }
}

/// CPU seconds used so far by this process and its children (the Python processes).
fn cpu_now() -> f64 {
    process_cpu_secs() + children_cpu_secs(std::process::id())
}

/// Tuples in and out of the Python bolts so far: what each process handled.
fn python_tuples(stats: &squall_worker::TopologyStats, args: &Args) -> u64 {
    [("split", args.split), ("count", args.count)]
        .iter()
        .filter(|(_, lang)| *lang == Lang::Python)
        .filter_map(|(id, _)| stats.component(id))
        .map(|c| c.counters.executed + c.counters.emitted)
        .sum()
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
    let latest = Arc::new(Mutex::new(HashMap::new()));
    let sink = Arc::clone(&latest);
    let mut builder = TopologyBuilder::new();
    // The scripts run inside this directory, here and (shipped) on a cluster.
    builder.resources(concat!(env!("CARGO_MANIFEST_DIR"), "/multilang"));
    let sentences =
        SentenceSpout::static_sentences(CLASSIC_SENTENCES.iter().map(|s| (*s).to_owned()));
    builder.set_spout(
        "sentences",
        move || SentenceSpout::new(Arc::clone(&sentences)),
        1,
    );
    let p = python.clone();
    match args.split {
        Lang::Python => builder.set_bolt(
            "split",
            move || ShellBolt::new([p.as_str(), "splitsentence.py"]).output(Fields::new(["word"])),
            args.parallelism,
        ),
        Lang::Rust => builder.set_bolt("split", || SplitBolt, args.parallelism),
    }
    .shuffle_grouping("sentences");
    let p = python;
    match args.count {
        Lang::Python => builder.set_bolt(
            "count",
            move || {
                ShellBolt::new([p.as_str(), "wordcount.py"]).output(Fields::new(["word", "count"]))
            },
            args.parallelism,
        ),
        Lang::Rust => builder.set_bolt("count", RustCount::default, args.parallelism),
    }
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
    // The steady window starts after the first second (Python processes starting).
    let mut window: Option<(Instant, f64, u64)> = None;
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let stats = running.stats();
        if window.is_none() {
            window = Some((Instant::now(), cpu_now(), python_tuples(&stats, &args)));
        }
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
    let end = (
        Instant::now(),
        cpu_now(),
        python_tuples(&running.stats(), &args),
    );
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
    if let (Some(median), Some((t0, cpu0, tuples0))) = (steady.get(steady.len() / 2), window) {
        let secs = end.0.duration_since(t0).as_secs_f64().max(1e-3);
        let processes = u64::from(args.parallelism)
            * [args.split, args.count]
                .iter()
                .filter(|l| **l == Lang::Python)
                .count() as u64;
        let per_process = match processes {
            0 => 0.0,
            n => (end.2 - tuples0) as f64 / secs / n as f64,
        };
        println!(
            "split={} count={} words_per_sec={median} cores={:.2} python_processes={processes} tuples_per_python_process_per_sec={per_process:.0}",
            args.split.name(),
            args.count.name(),
            (end.1 - cpu0) / secs
        );
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
