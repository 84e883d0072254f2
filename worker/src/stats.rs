//! What each executor has done, shared with whoever asks (status, the testing kit, benches).
//!
//! Executors count in plain local fields on the hot path and publish them here with relaxed
//! stores once per batch, so counting costs no atomic read-modify-write per tuple.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::SystemTime;

use hdrhistogram::Histogram;
use squall_topology_api::TaskId;

/// Errors kept per executor (Storm keeps the newest 10 per component).
const KEPT_ERRORS: usize = 10;

/// One error a component reported or a panic the runtime caught.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedError {
    /// When it happened.
    pub time: SystemTime,
    /// The task it happened in.
    pub task: TaskId,
    /// What it said.
    pub message: String,
}

/// The latency distributions an executor keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatencyKind {
    /// Spouts: from a tree's first emit until the acker says it completed.
    Complete = 0,
    /// Bolts, sampled: how long `execute` ran.
    Execute = 1,
    /// Bolts, sampled: from the start of `execute` until the input was acked.
    Process = 2,
}

/// Counters of one executor; read them with [`ExecutorStats::snapshot`].
#[derive(Debug)]
pub struct ExecutorStats {
    emitted: AtomicU64,
    transferred: AtomicU64,
    acked: AtomicU64,
    failed: AtomicU64,
    executed: AtomicU64,
    pending: AtomicU64,
    error_count: AtomicU64,
    queue_depth: AtomicU64,
    exhausted: AtomicBool,
    /// Per output stream: its id, emitted, transferred.
    streams: Box<[(String, AtomicU64, AtomicU64)]>,
    /// Bolts, per input stream: what arrived on it and how it ended.
    inputs: Mutex<Vec<InputCounts>>,
    errors: Mutex<Vec<ReportedError>>,
    latencies_us: Mutex<[Histogram<u64>; 3]>,
}

/// A histogram for the latencies executors keep, in nanoseconds up to an hour, 2 significant
/// digits: 1% resolution is plenty for p50/p99 and keeps the buckets that travel to Nimbus few,
/// and nanoseconds keep sub-microsecond executes (most of them) from reading as 1 µs, which
/// would inflate capacity.
pub fn new_metrics_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 2).expect("constant bounds are valid")
}

/// A histogram for latencies in microseconds, up to an hour, 3 significant digits.
pub fn new_latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("constant bounds are valid")
}

/// The counters an executor keeps on its own thread.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// Tuples emitted (one per emit call).
    pub emitted: u64,
    /// Tuples delivered to tasks (one per target of each emit).
    pub transferred: u64,
    /// Spouts: trees completed. Bolts: inputs acked.
    pub acked: u64,
    /// Spouts: trees failed or timed out. Bolts: inputs failed.
    pub failed: u64,
    /// Bolts: inputs executed (ticks included).
    pub executed: u64,
    /// Spouts: trees in flight.
    pub pending: u64,
    /// Errors reported or panics caught.
    pub errors: u64,
}

/// One input stream's counts at a bolt (Storm's "input stats").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputCounts {
    /// The component the stream comes from.
    pub component: String,
    /// The stream id.
    pub stream: String,
    /// Tuples executed.
    pub executed: u64,
    /// Tuples acked.
    pub acked: u64,
    /// Tuples failed.
    pub failed: u64,
}

/// A bolt executor's per-input-stream counts on its own thread: a short list searched by the
/// interned schema's address (a bolt has a few inputs; the first entry is usually the one).
#[derive(Debug, Default)]
pub(crate) struct InputTally {
    entries: Vec<(&'static squall_topology_api::StreamSchema, [u64; 3])>,
}

/// Which of an input stream's counts an event adds to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum InputEvent {
    Executed = 0,
    Acked = 1,
    Failed = 2,
}

impl InputTally {
    #[inline]
    pub fn count(&mut self, schema: &'static squall_topology_api::StreamSchema, event: InputEvent) {
        match self
            .entries
            .iter_mut()
            .find(|(s, _)| std::ptr::eq(*s, schema))
        {
            Some((_, counts)) => counts[event as usize] += 1,
            None => {
                let mut counts = [0; 3];
                counts[event as usize] = 1;
                self.entries.push((schema, counts));
            }
        }
    }
}

/// One output stream's counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamCounts {
    /// The stream id.
    pub stream: String,
    /// Tuples emitted on it.
    pub emitted: u64,
    /// Copies delivered to tasks.
    pub transferred: u64,
}

impl ExecutorStats {
    /// Stats for an executor whose component declares these output streams.
    pub fn new(streams: impl IntoIterator<Item = String>) -> Self {
        ExecutorStats {
            emitted: AtomicU64::new(0),
            transferred: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            executed: AtomicU64::new(0),
            pending: AtomicU64::new(0),
            error_count: AtomicU64::new(0),
            queue_depth: AtomicU64::new(0),
            exhausted: AtomicBool::new(false),
            streams: streams
                .into_iter()
                .map(|s| (s, AtomicU64::new(0), AtomicU64::new(0)))
                .collect(),
            inputs: Mutex::new(Vec::new()),
            errors: Mutex::new(Vec::new()),
            latencies_us: Mutex::new([
                new_metrics_histogram(),
                new_metrics_histogram(),
                new_metrics_histogram(),
            ]),
        }
    }

