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
    exhausted: AtomicBool,
    errors: Mutex<Vec<ReportedError>>,
    complete_latency_us: Mutex<Histogram<u64>>,
}

impl Default for ExecutorStats {
    fn default() -> Self {
        ExecutorStats {
            emitted: AtomicU64::new(0),
            transferred: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            executed: AtomicU64::new(0),
            pending: AtomicU64::new(0),
            error_count: AtomicU64::new(0),
            exhausted: AtomicBool::new(false),
            errors: Mutex::new(Vec::new()),
            complete_latency_us: Mutex::new(new_latency_histogram()),
        }
    }
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

impl ExecutorStats {
    /// Publishes the executor's counters.
    pub(crate) fn publish(&self, c: &Counters) {
        self.emitted.store(c.emitted, Ordering::Relaxed);
        self.transferred.store(c.transferred, Ordering::Relaxed);
        self.acked.store(c.acked, Ordering::Relaxed);
        self.failed.store(c.failed, Ordering::Relaxed);
        self.executed.store(c.executed, Ordering::Relaxed);
        self.pending.store(c.pending, Ordering::Relaxed);
        self.error_count.store(c.errors, Ordering::Relaxed);
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

    /// Adds complete latencies measured since the last merge.
    pub(crate) fn merge_latency(&self, local: &Histogram<u64>) {
        let mut h = self
            .complete_latency_us
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = h.add(local);
    }

    /// Complete latencies of the trees this (spout) executor saw finish, in microseconds.
    pub fn complete_latency_us(&self) -> Histogram<u64> {
        self.complete_latency_us
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
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
