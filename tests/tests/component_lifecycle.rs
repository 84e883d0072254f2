//! Component lifecycles: open/activate/deactivate/close one at a time, prepare/cleanup, tick
//! tuples, and user code that panics or returns errors without stopping the topology.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use squall_tests::{Relay, Tracker, TrackingSpout, eventually};
use squall_worker::prelude::*;
use squall_worker::testing::CompleteTopology;

#[derive(Default)]
struct Log {
    events: Mutex<Vec<&'static str>>,
    /// Set while a callback runs; callbacks found it set ran at the same time as another.
    inside: AtomicBool,
    overlaps: AtomicU32,
    next_tuple_while_inactive: AtomicU32,
    emitted: AtomicU32,
}

struct Inside<'a>(&'a Log);

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        self.0.inside.store(false, Ordering::SeqCst);
    }
}

impl Log {
    fn note(&self, event: &'static str) {
        let _inside = self.enter();
        self.events.lock().expect("lock").push(event);
    }
    /// Marks a callback running until the guard drops, counting any that overlap it.
    fn enter(&self) -> Inside<'_> {
        if self.inside.swap(true, Ordering::SeqCst) {
            self.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        Inside(self)
    }
    fn events(&self) -> Vec<&'static str> {
        self.events.lock().expect("lock").clone()
    }
}

struct LifecycleSpout {
    log: Arc<Log>,
    active: bool,
}

impl Spout for LifecycleSpout {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["id"]));
    }
    fn open(&mut self, _ctx: &TopologyContext) -> Result<(), ComponentError> {
        self.log.note("open");
        Ok(())
    }
    fn activate(&mut self) {
        self.active = true;
        self.log.note("activate");
    }
    fn deactivate(&mut self) {
        self.active = false;
        self.log.note("deactivate");
    }
    fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        if !self.active {
            self.log
                .next_tuple_while_inactive
                .fetch_add(1, Ordering::SeqCst);
        }
        let _inside = self.log.enter();
        let n = self.log.emitted.fetch_add(1, Ordering::SeqCst);
        out.emit_with_id(values![i64::from(n)], u64::from(n))?;
        // Slow enough that the run is not all emitting.
        std::thread::sleep(Duration::from_micros(200));
        Ok(())
    }
    fn ack(&mut self, _id: MessageId) {
        let _inside = self.log.enter();
        // Long enough that a callback run beside it would be seen.
        std::thread::sleep(Duration::from_micros(50));
    }
    fn close(&mut self) {
        self.log.note("close");
    }
}

struct LifecycleBolt {
    log: Arc<Log>,
}

impl Bolt for LifecycleBolt {
    fn prepare(&mut self, _ctx: &TopologyContext) -> Result<(), ComponentError> {
        self.log.note("prepare");
        Ok(())
    }
    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        out.ack(&input);
        Ok(())
    }
    fn cleanup(&mut self) {
        self.log.note("cleanup");
    }
}

#[test]
fn spout_and_bolt_lifecycles_run_in_order_and_never_at_once() {
    let spout_log = Arc::new(Log::default());
    let bolt_log = Arc::new(Log::default());
    let (s, bl) = (Arc::clone(&spout_log), Arc::clone(&bolt_log));
    let mut b = TopologyBuilder::new();
    b.set_spout(
        "spout",
        move || LifecycleSpout {
            log: Arc::clone(&s),
            active: false,
        },
        1,
    );
    b.set_bolt(
        "bolt",
        move || LifecycleBolt {
            log: Arc::clone(&bl),
        },
        1,
    )
    .shuffle_grouping("spout");
    let running = LocalTopology::start("lifecycle", &Config::new(), &b.build().expect("valid"))
        .expect("start");
    let acked = |n: u64| {
        eventually(Duration::from_secs(10), || {
            running.stats().spout_totals().acked >= n
        })
    };
    assert!(acked(10));

    running.deactivate();
    assert!(eventually(Duration::from_secs(5), || spout_log
        .events()
        .contains(&"deactivate")));
    let after_deactivate = spout_log.emitted.load(Ordering::SeqCst);

    running.activate();
    assert!(eventually(Duration::from_secs(5), || {
        spout_log.emitted.load(Ordering::SeqCst) > after_deactivate + 10
    }));
    let stats = running.kill(Duration::from_millis(100));

    assert_eq!(
        spout_log.events(),
        vec![
            "open",
            "activate",
            "deactivate",
            "activate",
            "deactivate",
            "close"
        ]
    );
    assert_eq!(bolt_log.events(), vec!["prepare", "cleanup"]);
    assert_eq!(
        spout_log.next_tuple_while_inactive.load(Ordering::SeqCst),
        0
    );
    // Executors move between pool threads, but a task's callbacks never overlap.
    assert_eq!(
        spout_log.overlaps.load(Ordering::SeqCst),
        0,
        "spout callbacks ran at the same time"
    );
    assert_eq!(stats.spout_totals().failed, 0);
}

