//! The benchmark topologies of `docs/benchmarks.md`, instrumented for the driver.
//!
//! - wordcount: sentences → split (shuffle) → count (fields on the word). With acking on the
//!   spout emits with message ids, split anchors every word, count acks.
//! - chain: 100-byte records → flip (shuffle) re-emits with a byte flipped → sink (shuffle).
//!
//! Latency: with acking on, complete latency (emit, or its scheduled time under `--rate`, to
//! the spout's `ack`); with acking off, arrival at the last bolt. Recorded only while the
//! driver's [`Probe`] is measuring.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;
use rustc_hash::FxHashMap;
use squall_worker::prelude::*;
use squall_worker::state::ReplayableSpout;
use squall_worker::stats::new_latency_histogram;
use squall_worker::{CompactString, Grouping, InvalidTopology};

use crate::data;
use crate::word_count::SentenceSpout;

/// Which workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Word count.
    WordCount,
    /// The 100-byte linear chain.
    Chain,
}

impl Workload {
    /// The component whose executed tuples are the benchmark's records.
    pub fn sink(self) -> &'static str {
        match self {
            Workload::WordCount => "count",
            Workload::Chain => "sink",
        }
    }
}

/// One benchmark run's shape.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// The workload.
    pub workload: Workload,
    /// Spout emits with message ids and bolts anchor and ack.
    pub acking: bool,
    /// Executors per component.
    pub parallelism: u32,
    /// Offered load (sentences or records per second, over all spout tasks); `None` = as fast
    /// as backpressure allows.
    pub rate: Option<f64>,
    /// Word count with the counts in checkpointed state (a stateful count bolt, the spout
    /// replayable), under the configuration's `topology.state.*` keys.
    pub state: bool,
    /// The first bolt (split, flip) takes the spout's output by `local_or_shuffle` grouping
    /// instead of `shuffle`: with as many executors as workers, each worker then runs the whole
    /// pipeline and only what a fields grouping sends elsewhere crosses between processes, as in
    /// timely's `procs` runs.
    pub local_first_hop: bool,
}

/// Shared between the driver and the instrumented components.
///
/// In a cluster the components run in worker processes: there the probe follows a directory
/// shared with the driver instead ([`Probe::follow_dir`]): measuring while the file
/// `measuring` exists, and writing the latencies recorded so far to `latency-<pid>.txt`.
pub struct Probe {
    measuring: AtomicBool,
    latency_us: Mutex<Histogram<u64>>,
}

impl Default for Probe {
    fn default() -> Self {
        Probe {
            measuring: AtomicBool::new(false),
            latency_us: Mutex::new(new_latency_histogram()),
        }
    }
}

/// Where a histogram dump goes: one line per recorded value, `<microseconds> <count>`.
pub fn write_histogram(h: &Histogram<u64>, path: &Path) -> std::io::Result<()> {
    let mut text = String::new();
    for v in h.iter_recorded() {
        text.push_str(&format!(
            "{} {}\n",
            v.value_iterated_to(),
            v.count_at_value()
        ));
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(tmp, path)
}

/// Adds the histogram dumps in `dir` to `into`.
pub fn read_histograms(dir: &Path, into: &mut Histogram<u64>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with("latency-") && name.ends_with(".txt")) {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        for line in text.lines() {
            let mut parts = line.split(' ').map(str::parse::<u64>);
            if let (Some(Ok(v)), Some(Ok(n))) = (parts.next(), parts.next()) {
                let _ = into.record_n(v.max(1), n);
            }
        }
    }
}

impl Probe {
    /// Wall-clock nanoseconds: stamps compare across the processes of one machine.
    fn now_ns(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    }

