//! Storm's reliability guarantees end to end in local mode: every tree is acked or failed
//! back to its spout, explicit fails arrive at once, silent drops time out, and a replaying
//! spout gets at-least-once delivery.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use squall_tests::{Relay, Tracker, TrackingSpout, eventually};
use squall_worker::prelude::*;
use squall_worker::testing::CompleteTopology;

/// Records every id it sees and acks it.
struct Sink {
    seen: Arc<Vec<AtomicU32>>,
}

impl Bolt for Sink {
    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        let id = input.get_i64("id")? as usize;
        self.seen[id].fetch_add(1, Ordering::SeqCst);
        out.ack(&input);
        Ok(())
    }
}

fn conf(timeout_secs: f64) -> Config {
    let mut c = Config::new();
    c.set(
        squall_worker::config::TOPOLOGY_MESSAGE_TIMEOUT_SECS,
        timeout_secs,
    );
    c
}

#[test]
fn every_id_is_acked_once_despite_failures_and_drops() {
    const N: usize = 10_000;
    let tracker = Tracker::new(N);
    let seen: Arc<Vec<AtomicU32>> = Arc::new((0..N).map(|_| AtomicU32::new(0)).collect());
    let t = Arc::clone(&tracker);
    let mut b = TopologyBuilder::new();
    b.set_spout("ids", move || TrackingSpout::new(Arc::clone(&t)), 2);
    b.set_bolt(
        "flaky",
        || {
            let mut rng = SmallRng::seed_from_u64(1);
            Relay::new(move |_| Some(!rng.random_bool(0.10)))
        },
        2,
    )
    .shuffle_grouping("ids");
    b.set_bolt(
        "lossy",
        || {
            let mut rng = SmallRng::seed_from_u64(2);
            Relay::new(move |_| (!rng.random_bool(0.05)).then_some(true))
        },
        2,
    )
    .fields_grouping("flaky", ["id"]);
    let s = Arc::clone(&seen);
    b.set_bolt(
        "sink",
        move || Sink {
            seen: Arc::clone(&s),
        },
        2,
    )
    .shuffle_grouping("lossy");
    let run = CompleteTopology::new()
        .conf(conf(1.0))
        .timeout(Duration::from_secs(60))
        .run(&b.build().expect("valid"))
        .expect("runs");

    assert!(
        run.is_complete(),
        "the run did not complete before its deadline"
    );
    assert_eq!(tracker.not_acked_once(), Vec::<usize>::new());
    assert_eq!(tracker.total_acks(), N as u64);
    let unseen: Vec<usize> = (0..N)
        .filter(|&i| seen[i].load(Ordering::SeqCst) == 0)
        .collect();
    assert!(unseen.is_empty(), "sink never saw {} ids", unseen.len());
    // ~10% fail explicitly and ~5% of the rest time out, and replays fail again sometimes.
    let fails = tracker.total_fails();
    assert!(fails > (N as u64) / 10, "only {fails} fails");
    assert_eq!(run.spout_failed(), fails);
    assert_eq!(run.spout_acked(), N as u64);
}

#[test]
fn an_explicit_fail_reaches_the_spout_long_before_the_timeout() {
    const N: usize = 200;
    let tracker = Tracker::new(N);
    let t = Arc::clone(&tracker);
    let failed_once: Arc<Mutex<Vec<bool>>> = Arc::new(Mutex::new(vec![false; N]));
    let mut b = TopologyBuilder::new();
    b.set_spout("ids", move || TrackingSpout::new(Arc::clone(&t)), 1);
    let f = Arc::clone(&failed_once);
    b.set_bolt(
        "fail-first",
        move || {
            let f = Arc::clone(&f);
            Relay::new(move |id| {
                let mut seen = f.lock().expect("lock");
                let first = !seen[id as usize];
                seen[id as usize] = true;
                Some(!first)
            })
        },
        1,
    )
    .shuffle_grouping("ids");
    // With a 30 s timeout, a run that completes in a few seconds proves the fails were
    // delivered without waiting for it.
    let run = CompleteTopology::new()
        .conf(conf(30.0))
        .timeout(Duration::from_secs(10))
        .run(&b.build().expect("valid"))
        .expect("runs");
    assert!(run.is_complete());
    assert_eq!(tracker.total_fails(), N as u64);
    assert_eq!(tracker.not_acked_once(), Vec::<usize>::new());
    let (_, slowest) = tracker.fail_delays();
    assert!(slowest < Duration::from_secs(5), "a fail took {slowest:?}");
}