/// Counts tick tuples and checks their shape.
struct TickCounter {
    ticks: Arc<AtomicU32>,
    malformed: Arc<AtomicBool>,
}

impl Bolt for TickCounter {
    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        if input.is_tick() {
            let well_formed = input.source_component() == "__system"
                && input.source_stream() == "__tick"
                && input.source_task() == squall_worker::SYSTEM_TASK_ID;
            if !well_formed {
                self.malformed.store(true, Ordering::SeqCst);
            }
            self.ticks.fetch_add(1, Ordering::SeqCst);
        }
        out.ack(&input);
        Ok(())
    }
}

#[test]
fn tick_tuples_reach_only_the_bolts_that_asked_for_them() {
    let ticked = Arc::new(AtomicU32::new(0));
    let unticked = Arc::new(AtomicU32::new(0));
    let malformed = Arc::new(AtomicBool::new(false));
    let tracker = Tracker::new(1);
    let t = Arc::clone(&tracker);
    let mut b = TopologyBuilder::new();
    b.set_spout("ids", move || TrackingSpout::new(Arc::clone(&t)), 1);
    let (a, m) = (Arc::clone(&ticked), Arc::clone(&malformed));
    b.set_bolt(
        "ticked",
        move || TickCounter {
            ticks: Arc::clone(&a),
            malformed: Arc::clone(&m),
        },
        2,
    )
    .config(squall_worker::config::TOPOLOGY_TICK_TUPLE_FREQ_SECS, 0.05)
    .shuffle_grouping("ids");
    let (u, m) = (Arc::clone(&unticked), Arc::clone(&malformed));
    b.set_bolt(
        "unticked",
        move || TickCounter {
            ticks: Arc::clone(&u),
            malformed: Arc::clone(&m),
        },
        1,
    )
    .shuffle_grouping("ids");
    let running =
        LocalTopology::start("ticks", &Config::new(), &b.build().expect("valid")).expect("start");
    // Two executors, each ticking every 50 ms.
    assert!(eventually(Duration::from_secs(10), || ticked
        .load(Ordering::SeqCst)
        >= 10));
    running.kill(Duration::ZERO);
    assert_eq!(unticked.load(Ordering::SeqCst), 0);
    assert!(!malformed.load(Ordering::SeqCst));
}

/// Panics on the first delivery of every tenth id.
struct Panicky {
    seen: Arc<Mutex<Vec<bool>>>,
}

impl Bolt for Panicky {
    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        let id = input.get_i64("id")? as usize;
        let first = !std::mem::replace(&mut self.seen.lock().expect("lock")[id], true);
        if first && id.is_multiple_of(10) {
            panic!("boom on {id}");
        }
        out.ack(&input);
        Ok(())
    }
}

