//! Test components shared by the cross-crate tests.

pub mod browser;
pub mod cluster;
pub mod flaky;
pub mod kafka_server;
pub mod nats_server;
pub mod pki;
pub mod python;
pub mod redis_server;
pub mod tcp_proxy;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use squall_worker::prelude::*;

/// What a [`TrackingSpout`] observed, per message id.
pub struct Tracker {
    /// `ack` calls per id.
    pub acks: Vec<AtomicU32>,
    /// `fail` calls per id.
    pub fails: Vec<AtomicU32>,
    /// Emits per id (first emit and replays).
    pub emits: Vec<AtomicU32>,
    /// Nanoseconds from an id's latest emit to its latest fail (0 if never failed).
    pub fail_after_ns: Vec<AtomicU64>,
    epoch: Instant,
}

impl Tracker {
    /// Tracks ids `0..n`.
    pub fn new(n: usize) -> Arc<Self> {
        let zeros32 = || (0..n).map(|_| AtomicU32::new(0)).collect();
        Arc::new(Tracker {
            acks: zeros32(),
            fails: zeros32(),
            emits: zeros32(),
            fail_after_ns: (0..n).map(|_| AtomicU64::new(0)).collect(),
            epoch: Instant::now(),
        })
    }

    fn sum(v: &[AtomicU32]) -> u64 {
        v.iter().map(|a| u64::from(a.load(Ordering::SeqCst))).sum()
    }

    /// Total `ack` calls.
    pub fn total_acks(&self) -> u64 {
        Self::sum(&self.acks)
    }

    /// Total `fail` calls.
    pub fn total_fails(&self) -> u64 {
        Self::sum(&self.fails)
    }

    /// Ids whose `ack` count is not exactly one.
    pub fn not_acked_once(&self) -> Vec<usize> {
        (0..self.acks.len())
            .filter(|&i| self.acks[i].load(Ordering::SeqCst) != 1)
            .collect()
    }

    /// The longest and shortest emit-to-fail times seen.
    pub fn fail_delays(&self) -> (Duration, Duration) {
        let delays: Vec<u64> = self
            .fail_after_ns
            .iter()
            .map(|a| a.load(Ordering::SeqCst))
            .filter(|&d| d > 0)
            .collect();
        (
            Duration::from_nanos(delays.iter().copied().min().unwrap_or(0)),
            Duration::from_nanos(delays.iter().copied().max().unwrap_or(0)),
        )
    }
}

/// Emits ids `0..n` as `[id]` with message id `id`, replays failures, records everything in
/// a [`Tracker`], and is exhausted once every id has been acked.
pub struct TrackingSpout {
    tracker: Arc<Tracker>,
    next: usize,
    step: usize,
    replay: VecDeque<u64>,
    emitted_at: Vec<u64>,
    outstanding: usize,
    replay_failures: bool,
}

impl TrackingSpout {
    /// A spout over the tracker's ids that replays failed ids.
    pub fn new(tracker: Arc<Tracker>) -> Self {
        let n = tracker.acks.len();
        TrackingSpout {
            tracker,
            next: 0,
            step: 1,
            replay: VecDeque::new(),
            emitted_at: vec![0; n],
            outstanding: n,
            replay_failures: true,
        }
    }

    /// Does not replay failed ids (it is exhausted once every id was acked or failed).
    pub fn without_replay(mut self) -> Self {
        self.replay_failures = false;
        self
    }

    fn now_ns(&self) -> u64 {
        self.tracker.epoch.elapsed().as_nanos() as u64
    }
}

impl Spout for TrackingSpout {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["id"]));
    }

    fn open(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        self.step = context
            .component_tasks(context.this_component_id())
            .len()
            .max(1);
        self.next = context.this_task_index();
        self.outstanding = (self.next..self.tracker.acks.len())
            .step_by(self.step)
            .count();
        Ok(())
    }

    fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        let id = match self.replay.pop_front() {
            Some(id) => id,
            None if self.next < self.tracker.acks.len() => {
                self.next += self.step;
                (self.next - self.step) as u64
            }
            None => return Ok(()),
        };
        self.emitted_at[id as usize] = self.now_ns();
        self.tracker.emits[id as usize].fetch_add(1, Ordering::SeqCst);
        out.emit_with_id(values![id as i64], id)?;
        Ok(())
    }

    fn ack(&mut self, id: MessageId) {
        self.tracker.acks[id as usize].fetch_add(1, Ordering::SeqCst);
        self.outstanding = self.outstanding.saturating_sub(1);
    }

    fn fail(&mut self, id: MessageId) {
        let i = id as usize;
        self.tracker.fails[i].fetch_add(1, Ordering::SeqCst);
        let delay = self.now_ns().saturating_sub(self.emitted_at[i]).max(1);
        self.tracker.fail_after_ns[i].store(delay, Ordering::SeqCst);
        if self.replay_failures {
            self.replay.push_back(id);
        } else {
            self.outstanding = self.outstanding.saturating_sub(1);
        }
    }

    fn is_exhausted(&self) -> bool {
        self.outstanding == 0
    }
}

/// A bolt that re-emits its input anchored and acks it; `decide` may instead fail it
/// (`Some(false)`) or drop it without acking (`None`).
pub struct Relay<F> {
    decide: F,
}

impl<F> Relay<F> {
    /// A relay with a decision function over the tuple's id.
    pub fn new(decide: F) -> Self {
        Relay { decide }
    }
}

impl<F: FnMut(i64) -> Option<bool> + Send + 'static> Bolt for Relay<F> {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["id"]));
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        let id = input.get_i64("id")?;
        match (self.decide)(id) {
            Some(true) => {
                out.emit(&[&input], values![id])?;
                out.ack(&input);
            }
            Some(false) => out.fail(&input),
            None => {}
        }
        Ok(())
    }
}

/// Polls `done` every 10 ms until it holds or `limit` passes; returns whether it held. Tests
/// wait on outcomes with this, never on a blind sleep.
pub fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