#[test]
fn a_dropped_tuple_fails_after_the_timeout_and_never_before() {
    const N: usize = 50;
    let tracker = Tracker::new(N);
    let t = Arc::clone(&tracker);
    let mut b = TopologyBuilder::new();
    b.set_spout(
        "ids",
        move || TrackingSpout::new(Arc::clone(&t)).without_replay(),
        1,
    );
    b.set_bolt("black-hole", || Relay::new(|_| None), 1)
        .shuffle_grouping("ids");
    let timeout = Duration::from_millis(800);
    let run = CompleteTopology::new()
        .conf(conf(timeout.as_secs_f64()))
        .timeout(Duration::from_secs(20))
        .run(&b.build().expect("valid"))
        .expect("runs");
    assert!(run.is_complete());
    assert_eq!(tracker.total_acks(), 0, "a dropped tree was acked");
    assert_eq!(tracker.total_fails(), N as u64);
    let (fastest, slowest) = tracker.fail_delays();
    assert!(
        fastest >= timeout,
        "failed after {fastest:?}, before the timeout"
    );
    assert!(
        slowest < timeout * 2,
        "failed after {slowest:?}, past twice the timeout"
    );
}

/// Holds every input and resets its timeout on each tick; acks them all after `hold_ticks`.
struct Holder {
    held: Vec<Tuple>,
    ticks: u32,
    hold_ticks: u32,
}

impl Bolt for Holder {
    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        if !input.is_tick() {
            self.held.push(input);
            return Ok(());
        }
        self.ticks += 1;
        if self.ticks >= self.hold_ticks {
            for t in self.held.drain(..) {
                out.ack(&t);
            }
        } else {
            for t in &self.held {
                out.reset_timeout(t);
            }
        }
        Ok(())
    }
}

#[test]
fn reset_timeout_keeps_a_tree_alive_past_the_timeout() {
    const N: usize = 20;
    let tracker = Tracker::new(N);
    let t = Arc::clone(&tracker);
    let mut b = TopologyBuilder::new();
    b.set_spout(
        "ids",
        move || TrackingSpout::new(Arc::clone(&t)).without_replay(),
        1,
    );
    // Ticks every 0.25 s; tuples are held for 10 ticks (2.5 s) against a 1 s timeout.
    b.set_bolt(
        "holder",
        || Holder {
            held: Vec::new(),
            ticks: 0,
            hold_ticks: 10,
        },
        1,
    )
    .config(squall_worker::config::TOPOLOGY_TICK_TUPLE_FREQ_SECS, 0.25)
    .shuffle_grouping("ids");
    let run = CompleteTopology::new()
        .conf(conf(1.0))
        .timeout(Duration::from_secs(20))
        .run(&b.build().expect("valid"))
        .expect("runs");
    assert!(run.is_complete());
    assert_eq!(tracker.total_fails(), 0);
    assert_eq!(tracker.not_acked_once(), Vec::<usize>::new());
}

#[test]
fn without_ackers_spouts_are_acked_on_emit_and_nothing_is_tracked() {
    const N: usize = 1000;
    let tracker = Tracker::new(N);
    let t = Arc::clone(&tracker);
    let mut b = TopologyBuilder::new();
    b.set_spout("ids", move || TrackingSpout::new(Arc::clone(&t)), 1);
    // Never acks: with tracking on every tree would time out.
    b.set_bolt("black-hole", || Relay::new(|_| None), 1)
        .shuffle_grouping("ids");
    let mut c = conf(0.2);
    c.set_num_ackers(0);
    let run = CompleteTopology::new()
        .conf(c)
        .timeout(Duration::from_secs(10))
        .run(&b.build().expect("valid"))
        .expect("runs");
    assert!(run.is_complete());
    assert_eq!(tracker.not_acked_once(), Vec::<usize>::new());
    assert_eq!(tracker.total_fails(), 0);
    assert!(run.stats().component("__acker").is_none());
    assert_eq!(
        run.stats()
            .component("black-hole")
            .map(|c| c.counters.executed),
        Some(N as u64)
    );
}