#[test]
fn a_panicking_bolt_keeps_running_and_its_tuples_are_replayed() {
    const N: usize = 1000;
    let tracker = Tracker::new(N);
    let seen = Arc::new(Mutex::new(vec![false; N]));
    let (t, s) = (Arc::clone(&tracker), Arc::clone(&seen));
    let mut b = TopologyBuilder::new();
    b.set_spout("ids", move || TrackingSpout::new(Arc::clone(&t)), 1);
    b.set_bolt(
        "panicky",
        move || Panicky {
            seen: Arc::clone(&s),
        },
        2,
    )
    .shuffle_grouping("ids");
    let mut conf = Config::new();
    conf.set_message_timeout_secs(30);
    let run = CompleteTopology::new()
        .conf(conf)
        .timeout(Duration::from_secs(20))
        .run(&b.build().expect("valid"))
        .expect("runs");
    assert!(run.is_complete());
    assert_eq!(tracker.not_acked_once(), Vec::<usize>::new());
    // Failed at once by the runtime, not by the 30 s timeout.
    assert_eq!(tracker.total_fails(), (N / 10) as u64);
    let bolt = run.stats().component("panicky").expect("panicky");
    assert_eq!(bolt.counters.errors, (N / 10) as u64);
    let last = bolt.errors.last().expect("an error was kept");
    assert!(
        last.message.contains("panicked: boom on"),
        "{}",
        last.message
    );
    assert!(bolt.errors.len() <= 10, "only the newest errors are kept");
}

/// Fails odd ids the first time by returning an error.
struct OddFails {
    seen: Vec<bool>,
}

impl BasicBolt for OddFails {
    fn execute(
        &mut self,
        input: &Tuple,
        _out: &mut BasicCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        let id = input.get_i64("id")? as usize;
        if id % 2 == 1 && !std::mem::replace(&mut self.seen[id], true) {
            return Err(ComponentError::msg(format!("odd id {id}")));
        }
        Ok(())
    }
}

#[test]
fn a_basic_bolt_error_fails_exactly_that_input() {
    const N: usize = 100;
    let tracker = Tracker::new(N);
    let t = Arc::clone(&tracker);
    let mut b = TopologyBuilder::new();
    b.set_spout("ids", move || TrackingSpout::new(Arc::clone(&t)), 1);
    b.set_basic_bolt(
        "odd",
        || OddFails {
            seen: vec![false; N],
        },
        1,
    )
    .shuffle_grouping("ids");
    let run = CompleteTopology::new()
        .timeout(Duration::from_secs(20))
        .run(&b.build().expect("valid"))
        .expect("runs");
    assert!(run.is_complete());
    for id in 0..N {
        let fails = tracker.fails[id].load(Ordering::SeqCst);
        assert_eq!(
            fails,
            u32::from(id % 2 == 1),
            "id {id} failed {fails} times"
        );
    }
    assert_eq!(tracker.not_acked_once(), Vec::<usize>::new());
    let bolt = run.stats().component("odd").expect("odd");
    assert_eq!(bolt.counters.errors, (N / 2) as u64);
}

/// Panics on every 50th call of next_tuple.
struct PanickySpout {
    inner: TrackingSpout,
    calls: u32,
}

impl Spout for PanickySpout {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        self.inner.declare_outputs(out);
    }
    fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        self.calls += 1;
        if self.calls.is_multiple_of(50) {
            panic!("spout hiccup");
        }
        self.inner.next_tuple(out)
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

#[test]
fn a_panicking_spout_keeps_emitting() {
    const N: usize = 500;
    let tracker = Tracker::new(N);
    let t = Arc::clone(&tracker);
    let mut b = TopologyBuilder::new();
    b.set_spout(
        "ids",
        move || PanickySpout {
            inner: TrackingSpout::new(Arc::clone(&t)),
            calls: 0,
        },
        1,
    );
    b.set_bolt("relay", || Relay::new(|_| Some(true)), 1)
        .shuffle_grouping("ids");
    let run = CompleteTopology::new()
        .timeout(Duration::from_secs(20))
        .run(&b.build().expect("valid"))
        .expect("runs");
    assert!(run.is_complete());
    assert_eq!(tracker.not_acked_once(), Vec::<usize>::new());
    assert!(run.stats().component("ids").expect("ids").counters.errors >= 9);
}