    /// In a worker process: measure while `dir/measuring` exists and dump the latencies to
    /// `dir/latency-<pid>.txt`, checking every 200 ms.
    pub fn follow_dir(self: &Arc<Self>, dir: PathBuf) {
        let probe = Arc::clone(self);
        let out = dir.join(format!("latency-{}.txt", std::process::id()));
        std::thread::spawn(move || {
            loop {
                probe.set_measuring(dir.join("measuring").exists());
                let _ = write_histogram(&probe.latency_us(), &out);
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        });
    }

    /// Starts or stops recording latencies.
    pub fn set_measuring(&self, on: bool) {
        self.measuring.store(on, Ordering::Relaxed);
    }

    fn measuring(&self) -> bool {
        self.measuring.load(Ordering::Relaxed)
    }

    fn merge(&self, local: &Histogram<u64>) {
        let mut h = self.latency_us.lock().unwrap_or_else(|p| p.into_inner());
        let _ = h.add(local);
    }

    /// The latencies recorded (merged when components close).
    pub fn latency_us(&self) -> Histogram<u64> {
        self.latency_us
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// A task-local latency recorder merged into the probe on close. In closed-loop runs it
/// samples one record in `SAMPLE_EVERY`, so measuring does not cost a clock read per record
/// (the peers measure latency only in their fixed-rate runs); at a fixed rate it records all.
struct Recorder {
    probe: Arc<Probe>,
    hist: Histogram<u64>,
    sample_every: u64,
    seen: u64,
}

const SAMPLE_EVERY: u64 = 16;

impl Recorder {
    fn new(probe: Arc<Probe>, sampled: bool) -> Self {
        Recorder {
            probe,
            hist: new_latency_histogram(),
            sample_every: if sampled { SAMPLE_EVERY } else { 1 },
            seen: 0,
        }
    }

    fn record_since(&mut self, start_ns: u64) {
        self.seen += 1;
        if self.seen.is_multiple_of(self.sample_every) && self.probe.measuring() {
            let us = self.probe.now_ns().saturating_sub(start_ns) / 1000;
            let _ = self.hist.record(us.max(1));
            self.flush_now_and_then();
        }
    }

    fn flush(&mut self) {
        self.probe.merge(&self.hist);
        self.hist.reset();
    }

    /// Hands what was recorded to the probe every so many records, as a worker process is
    /// killed, never closed.
    fn flush_now_and_then(&mut self) {
        if self.hist.len() >= 4096 {
            self.flush();
        }
    }
}

/// Start times of tracked tuples, by message id; large enough for every tree in flight.
const RING: usize = 1 << 20;

/// The benchmark spout: sentences or records, closed loop or at a fixed rate.
struct BenchSpout {
    sentences: Option<Arc<[Value]>>,
    acking: bool,
    /// Tuples per second for this task, open loop.
    rate: Option<f64>,
    next: u64,
    start_ns: Vec<u64>,
    first_ns: Option<u64>,
    last_now: u64,
    recorder: Recorder,
    template: Vec<u8>,
}

impl Spout for BenchSpout {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        // Records carry their time in their first bytes; sentences need a field for it.
        out.declare(if self.sentences.is_some() {
            stamped_fields("sentence", self.acking)
        } else {
            Fields::new(["record"])
        });
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        // Closed loop, only one record in SAMPLE_EVERY is measured: a stamp read once per
        // that many records is a few microseconds stale at most.
        let now = if self.rate.is_none() && !self.next.is_multiple_of(SAMPLE_EVERY) {
            self.last_now
        } else {
            self.last_now = self.recorder.probe.now_ns();
            self.last_now
        };
        let stamp = match self.rate {
            Some(rate) => {
                let first = *self.first_ns.get_or_insert(now);
                let scheduled = first + (self.next as f64 * 1e9 / rate) as u64;
                if now < scheduled {
                    return Ok(());
                }
                scheduled
            }
            None => now,
        };
        let k = self.next;
        self.next += 1;
        let mut values = Values::with_capacity(2);
        match &self.sentences {
            Some(s) => values.push(s[(k % s.len() as u64) as usize].clone()),
            None => {
                let mut record = self.template.clone();
                data::stamp_record(&mut record, stamp, k);
                values.push(record);
            }
        }
        if self.acking {
            self.start_ns[k as usize % RING] = stamp;
            out.emit_with_id(values, k)?;
        } else {
            if self.sentences.is_some() {
                values.push(stamp as i64);
            }
            out.emit(values)?;
        }
        Ok(())
    }

    fn ack(&mut self, msg_id: MessageId) {
        let start = self.start_ns[msg_id as usize % RING];
        self.recorder.record_since(start);
    }

    fn close(&mut self) {
        self.recorder.flush();
    }
}

/// The spout over the cycled sentences is replayable: its position is the next sentence's
/// number (in exactly-once mode its trees' acks go to the checkpoints, so no latency is
/// recorded).
impl ReplayableSpout for BenchSpout {
    type Position = u64;

    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        Spout::declare_outputs(self, out);
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        Spout::next_tuple(self, out)
    }

    fn position(&self) -> u64 {
        self.next
    }

    fn seek(&mut self, position: Option<&u64>) -> Result<(), ComponentError> {
        self.next = position.copied().unwrap_or(0);
        Ok(())
    }

    fn ack(&mut self, msg_id: MessageId) {
        Spout::ack(self, msg_id);
    }

    fn close(&mut self) {
        Spout::close(self);
    }
}

/// The count bolt with its counts in checkpointed state.
struct StatefulCount;

impl StatefulBolt for StatefulCount {
    type Key = String;
    type Value = u64;

