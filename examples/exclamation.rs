//! The exclamation chain in local mode: words → exclaim1 → exclaim2, each bolt appending "!!!".
//!
//!     cargo run --release --example exclamation -- --seconds 5

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use squall_worker::prelude::*;

#[derive(Parser)]
#[command(about = "The exclamation chain on a local Squall topology")]
struct Args {
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long)]
    seconds: Option<u64>,
}

/// Storm's `TestWordSpout`: names in a cycle, tracked.
struct WordSpout {
    next: u64,
}

const WORDS: &[&str] = &["nathan", "mike", "jackson", "golda", "bertels"];

impl Spout for WordSpout {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["word"]));
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        self.next += 1;
        let word = WORDS[(self.next % WORDS.len() as u64) as usize];
        out.emit_with_id(values![word], self.next)?;
        Ok(())
    }
}

/// Appends "!!!"; keeps a few samples of what it emitted.
struct Exclaim {
    samples: Arc<Mutex<Vec<String>>>,
}

impl BasicBolt for Exclaim {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["word"]));
    }

    fn execute(
        &mut self,
        input: &Tuple,
        out: &mut BasicCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        let word = format!("{}!!!", input.get_str("word")?);
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        if samples.len() < 5 {
            samples.push(word.clone());
        }
        drop(samples);
        out.emit(values![word])?;
        Ok(())
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let first = Arc::new(Mutex::new(Vec::new()));
    let second = Arc::new(Mutex::new(Vec::new()));
    let mut b = TopologyBuilder::new();
    b.set_spout("word", || WordSpout { next: 0 }, 1);
    let s1 = Arc::clone(&first);
    b.set_basic_bolt(
        "exclaim1",
        move || Exclaim {
            samples: Arc::clone(&s1),
        },
        2,
    )
    .shuffle_grouping("word");
    let s2 = Arc::clone(&second);
    b.set_basic_bolt(
        "exclaim2",
        move || Exclaim {
            samples: Arc::clone(&s2),
        },
        2,
    )
    .shuffle_grouping("exclaim1");
    let mut conf = Config::new();
    conf.set_max_spout_pending(10_000);
    let topology = b.build()?;
    if squall_worker::serve_cluster_role(&topology, &conf)? {
        return Ok(());
    }
    let running = LocalTopology::start("exclamation", &conf, &topology)?;
    let started = Instant::now();
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let s = running.stats().spout_totals();
        println!(
            "t={:>3}s emitted={} acked={} failed={}",
            started.elapsed().as_secs(),
            s.emitted,
            s.acked,
            s.failed
        );
        if args
            .seconds
            .is_some_and(|s| started.elapsed() >= Duration::from_secs(s))
        {
            break;
        }
    }
    let stats = running.kill(Duration::from_millis(500));
    println!(
        "exclaim2 emitted, for example: {:?}",
        second.lock().unwrap_or_else(|p| p.into_inner())
    );
    let s = stats.spout_totals();
    println!(
        "emitted={} acked={} failed={}",
        s.emitted, s.acked, s.failed
    );
    Ok(())
}