#[test]
fn emitting_on_an_undeclared_stream_is_an_error_not_a_crash() {
    struct Wrong(bool);
    impl Spout for Wrong {
        fn declare_outputs(&self, out: &mut OutputDeclarer) {
            out.declare(Fields::new(["id"]));
        }
        fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
            if !self.0 {
                self.0 = true;
                out.emit_on("nope", values![1], None)?;
            }
            Ok(())
        }
        fn is_exhausted(&self) -> bool {
            self.0
        }
    }
    let mut b = TopologyBuilder::new();
    b.set_spout("wrong", || Wrong(false), 1);
    b.set_bolt("relay", || Relay::new(|_| Some(true)), 1)
        .shuffle_grouping("wrong");
    let run = CompleteTopology::new()
        .run(&b.build().expect("valid"))
        .expect("runs");
    let spout = run.stats().component("wrong").expect("wrong");
    assert_eq!(spout.counters.errors, 1);
    assert_eq!(
        spout.errors[0].message,
        r#"unknown stream "nope" on component "wrong""#
    );
}

/// Emits one tuple with a message id, then nothing; counts its housekeeping, the third of
/// which fails.
struct OneTree {
    emitted: bool,
    housekept: Arc<AtomicU32>,
    next_tuple_calls: Arc<AtomicU32>,
}

impl Spout for OneTree {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["n"]));
    }
    fn next_tuple(&mut self, out: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        self.next_tuple_calls.fetch_add(1, Ordering::SeqCst);
        if !self.emitted {
            self.emitted = true;
            out.emit_with_id(values![1], 1)?;
        }
        Ok(())
    }
    fn housekeeping_interval(&self) -> Option<Duration> {
        Some(Duration::from_millis(10))
    }
    fn housekeep(&mut self) -> Result<(), ComponentError> {
        if self.housekept.fetch_add(1, Ordering::SeqCst) + 1 == 3 {
            return Err(ComponentError::msg("the source is unreachable"));
        }
        Ok(())
    }
}

/// Takes its inputs and never acks them.
struct Hold;

impl Bolt for Hold {
    fn declare_outputs(&self, _out: &mut OutputDeclarer) {}
    fn execute(
        &mut self,
        _input: Tuple,
        _out: &mut BoltCollector<'_>,
    ) -> Result<(), ComponentError> {
        Ok(())
    }
}

/// A spout whose one tree is stuck (max pending 1, a bolt that never acks) is not asked for
/// more tuples, yet its housekeeping still runs every interval and its errors are reported:
/// a broker spout stuck behind an unreachable broker can still say so.
#[test]
fn a_spout_at_max_pending_still_housekeeps_and_reports_its_errors() {
    let housekept = Arc::new(AtomicU32::new(0));
    let next_tuple_calls = Arc::new(AtomicU32::new(0));
    let (h, n) = (Arc::clone(&housekept), Arc::clone(&next_tuple_calls));
    let mut b = TopologyBuilder::new();
    b.set_spout(
        "one",
        move || OneTree {
            emitted: false,
            housekept: Arc::clone(&h),
            next_tuple_calls: Arc::clone(&n),
        },
        1,
    );
    b.set_bolt("hold", || Hold, 1).shuffle_grouping("one");
    let mut conf = Config::new();
    conf.set_max_spout_pending(1).set_message_timeout_secs(60);
    let running = LocalTopology::start("housekeeping", &conf, &b.build().unwrap()).unwrap();
    assert!(
        eventually(Duration::from_secs(10), || housekept.load(Ordering::SeqCst)
            >= 20),
        "housekeeping ran {} times in 10 s",
        housekept.load(Ordering::SeqCst)
    );
    let calls_at_max_pending = next_tuple_calls.load(Ordering::SeqCst);
    let stats = running.stats();
    running.kill(Duration::ZERO);
    let spout = stats.component("one").unwrap();
    assert_eq!(spout.counters.emitted, 1);
    // The one tree is in flight all along: next_tuple ran once (the emit), never again.
    assert_eq!(calls_at_max_pending, 1);
    assert!(
        spout
            .errors
            .iter()
            .any(|e| e.message.contains("the source is unreachable")),
        "{:?}",
        spout.errors
    );
}