    /// Publishes the executor's counters: totals, per stream (indexed as the streams were
    /// given to [`ExecutorStats::new`]) and its input queue's depth.
    pub(crate) fn publish(
        &self,
        c: &Counters,
        streams: impl Iterator<Item = [u64; 2]>,
        queue_depth: usize,
    ) {
        self.emitted.store(c.emitted, Ordering::Relaxed);
        self.transferred.store(c.transferred, Ordering::Relaxed);
        self.acked.store(c.acked, Ordering::Relaxed);
        self.failed.store(c.failed, Ordering::Relaxed);
        self.executed.store(c.executed, Ordering::Relaxed);
        self.pending.store(c.pending, Ordering::Relaxed);
        self.error_count.store(c.errors, Ordering::Relaxed);
        self.queue_depth
            .store(queue_depth as u64, Ordering::Relaxed);
        for ((_, emitted, transferred), [e, t]) in self.streams.iter().zip(streams) {
            emitted.store(e, Ordering::Relaxed);
            transferred.store(t, Ordering::Relaxed);
        }
    }

    /// The counters as last published.
    pub fn snapshot(&self) -> Counters {
        Counters {
            emitted: self.emitted.load(Ordering::Relaxed),
            transferred: self.transferred.load(Ordering::Relaxed),
            acked: self.acked.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            executed: self.executed.load(Ordering::Relaxed),
            pending: self.pending.load(Ordering::Relaxed),
            errors: self.error_count.load(Ordering::Relaxed),
        }
    }

    /// Publishes a bolt's per-input-stream counts (new streams are added, known ones updated).
    pub(crate) fn publish_inputs(&self, tally: &InputTally) {
        if tally.entries.is_empty() {
            return;
        }
        let mut inputs = self.inputs.lock().unwrap_or_else(|p| p.into_inner());
        for (i, (schema, [executed, acked, failed])) in tally.entries.iter().enumerate() {
            if i == inputs.len() {
                inputs.push(InputCounts {
                    component: schema.component().to_owned(),
                    stream: schema.stream().to_owned(),
                    executed: 0,
                    acked: 0,
                    failed: 0,
                });
            }
            let entry = &mut inputs[i];
            (entry.executed, entry.acked, entry.failed) = (*executed, *acked, *failed);
        }
    }

    /// Per input stream counts as last published (bolts).
    pub fn inputs(&self) -> Vec<InputCounts> {
        self.inputs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Per output stream counts as last published.
    pub fn streams(&self) -> Vec<StreamCounts> {
        self.streams
            .iter()
            .map(|(stream, emitted, transferred)| StreamCounts {
                stream: stream.clone(),
                emitted: emitted.load(Ordering::Relaxed),
                transferred: transferred.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// Batches waiting in the executor's input queue when it last published.
    pub fn queue_depth(&self) -> u64 {
        self.queue_depth.load(Ordering::Relaxed)
    }

    pub(crate) fn set_exhausted(&self, exhausted: bool) {
        self.exhausted.store(exhausted, Ordering::Release);
    }

    /// Whether every spout task of this executor reports it has emitted all it ever will.
    pub fn exhausted(&self) -> bool {
        self.exhausted.load(Ordering::Acquire)
    }

    pub(crate) fn record_error(&self, error: ReportedError) {
        let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        if errors.len() == KEPT_ERRORS {
            errors.remove(0);
        }
        errors.push(error);
    }

    /// The newest errors, oldest first.
    pub fn errors(&self) -> Vec<ReportedError> {
        self.errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Adds latencies measured since the last merge.
    pub(crate) fn merge_latencies(&self, local: &[Histogram<u64>; 3]) {
        let mut all = self.latencies_us.lock().unwrap_or_else(|p| p.into_inner());
        for (h, l) in all.iter_mut().zip(local) {
            // Same bounds on both sides, so adding cannot fail.
            let _ = h.add(l);
        }
    }

    /// One latency distribution of this executor since it started, in nanoseconds.
    pub fn latency_ns(&self, kind: LatencyKind) -> Histogram<u64> {
        self.latencies_us.lock().unwrap_or_else(|p| p.into_inner())[kind as usize].clone()
    }
}

/// This process's resident memory in bytes (0 where /proc is not available).
pub fn resident_bytes() -> u64 {
    // "VmRSS:    12345 kB" in /proc/self/status, which needs no page size.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// Batches in flight across one topology's executors: the testing kit's "nothing is moving".
///
/// A sender counts a batch in `sent` before handing it over; a receiver counts it in `done` only
/// after processing it and flushing what that produced (which was counted in `sent` first). So
/// `done <= sent` always, and `done == sent` means every batch ever sent has been processed and
/// nothing it caused is still buffered. Read `done` first, then `sent`.
#[derive(Debug, Default)]
pub struct Flow {
    sent: AtomicU64,
    done: AtomicU64,
}

impl Flow {
    pub(crate) fn sent_one(&self) {
        self.sent.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn done(&self, batches: u64) {
        if batches > 0 {
            self.done.fetch_add(batches, Ordering::SeqCst);
        }
    }

    /// Whether every batch sent so far has been fully processed.
    pub fn is_quiet(&self) -> bool {
        let done = self.done.load(Ordering::SeqCst);
        done == self.sent.load(Ordering::SeqCst)
    }
}