/// Checks, on every `next_tuple`, that fewer than `max` trees are pending.
struct BoundedSpout {
    inner: TrackingSpout,
    max: usize,
    violations: Arc<AtomicU32>,
    peak: Arc<AtomicU32>,
}

impl Spout for BoundedSpout {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        self.inner.declare_outputs(out);
    }
    fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        if out.pending_count() >= self.max {
            self.violations.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.next_tuple(out)?;
        self.peak
            .fetch_max(out.pending_count() as u32, Ordering::SeqCst);
        Ok(())
    }
    fn ack(&mut self, id: MessageId) {
        self.inner.ack(id);
    }
    fn fail(&mut self, id: MessageId) {
        self.inner.fail(id);
    }
    fn is_exhausted(&self) -> bool {
        self.inner.is_exhausted()
    }
}

/// Acks its inputs only once it holds `batch` of them.
struct AckInGroups {
    held: Vec<Tuple>,
    batch: usize,
}

impl Bolt for AckInGroups {
    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        self.held.push(input);
        if self.held.len() == self.batch {
            for t in self.held.drain(..) {
                out.ack(&t);
            }
        }
        Ok(())
    }
}

#[test]
fn max_spout_pending_bounds_the_trees_in_flight() {
    const N: usize = 1000;
    const MAX: usize = 10;
    let tracker = Tracker::new(N);
    let violations = Arc::new(AtomicU32::new(0));
    let peak = Arc::new(AtomicU32::new(0));
    let (t, v, p) = (
        Arc::clone(&tracker),
        Arc::clone(&violations),
        Arc::clone(&peak),
    );
    let mut b = TopologyBuilder::new();
    b.set_spout(
        "ids",
        move || BoundedSpout {
            inner: TrackingSpout::new(Arc::clone(&t)),
            max: MAX,
            violations: Arc::clone(&v),
            peak: Arc::clone(&p),
        },
        1,
    )
    .max_spout_pending(MAX as u64);
    // Acks come only in groups of MAX, so the spout sits at the bound again and again.
    b.set_bolt(
        "groups",
        || AckInGroups {
            held: Vec::new(),
            batch: MAX,
        },
        1,
    )
    .shuffle_grouping("ids");
    let run = CompleteTopology::new()
        .conf(conf(30.0))
        .timeout(Duration::from_secs(20))
        .run(&b.build().expect("valid"))
        .expect("runs");
    assert!(run.is_complete());
    assert_eq!(violations.load(Ordering::SeqCst), 0);
    assert_eq!(peak.load(Ordering::SeqCst), MAX as u32);
    assert_eq!(tracker.not_acked_once(), Vec::<usize>::new());
}

#[test]
fn a_spout_emit_returns_the_receiving_tasks() {
    struct Once(Arc<Mutex<Vec<TaskId>>>, bool);
    impl Spout for Once {
        fn declare_outputs(&self, out: &mut OutputDeclarer) {
            out.declare(Fields::new(["id"]));
        }
        fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
            if !self.1 {
                self.1 = true;
                let tasks = out.emit_with_id(values![1], 1)?;
                self.0.lock().expect("lock").extend_from_slice(tasks);
            }
            Ok(())
        }
        fn is_exhausted(&self) -> bool {
            self.1
        }
    }
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = Arc::clone(&got);
    let mut b = TopologyBuilder::new();
    b.set_spout("once", move || Once(Arc::clone(&g), false), 1);
    b.set_bolt("all", || Relay::new(|_| Some(true)), 3)
        .all_grouping("once");
    let topology = b.build().expect("valid");
    let running = LocalTopology::start("emit-tasks", &Config::new(), &topology).expect("starts");
    assert!(eventually(Duration::from_secs(10), || running
        .stats()
        .spout_totals()
        .acked
        == 1));
    running.kill(Duration::ZERO);
    let mut tasks = got.lock().expect("lock").clone();
    tasks.sort_unstable();
    // Task ids: __acker = 1, all = 2..4, once = 5.
    assert_eq!(tasks, vec![2, 3, 4]);
}
