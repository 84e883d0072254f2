//! Trending words: the most frequent words of the last 10 seconds of event time, every 2
//! seconds, with Squall's event-time sliding windows. Word events carry their own timestamps
//! and arrive out of order (up to a second, the lag); about one in a hundred is more than 5
//! seconds late, past the watermark, and goes to the `late` side stream instead of a window.
//!
//!     cargo run --release --example trending_words -- --seconds 20
//!
//! Prints each window's top words as it closes (`window (t0, t1] top: word=count ...`), then
//! the late events counted, and, as its last line, the spouts' `emitted=<n> acked=<n>
//! failed=<n>`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use squall_examples::data;
use squall_worker::prelude::*;
use squall_worker::window::LATE_TUPLE_FIELD;

#[derive(Parser)]
#[command(about = "Event-time sliding windows of the most frequent words")]
struct Args {
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long)]
    seconds: Option<u64>,
    /// Word events per second.
    #[arg(long, default_value_t = 2_000)]
    rate: u64,
    /// Words listed per window.
    #[arg(long, default_value_t = 5)]
    top: usize,
}

fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// Word events `(word, ts)` at a steady rate, stamped with the time they happened: most a
/// little in the past (out of order by up to the lag), one in a hundred long past.
struct WordEvents {
    words: Vec<String>,
    rate: u64,
    state: u64,
    sent: u64,
    started: Option<Instant>,
}

impl WordEvents {
    fn new(rate: u64) -> Self {
        let words = data::sentences()
            .iter()
            .flat_map(|s| s.split(' ').map(str::to_owned).collect::<Vec<_>>())
            // A skewed vocabulary, so some words trend: the first 50 of the corpus' words.
            .take(50)
            .collect();
        WordEvents {
            words,
            rate: rate.max(1),
            state: 7,
            sent: 0,
            started: None,
        }
    }
}

impl Spout for WordEvents {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["word", "ts"]));
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        let started = *self.started.get_or_insert_with(Instant::now);
        let due = started.elapsed().as_millis() as u64 * self.rate / 1000;
        if self.sent >= due {
            return Ok(());
        }
        let r = data::splitmix64(&mut self.state);
        // Zipf-like: low indexes far more often.
        let pick = (r % 1000) * (r % 1000) / 1000 * self.words.len() as u64 / 1000;
        let word = self.words[pick as usize % self.words.len()].clone();
        let delay = if r.is_multiple_of(100) {
            5_000 + (r >> 8) % 3_000 // late: past the watermark
        } else {
            (r >> 8) % 1_000 // out of order within the lag
        };
        let ts = now_ms() - delay as i64;
        out.emit_with_id(values![word, ts], self.sent)?;
        self.sent += 1;
        Ok(())
    }
}

type Report = Arc<Mutex<Vec<String>>>;

/// Counts each window's words and emits the top ones.
struct TopWords {
    top: usize,
    report: Report,
}

impl WindowedBolt for TopWords {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["end", "top"]));
    }

    fn execute(
        &mut self,
        window: &TupleWindow<'_>,
        out: &mut WindowCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        let mut counts: HashMap<&str, i64> = HashMap::new();
        for t in window.get() {
            *counts.entry(t.get_str("word")?).or_default() += 1;
        }
        let mut ranked: Vec<(&str, i64)> = counts.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        ranked.truncate(self.top);
        let line: Vec<String> = ranked.iter().map(|(w, n)| format!("{w}={n}")).collect();
        let line = line.join(" ");
        if let Ok(mut report) = self.report.lock() {
            report.push(format!(
                "window ({}, {}] {} events, top: {line}",
                window.start_timestamp(),
                window.end_timestamp(),
                window.get().len()
            ));
        }
        out.emit(values![window.end_timestamp(), line])?;
        Ok(())
    }
}

/// Counts the events that came too late for their window.
struct LateCounter(Arc<Mutex<u64>>);

impl BasicBolt for LateCounter {
    fn execute(
        &mut self,
        input: &Tuple,
        _: &mut BasicCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        let _ = input.get(&LATE_TUPLE_FIELD)?;
        if let Ok(mut n) = self.0.lock() {
            *n += 1;
        }
        Ok(())
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let report: Report = Arc::default();
    let late = Arc::new(Mutex::new(0u64));
    let spec = WindowSpec::sliding(
        Extent::duration(Duration::from_secs(10)),
        Extent::duration(Duration::from_secs(2)),
    )
    .timestamp_field("ts")
    .lag(Duration::from_secs(1))
    .watermark_interval(Duration::from_millis(200))
    .late_tuple_stream("late");

    let mut b = TopologyBuilder::new();
    let rate = args.rate;
    b.set_spout("words", move || WordEvents::new(rate), 1);
    let (top, shared) = (args.top, Arc::clone(&report));
    b.set_bolt(
        "trending",
        move || {
            Windowed::new(
                TopWords {
                    top,
                    report: Arc::clone(&shared),
                },
                spec.clone(),
            )
        },
        1,
    )
    .shuffle_grouping("words");
    let counted = Arc::clone(&late);
    b.set_basic_bolt("late", move || LateCounter(Arc::clone(&counted)), 1)
        .shuffle_grouping(("trending", "late"));
    let topology = b.build()?;
    let mut conf = Config::new();
    conf.set_max_spout_pending(100_000);
    if squall_worker::serve_cluster_role(&topology, &conf)? {
        return Ok(());
    }
    squall_examples::log_to_stderr();
    let running = LocalTopology::start("trending-words", &conf, &topology)?;
    let started = Instant::now();
    while args
        .seconds
        .is_none_or(|n| started.elapsed() < Duration::from_secs(n))
    {
        std::thread::sleep(Duration::from_millis(200));
        if let Ok(mut lines) = report.lock() {
            for line in lines.drain(..) {
                println!("{line}");
            }
        }
    }
    let totals = running.kill(Duration::from_millis(500)).spout_totals();
    println!("late events: {}", late.lock().map_or(0, |n| *n));
    println!(
        "emitted={} acked={} failed={}",
        totals.emitted, totals.acked, totals.failed
    );
    Ok(())
}
