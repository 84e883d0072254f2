//! The adapter on a controlled clock: windows evaluated when due, their emits anchored to all
//! their tuples, inputs acked exactly when they leave their last window, late tuples on the
//! late stream.

use std::sync::atomic::{AtomicI64, Ordering};

use super::*;
use crate::window::windows::session_key;
use crate::{BoltOutput, SharedContext, TaskLayout, values};

/// What the adapter did: emits (stream, the `n` of each anchor, values), acks and fails (by
/// `n`), errors.
#[derive(Default)]
struct Recorded {
    emitted: Vec<(String, Vec<i64>, Values)>,
    acked: Vec<i64>,
    failed: Vec<i64>,
    errors: Vec<String>,
}

fn n(t: &Tuple) -> i64 {
    t.get_i64("n").unwrap_or(-1)
}

impl BoltOutput for Recorded {
    fn emit(
        &mut self,
        stream: Option<&str>,
        anchors: &[&Tuple],
        values: Values,
        _direct: Option<TaskId>,
    ) -> Result<&[TaskId], EmitError> {
        let stream = stream.unwrap_or("default").to_owned();
        self.emitted
            .push((stream, anchors.iter().map(|t| n(t)).collect(), values));
        Ok(&[])
    }
    fn ack(&mut self, input: &Tuple) {
        self.acked.push(n(input));
    }
    fn fail(&mut self, input: &Tuple) {
        self.failed.push(n(input));
    }
    fn reset_timeout(&mut self, _: &Tuple) {}
    fn report_error(&mut self, error: &dyn std::fmt::Display) {
        self.errors.push(error.to_string());
    }
}

/// Emits the `n`s of its window, in order.
struct Collect;

impl WindowedBolt for Collect {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["ns"]));
    }
    fn execute(
        &mut self,
        window: &TupleWindow<'_>,
        out: &mut WindowCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        let ns: Vec<Value> = window.get().iter().map(|t| Value::I64(n(t))).collect();
        out.emit(values![Value::List(ns)])?;
        Ok(())
    }
}

struct Harness {
    bolt: Windowed<Collect>,
    clock: Arc<AtomicI64>,
    out: Recorded,
}

impl Harness {
    fn new(spec: WindowSpec) -> Harness {
        let clock = Arc::new(AtomicI64::new(1_000));
        let time = Arc::clone(&clock);
        let mut bolt =
            Windowed::with_clock(Collect, spec, Arc::new(move || time.load(Ordering::SeqCst)));
        let shared = Arc::new(SharedContext {
            topology_id: "t-1-1".into(),
            spec: Arc::default(),
            layout: Arc::new(TaskLayout::new([("w", 1)])),
            worker_tasks: vec![1],
            worker_port: None,
        });
        let context = TopologyContext::new(shared, "w", 1, Arc::new(Config::new()));
        bolt.prepare(&context).unwrap();
        Harness {
            bolt,
            clock,
            out: Recorded::default(),
        }
    }

    fn at(&mut self, now: i64) -> &mut Self {
        self.clock.store(now, Ordering::SeqCst);
        self
    }

    fn input(&mut self, n: i64, ts: i64) -> Result<(), ComponentError> {
        let tuple = Tuple::for_test("src", "default", Fields::new(["n", "ts"]), values![n, ts]);
        let mut collector = BoltCollector::new(&mut self.out);
        self.bolt.execute(tuple, &mut collector)
    }

    fn poll(&mut self) {
        let mut collector = BoltCollector::new(&mut self.out);
        self.bolt.poll(&mut collector).unwrap();
    }