    fn execute(
        &mut self,
        input: &Tuple,
        state: &mut KeyValueState<String, u64>,
        _out: &mut BasicCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        let word = input.get_str(0)?;
        match state.get_mut(word) {
            Some(n) => *n += 1,
            None => {
                state.put(word.to_owned(), 1);
            }
        }
        Ok(())
    }
}

/// With acking off, tuples carry their emit (or scheduled) time to the sink.
fn stamped_fields(name: &str, acking: bool) -> Fields {
    if acking {
        Fields::new([name])
    } else {
        Fields::new([name, "ts"])
    }
}

struct Split {
    acking: bool,
}

impl Bolt for Split {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(stamped_fields("word", self.acking));
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        let ts = input.get(&1).ok().cloned();
        for word in input.get_str(0)?.split(' ') {
            let mut v = Values::with_capacity(2);
            v.push(word);
            if let Some(ts) = &ts {
                v.push(ts.clone());
            }
            out.emit(&[&input], v)?;
        }
        out.ack(&input);
        Ok(())
    }
}

struct Count {
    counts: FxHashMap<CompactString, u64>,
    recorder: Recorder,
}

impl Bolt for Count {
    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        let word = input.get_str(0)?;
        match self.counts.get_mut(word) {
            Some(n) => *n += 1,
            None => {
                self.counts.insert(CompactString::new(word), 1);
            }
        }
        if let Ok(ts) = input.get_i64(1) {
            self.recorder.record_since(ts as u64);
        }
        out.ack(&input);
        Ok(())
    }

    fn cleanup(&mut self) {
        self.recorder.flush();
    }
}

struct Flip;

impl Bolt for Flip {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["record"]));
    }

    fn execute(
        &mut self,
        mut input: Tuple,
        out: &mut BoltCollector<'_>,
    ) -> Result<(), ComponentError> {
        let mut values = input.take_values();
        if let Some(Value::Bytes(b)) = values.first_mut()
            && let Some(byte) = b.get_mut(data::RECORD_BYTES - 1)
        {
            *byte ^= 0x20;
        }
        out.emit(&[&input], values)?;
        out.ack(&input);
        Ok(())
    }
}

struct Sink {
    acking: bool,
    recorder: Recorder,
    bytes: u64,
}

impl Bolt for Sink {
    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        let record = input.get_bytes(0)?;
        self.bytes += record.len() as u64;
        if !self.acking
            && let Some(ts) = data::record_timestamp(record)
        {
            self.recorder.record_since(ts);
        }
        out.ack(&input);
        Ok(())
    }

    fn cleanup(&mut self) {
        self.recorder.flush();
    }
}

/// Builds the benchmark topology for `config`, reporting latencies to `probe`.
///
/// # Errors
/// Only for a parallelism of 0.
pub fn topology(config: &BenchConfig, probe: &Arc<Probe>) -> Result<Topology, InvalidTopology> {
    let p = config.parallelism;
    let acking = config.acking;
    let rate = config.rate.map(|r| r / f64::from(p.max(1)));
    let sentences = (config.workload == Workload::WordCount)
        .then(|| SentenceSpout::static_sentences(data::sentences()));
    let spout_probe = Arc::clone(probe);
    let sampled = config.rate.is_none();
    let mut b = TopologyBuilder::new();
    let spout = move || BenchSpout {
        sentences: sentences.clone(),
        acking,
        rate,
        next: 0,
        start_ns: if acking { vec![0; RING] } else { Vec::new() },
        first_ns: None,
        last_now: 0,
        recorder: Recorder::new(Arc::clone(&spout_probe), sampled),
        template: data::record(0, 0),
    };
    let stateful = config.state && config.workload == Workload::WordCount;
    if stateful {
        b.set_replayable_spout("spout", spout, p);
    } else {
        b.set_spout("spout", spout, p);
    }
    let sink_probe = Arc::clone(probe);
    let first_hop = if config.local_first_hop {
        Grouping::LocalOrShuffle
    } else {
        Grouping::Shuffle
    };
    match config.workload {
        Workload::WordCount => {
            b.set_bolt("split", move || Split { acking }, p)
                .grouping("spout", first_hop);
            if stateful {
                b.set_stateful_bolt("count", || StatefulCount, p)
                    .fields_grouping("split", ["word"]);
                return b.build();
            }
            b.set_bolt(
                "count",
                move || Count {
                    counts: FxHashMap::default(),
                    recorder: Recorder::new(Arc::clone(&sink_probe), sampled),
                },
                p,
            )
            .fields_grouping("split", ["word"]);
        }
        Workload::Chain => {
            b.set_bolt("flip", || Flip, p).grouping("spout", first_hop);
            b.set_bolt(
                "sink",
                move || Sink {
                    acking,
                    recorder: Recorder::new(Arc::clone(&sink_probe), sampled),
                    bytes: 0,
                },
                p,
            )
            .shuffle_grouping("flip");
        }
    }
    b.build()
}