    /// The windows emitted so far: the `n`s each held, and the `n`s it was anchored to.
    fn windows(&self) -> Vec<(Vec<i64>, Vec<i64>)> {
        self.out
            .emitted
            .iter()
            .filter(|(s, ..)| s == "default")
            .map(|(_, anchors, values)| {
                let ns = match &values[0] {
                    Value::List(items) => items
                        .iter()
                        .map(|v| match v {
                            Value::I64(n) => *n,
                            _ => -1,
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                (ns, anchors.clone())
            })
            .collect()
    }
}

#[test]
fn a_processing_time_window_is_evaluated_when_due_and_its_tuples_acked_when_they_leave() {
    let mut h = Harness::new(WindowSpec::tumbling(Extent::duration(
        Duration::from_millis(100),
    )));
    // The schedule started at 1000: windows end at 1099, 1199, ...
    for (n, at) in [(1, 1000), (2, 1050), (3, 1099)] {
        h.at(at).input(n, 0).unwrap();
    }
    // Evaluated once the clock is past the end: a tuple stamped 1099 may still arrive then.
    h.at(1099).poll();
    assert!(h.windows().is_empty());
    h.at(1100).poll();
    assert_eq!(h.windows(), [(vec![1, 2, 3], vec![1, 2, 3])]);
    assert!(h.out.acked.is_empty(), "acked before leaving the window");
    h.at(1150).input(4, 0).unwrap();
    h.at(1199).poll();
    assert!(h.out.acked.is_empty());
    // The next window: 1, 2, 3 leave it and are acked then, after it is evaluated.
    h.at(1200).poll();
    assert_eq!(h.windows()[1], (vec![4], vec![4]));
    assert_eq!(h.out.acked, [1, 2, 3]);
    assert!(h.out.failed.is_empty());
}

#[test]
fn count_windows_fire_on_the_tuple_that_completes_them() {
    let mut h = Harness::new(WindowSpec::sliding(Extent::count(3), Extent::count(2)));
    for n in 1..=6 {
        h.input(n, 0).unwrap();
    }
    assert_eq!(
        h.windows(),
        [
            (vec![1, 2], vec![1, 2]),
            (vec![2, 3, 4], vec![2, 3, 4]),
            (vec![4, 5, 6], vec![4, 5, 6]),
        ]
    );
    assert_eq!(h.out.acked, [1, 2, 3]);
}

#[test]
fn event_time_waits_for_the_watermark_and_sends_late_tuples_to_the_late_stream() {
    let spec = WindowSpec::tumbling(Extent::duration(Duration::from_millis(10)))
        .timestamp_field("ts")
        .lag(Duration::from_millis(5))
        .watermark_interval(Duration::from_millis(1))
        .late_tuple_stream("late");
    let mut h = Harness::new(spec);
    // Out of order within the lag.
    for (n, ts) in [(1, 3), (2, 12), (3, 8), (4, 25)] {
        h.input(n, ts).unwrap();
    }
    h.at(2_000).poll();
    // Watermark 25 - 5 = 20: (0, 10] is done; (10, 20] waits for the watermark to pass 20.
    assert_eq!(h.windows(), [(vec![1, 3], vec![1, 3])]);
    assert!(h.out.acked.is_empty());
    // 9 is behind the watermark: on the late stream, anchored to itself, and acked.
    h.input(5, 9).unwrap();
    let late: Vec<_> = h.out.emitted.iter().filter(|(s, ..)| s == "late").collect();
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].1, [5]);
    assert_eq!(
        late[0].2,
        values![Value::List(vec![Value::I64(5), Value::I64(9)])]
    );
    assert_eq!(h.out.acked, [5]);
    // Watermark 35: (10, 20] and (20, 30]; each window's predecessors expire after it.
    h.input(6, 40).unwrap();
    h.at(2_001).poll();
    assert_eq!(
        h.windows(),
        [
            (vec![1, 3], vec![1, 3]),
            (vec![2], vec![2]),
            (vec![4], vec![4])
        ]
    );
    assert_eq!(h.out.acked, [5, 1, 3, 2]);
    // A tuple without its timestamp field fails (returned error).
    let mut collector = BoltCollector::new(&mut h.out);
    let bare = Tuple::for_test("src", "default", Fields::new(["n"]), values![7]);
    assert!(h.bolt.execute(bare, &mut collector).is_err());
}

#[test]
fn sessions_close_per_key_after_the_gap() {
    struct Keys;
    impl WindowedBolt for Keys {
        fn execute(
            &mut self,
            window: &TupleWindow,
            out: &mut WindowCollector<'_, '_>,
        ) -> Result<(), ComponentError> {
            out.emit(values![
                window.key().unwrap_or_default(),
                window.get().len() as i64
            ])?;
            Ok(())
        }
    }
    let clock = Arc::new(AtomicI64::new(0));
    let time = Arc::clone(&clock);
    let mut bolt = Windowed::with_clock(
        Keys,
        WindowSpec::session(Duration::from_millis(50), ["user"]),
        Arc::new(move || time.load(Ordering::SeqCst)),
    );
    let mut out = Recorded::default();
    let tuple = |user: &str, n: i64| {
        Tuple::for_test(
            "src",
            "default",
            Fields::new(["user", "n"]),
            values![user, n],
        )
    };
    for (at, user, n) in [
        (0, "ann", 1),
        (10, "bob", 2),
        (40, "ann", 3),
        (95, "ann", 4),
    ] {
        clock.store(at, Ordering::SeqCst);
        bolt.execute(tuple(user, n), &mut BoltCollector::new(&mut out))
            .unwrap();
    }
    clock.store(100, Ordering::SeqCst);
    bolt.poll(&mut BoltCollector::new(&mut out)).unwrap();
    // bob: quiet since 10; ann's first session (0, 40) ended at 90 and her 95 began another.
    let emitted: Vec<_> = out
        .emitted
        .iter()
        .map(|(_, a, v)| (a.clone(), v.clone()))
        .collect();
    assert_eq!(
        emitted,
        [
            (vec![2], values!["bob", 1]),
            (vec![1, 3], values!["ann", 2])
        ]
    );
    assert_eq!(out.acked, [2, 1, 3]);
}

#[test]
fn session_keys_of_values_holding_the_separator_stay_apart() {
    let tuple = |a: &str, b: &str| {
        Tuple::for_test("src", "default", Fields::new(["a", "b"]), values![a, b])
    };
    let fields = ["a".to_owned(), "b".to_owned()];
    let one = session_key(&tuple("x|y", "z"), &fields).unwrap();
    let two = session_key(&tuple("x", "y|z"), &fields).unwrap();
    assert_ne!(one, two);
    assert_eq!(one, "x\\|y|z");
    assert!(session_key(&tuple("x", "y"), &["c".to_owned()]).is_err());
}
