//! Stateful windows under the stateful runner, driven step by step: a restarted task finds its
//! windows as the last commit left them (no window lost, none evaluated twice), inputs are
//! acked at commit, expired tuples leave the store, and a rollback takes the windows back too.

use std::fmt;
use std::sync::Arc;

use super::*;
use crate::spec::ComponentFactory;
use crate::state::{
    CHECKPOINT_COMPONENT_ID, CHECKPOINT_STREAM_ID, MemoryBackend, SharedBackend,
    TOPOLOGY_STATE_PROVIDER,
};
use crate::window::Extent;
use crate::{
    AnchorIds, Bolt, BoltOutput, EmitError, Fields, SharedContext, SpoutCollector, StreamSchema,
    TaskId, TaskLayout, Topology, TopologyBuilder, Value, Values, values,
};

/// Emits the `n`s of each window; counts the windows and their tuples in its state. A window
/// holding a negative `n` fails after counting its tuples.
struct Collect;

impl StatefulWindowedBolt for Collect {
    type Key = String;
    type Value = i64;

    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["ns", "windows"]));
    }

    fn execute(
        &mut self,
        window: &TupleWindow<'_>,
        state: &mut KeyValueState<String, i64>,
        out: &mut WindowCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        let ns: Vec<Value> = window
            .get()
            .iter()
            .map(|t| Value::I64(t.get_i64("n").unwrap_or(-1)))
            .collect();
        *state.entry("tuples".into()).or_insert(0) += ns.len() as i64;
        if ns.iter().any(|n| n.as_i64().is_some_and(|n| n < 0)) {
            return Err(ComponentError::msg("a negative number"));
        }
        let windows = state.entry("windows".into()).or_insert(0);
        *windows += 1;
        let windows = *windows;
        out.emit(values![Value::List(ns), windows])?;
        Ok(())
    }
}

struct Source;

impl crate::Spout for Source {
    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["n", "key", "ts"]));
    }
    fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> {
        Ok(())
    }
}

/// What the task did: windows emitted (their `n`s, with the anchor count), acked and failed
/// inputs by `n` (checkpoints by action), errors.
#[derive(Default)]
struct Recorded {
    windows: Vec<(Vec<i64>, usize)>,
    acked: Vec<String>,
    failed: Vec<String>,
    errors: Vec<String>,
}

fn name(t: &Tuple) -> String {
    if t.source_stream() == CHECKPOINT_STREAM_ID {
        return t.get_str("action").unwrap_or("?").to_owned();
    }
    t.get_i64("n").map_or("?".into(), |n| n.to_string())
}

impl BoltOutput for Recorded {
    fn emit(
        &mut self,
        stream: Option<&str>,
        anchors: &[&Tuple],
        values: Values,
        _direct: Option<TaskId>,
    ) -> Result<&[TaskId], EmitError> {
        if stream.unwrap_or("default") == "default"
            && let Some(Value::List(ns)) = values.first()
        {
            let ns = ns.iter().filter_map(Value::as_i64).collect();
            self.windows.push((ns, anchors.len()));
        }
        Ok(&[])
    }
    fn ack(&mut self, input: &Tuple) {
        self.acked.push(name(input));
    }
    fn fail(&mut self, input: &Tuple) {
        self.failed.push(name(input));
    }
    fn reset_timeout(&mut self, _: &Tuple) {}
    fn report_error(&mut self, error: &dyn fmt::Display) {
        self.errors.push(error.to_string());
    }
}

/// One task of a stateful windowed bolt over `backend`, started as the engine starts it.
struct Task {
    bolt: Box<dyn Bolt>,
    /// The context the task was prepared with, for a test that prepares another bolt.
    context: Option<TopologyContext>,
    /// This task's id: its stores are `w-<id>` and `w-<id>-window`.
    id: TaskId,
    out: Recorded,
    seq: i64,
    /// Where checkpoint steps come from: (component, task).
    sender: (&'static str, TaskId),
}

fn topology(spec: WindowSpec, backend: &SharedBackend) -> Topology {
    let mut b = TopologyBuilder::new();
    let shared = Arc::clone(backend);
    b.state_backend("test", move |_| Ok(Arc::clone(&shared)));
    b.set_spout("src", || Source, 1);
    b.set_stateful_windowed_bolt("w", || Collect, spec, 1)
        .shuffle_grouping("src");
    b.build().unwrap()
}

impl Task {
    fn start(spec: WindowSpec, backend: &SharedBackend) -> Task {
        Task::start_with(spec, backend, "at_least_once")
    }

    /// A task under `guarantee` (`at_least_once` or `exactly_once`).
    fn start_with(spec: WindowSpec, backend: &SharedBackend, guarantee: &str) -> Task {
        let topology = topology(spec, backend);
        let Some(ComponentFactory::Bolt(factory)) = topology.factory("w") else {
            panic!("no bolt factory for w");
        };
        let mut bolt = factory();
        let spec = topology.spec();
        let counts: Vec<(String, u32)> = spec
            .components
            .iter()
            .map(|c| (c.id.clone(), c.tasks))
            .collect();
        let layout = TaskLayout::new(counts.iter().map(|(id, n)| (id.as_str(), *n)));
        let task = layout.tasks_of("w")[0];
        // Checkpoints come from the coordinator in Storm's mode, through the spout in
        // exactly-once mode.
        let sender = if guarantee == "exactly_once" {
            ("src", layout.tasks_of("src")[0])
        } else {
            (
                CHECKPOINT_COMPONENT_ID,
                layout.tasks_of(CHECKPOINT_COMPONENT_ID)[0],
            )
        };
        let shared = Arc::new(SharedContext {
            topology_id: "windows-1-1".into(),
            spec: Arc::clone(spec),
            layout: Arc::new(layout),
            worker_tasks: vec![task],
            worker_port: None,
        });
        let mut conf = Config::new();
        conf.set(TOPOLOGY_STATE_PROVIDER, "test");
        conf.set(crate::state::TOPOLOGY_STATE_GUARANTEE, guarantee);
        let context = TopologyContext::new(shared, "w", task, Arc::new(conf));
        bolt.prepare(&context).unwrap();
        Task {
            bolt,
            context: Some(context),
            id: task,
            out: Recorded::default(),
            seq: 0,
            sender,
        }
    }

    fn feed(&mut self, t: Tuple) {
        let mut collector = BoltCollector::new(&mut self.out);
        if let Err(e) = self.bolt.execute(t, &mut collector) {
            self.out.errors.push(e.to_string());
        }
    }

    fn input(&mut self, n: i64) {
        self.keyed(n, "k", 0);
    }

    fn keyed(&mut self, n: i64, key: &str, ts: i64) {
        let t = Tuple::for_test(
            "src",
            "default",
            Fields::new(["n", "key", "ts"]),
            values![n, key, ts],
        );
        self.feed(t);
    }

    fn step(&mut self, txid: i64, action: &str) {
        self.seq += 1;
        let t = Tuple::from_parts(
            StreamSchema::intern(
                self.sender.0,
                CHECKPOINT_STREAM_ID,
                Fields::new(crate::state::CHECKPOINT_FIELDS),
            ),
            self.sender.1,
            values![txid, action, self.seq],
            AnchorIds::new(),
        );
        self.feed(t);
    }

    fn poll(&mut self) {
        let mut collector = BoltCollector::new(&mut self.out);
        self.bolt.poll(&mut collector).unwrap();
    }

    /// The windows emitted so far, by their `n`s.
    fn windows(&self) -> Vec<Vec<i64>> {
        self.out.windows.iter().map(|(ns, _)| ns.clone()).collect()
    }

    /// The data inputs acked so far.
    fn acked_inputs(&self) -> Vec<String> {
        self.out
            .acked
            .iter()
            .filter(|a| a.parse::<i64>().is_ok())
            .cloned()
            .collect()
    }
}

/// A key's committed value in task `task`'s user state.
fn committed(backend: &SharedBackend, task: TaskId, key: &str) -> Option<i64> {
    let namespace = format!("w-{task}");
    let loaded = backend.open("windows", &namespace).unwrap().load().unwrap();
    let key = serde_json::to_vec(key).unwrap();
    loaded
        .entries
        .iter()
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| serde_json::from_slice(v).ok())
}

/// The numbers of the tuples the window store holds, committed.
fn stored_tuples(backend: &SharedBackend, task: TaskId) -> Vec<u64> {
    let namespace = format!("w-{task}-window");
    let loaded = backend.open("windows", &namespace).unwrap().load().unwrap();
    let mut ns: Vec<u64> = loaded
        .entries
        .iter()
        .filter_map(|(k, _)| super::super::persist::tuple_number(k))
        .collect();
    ns.sort_unstable();
    ns
}

#[test]
fn a_restarted_task_finds_its_open_window_and_evaluates_no_window_twice() {
    let backend: SharedBackend = Arc::new(MemoryBackend::new());
    let tumbling3 = WindowSpec::tumbling(Extent::count(3));
    let mut t = Task::start(tumbling3.clone(), &backend);
    t.step(-1, "INITSTATE");
    for n in 1..=4 {
        t.input(n);
    }
    assert_eq!(t.windows(), [vec![1, 2, 3]]);
    assert_eq!(
        t.out.windows[0].1, 0,
        "a stateful window's emits are not anchored"
    );
    assert!(t.acked_inputs().is_empty(), "inputs wait for their commit");
    t.step(0, "PREPARE");
    t.step(0, "COMMIT");
    assert_eq!(t.acked_inputs(), ["1", "2", "3", "4"], "acked at commit");
    // Tuples 1-3 leave at the next window (Storm's expiry), so all four are stored (by number,
    // counting from 0).
    assert_eq!(stored_tuples(&backend, t.id), [0, 1, 2, 3]);
    t.input(5); // never checkpointed: lost with the task, replayed by its spout
    assert!(t.out.errors.is_empty(), "{:?}", t.out.errors);
    drop(t);

    let mut again = Task::start(tumbling3, &backend);
    again.step(0, "INITSTATE");
    again.input(5); // the replay
    again.input(6);
    assert_eq!(
        again.windows(),
        [vec![4, 5, 6]],
        "4 came back from the checkpoint; [1, 2, 3] was not evaluated again"
    );
    // At the next checkpoint 1-3 leave the store; 4-6 are held until the next window.
    again.step(1, "PREPARE");
    again.step(1, "COMMIT");
    assert_eq!(stored_tuples(&backend, again.id), [3, 4, 5]);
    assert!(again.out.errors.is_empty(), "{:?}", again.out.errors);
}

#[test]
fn the_window_count_in_the_user_state_survives_with_the_windows() {
    let backend: SharedBackend = Arc::new(MemoryBackend::new());
    let spec = WindowSpec::tumbling(Extent::count(2));
    let mut t = Task::start(spec.clone(), &backend);
    t.step(-1, "INITSTATE");
    for n in 1..=5 {
        t.input(n);
    }
    t.step(0, "PREPARE");
    t.step(0, "COMMIT");
    drop(t);
    let mut again = Task::start(spec, &backend);
    again.step(0, "INITSTATE");
    again.input(6);
    // [5, 6] is the third window: the state counted two before the restart.
    let emitted = &again.out.windows;
    assert_eq!(emitted.len(), 1);
    assert_eq!(again.windows(), [vec![5, 6]]);
    assert_eq!(committed(&backend, again.id, "windows"), Some(2));
}

#[test]
fn a_rollback_takes_the_windows_back_to_the_commit_and_fails_the_inputs_since() {
    let backend: SharedBackend = Arc::new(MemoryBackend::new());
    let mut t = Task::start(WindowSpec::tumbling(Extent::count(3)), &backend);
    t.step(-1, "INITSTATE");
    t.input(1);
    t.step(0, "PREPARE");
    t.step(0, "COMMIT");
    t.input(2);
    t.input(3); // completes [1, 2, 3]
    t.step(1, "PREPARE");
    t.input(4);
    t.step(1, "ROLLBACK"); // another task failed PREPARE 1
    assert_eq!(t.out.failed, ["2", "3", "4"]);
    // The replays land in the window as it was committed: [1] open.
    t.input(2);
    t.input(3);
    assert_eq!(t.windows(), [vec![1, 2, 3], vec![1, 2, 3]]);
    assert!(t.out.errors.is_empty(), "{:?}", t.out.errors);
}

#[test]
fn a_window_error_rewinds_with_exactly_once_and_is_only_reported_with_at_least_once() {
    let spec = WindowSpec::tumbling(Extent::count(3));
    // Exactly-once: the error fails the next PREPARE; the rollback drops the window's
    // half-made count with the rest.
    let backend: SharedBackend = Arc::new(MemoryBackend::new());
    let mut t = Task::start_with(spec.clone(), &backend, "exactly_once");
    t.step(-1, "INITSTATE");
    t.input(1);
    t.input(2);
    t.input(-3); // completes a window that fails
    assert!(
        t.out.errors.iter().any(|e| e.contains("negative")),
        "{:?}",
        t.out.errors
    );
    t.step(0, "PREPARE");
    assert!(
        t.out.failed.contains(&"PREPARE".to_owned()),
        "failed: {:?}",
        t.out.failed
    );
    t.step(0, "ROLLBACK");
    // The spout rewinds and sends its numbers again (this time without the poison).
    t.input(1);
    t.input(2);
    t.input(3);
    t.step(1, "PREPARE");
    t.step(1, "COMMIT");
    assert_eq!(
        committed(&backend, t.id, "tuples"),
        Some(3),
        "the failed window's count is gone"
    );
    assert_eq!(committed(&backend, t.id, "windows"), Some(1));

    // At-least-once: reported, and the checkpoint goes through, as with plain windows.
    let backend: SharedBackend = Arc::new(MemoryBackend::new());
    let mut t = Task::start(spec, &backend);
    t.step(-1, "INITSTATE");
    t.input(1);
    t.input(2);
    t.input(-3);
    assert!(
        t.out.errors.iter().any(|e| e.contains("negative")),
        "{:?}",
        t.out.errors
    );
    t.step(0, "PREPARE");
    t.step(0, "COMMIT");
    assert!(t.out.failed.is_empty(), "failed: {:?}", t.out.failed);
    assert_eq!(t.acked_inputs(), ["1", "2", "-3"]);
}

#[test]
fn a_session_open_at_the_checkpoint_goes_on_after_a_restart() {
    let backend: SharedBackend = Arc::new(MemoryBackend::new());
    let spec = WindowSpec::session(std::time::Duration::from_millis(10), ["key"])
        .timestamp_field("ts")
        .watermark_interval(std::time::Duration::from_millis(1));
    let mut t = Task::start(spec.clone(), &backend);
    t.step(-1, "INITSTATE");
    t.keyed(1, "a", 100);
    t.keyed(2, "b", 100);
    t.keyed(3, "a", 105);
    t.step(0, "PREPARE");
    t.step(0, "COMMIT");
    drop(t);

    let mut again = Task::start(spec, &backend);
    again.step(0, "INITSTATE");
    again.keyed(4, "a", 112); // within 10 of 105: the same session
    again.keyed(5, "b", 200); // b's session of 100 closes once the watermark passes 110
    again.poll(); // a restarted task computes its first watermark at once
    let mut windows = again.windows();
    windows.sort();
    assert_eq!(windows, [vec![1, 3, 4], vec![2]]);
    assert!(again.out.errors.is_empty(), "{:?}", again.out.errors);
}

/// A task built directly, on a clock the test moves.
fn clocked(
    spec: WindowSpec,
    backend: &SharedBackend,
    clock: &Arc<std::sync::atomic::AtomicI64>,
) -> Task {
    clocked_with(spec, backend, clock, "at_least_once")
}

fn clocked_with(
    spec: WindowSpec,
    backend: &SharedBackend,
    clock: &Arc<std::sync::atomic::AtomicI64>,
    guarantee: &str,
) -> Task {
    let mut t = Task::start_with(spec.clone(), backend, guarantee);
    let mut providers = crate::state::Providers::default();
    let shared = Arc::clone(backend);
    providers.register("test", Arc::new(move |_| Ok(Arc::clone(&shared))));
    let time = Arc::clone(clock);
    let windowed = StatefulWindowed::with_clock(
        Collect,
        spec,
        providers.clone(),
        Arc::new(move || time.load(std::sync::atomic::Ordering::SeqCst)),
    );
    let mut bolt: Box<dyn Bolt> = Box::new(crate::state::Stateful::of(windowed, providers));
    let context = t.context.take().unwrap();
    bolt.prepare(&context).unwrap();
    t.bolt = bolt;
    t
}

proptest::proptest! {
    /// Inputs, polls on a moving clock, checkpoints and crashes in any order (after a crash
    /// the spout replays every input not yet acked): each input is counted once in the
    /// committed state at the end.
    #[test]
    fn every_input_is_counted_once_through_checkpoints_and_crashes(
        steps in proptest::collection::vec((0i64..6, 0u8..5), 1..300),
    ) {
        use std::sync::atomic::{AtomicI64, Ordering};
        let backend: SharedBackend = Arc::new(MemoryBackend::new());
        let clock = Arc::new(AtomicI64::new(1_000));
        let spec = WindowSpec::tumbling(Extent::duration(std::time::Duration::from_millis(5)));
        let mut t = clocked(spec.clone(), &backend, &clock);
        t.step(-1, "INITSTATE");
        let mut inputs: Vec<i64> = Vec::new();
        let mut acked: std::collections::BTreeSet<i64> = std::collections::BTreeSet::new();
        let mut txid = 0;
        for (advance, what) in steps {
            clock.fetch_add(advance, Ordering::SeqCst);
            match what {
                0 | 1 => {
                    let n = inputs.len() as i64;
                    inputs.push(n);
                    t.input(n);
                }
                2 => t.poll(),
                3 => {
                    t.step(txid, "PREPARE");
                    t.step(txid, "COMMIT");
                    txid += 1;
                }
                _ => {
                    acked.extend(t.acked_inputs().iter().map(|a| a.parse::<i64>().unwrap()));
                    proptest::prop_assert!(t.out.errors.is_empty(), "{:?}", t.out.errors);
                    t = clocked(spec.clone(), &backend, &clock);
                    t.step(txid, "INITSTATE");
                    for n in inputs.iter().filter(|n| !acked.contains(n)) {
                        t.input(*n);
                    }
                }
            }
        }
        clock.fetch_add(1_000, Ordering::SeqCst);
        t.poll();
        t.step(txid, "PREPARE");
        t.step(txid, "COMMIT");
        proptest::prop_assert!(t.out.errors.is_empty(), "{:?}", t.out.errors);
        let counted = committed(&backend, t.id, "tuples").unwrap_or(0);
        proptest::prop_assert_eq!(counted, inputs.len() as i64);
    }
}

proptest::proptest! {
    /// Exactly-once: a spout that rewinds to the committed position, and inputs, polls,
    /// checkpoints, rollbacks, crashes and crashes between PREPARE and COMMIT (recovered by
    /// COMMIT or ROLLBACK) in any order. At the end the committed state counted every input
    /// exactly once.
    #[test]
    fn exactly_once_windows_count_every_input_once_through_rollbacks_and_crashes(
        steps in proptest::collection::vec((0i64..6, 0u8..8, proptest::bool::ANY), 1..300),
    ) {
        use std::sync::atomic::{AtomicI64, Ordering};
        let backend: SharedBackend = Arc::new(MemoryBackend::new());
        let clock = Arc::new(AtomicI64::new(1_000));
        let spec = WindowSpec::tumbling(Extent::duration(std::time::Duration::from_millis(5)));
        let start = |clock: &Arc<AtomicI64>| clocked_with(spec.clone(), &backend, clock, "exactly_once");
        let mut t = start(&clock);
        t.step(-1, "INITSTATE");
        // The spout: the next number to emit, the most ever emitted, and the position of the
        // last commit.
        let (mut next, mut total, mut committed_at) = (0i64, 0i64, 0i64);
        let mut txid = 0;
        for (advance, what, commit_on_recovery) in steps {
            clock.fetch_add(advance, Ordering::SeqCst);
            match what {
                0..=2 => {
                    t.input(next);
                    next += 1;
                    total = total.max(next);
                }
                3 => t.poll(),
                4 => {
                    t.step(txid, "PREPARE");
                    t.step(txid, "COMMIT");
                    committed_at = next;
                    txid += 1;
                }
                5 => {
                    // Another task refused PREPARE: every task and spout rewinds.
                    t.step(txid, "PREPARE");
                    t.step(txid, "ROLLBACK");
                    next = committed_at;
                }
                6 => {
                    // A crash: the task restarts, the spout rewinds.
                    proptest::prop_assert!(t.out.errors.is_empty(), "{:?}", t.out.errors);
                    t = start(&clock);
                    t.step(txid - 1, "INITSTATE");
                    next = committed_at;
                }
                _ => {
                    // A crash between PREPARE and COMMIT; recovery finishes or undoes it.
                    t.step(txid, "PREPARE");
                    let prepared = next;
                    proptest::prop_assert!(t.out.errors.is_empty(), "{:?}", t.out.errors);
                    t = start(&clock);
                    if commit_on_recovery {
                        t.step(txid, "COMMIT");
                        committed_at = prepared;
                        txid += 1;
                    } else {
                        t.step(txid, "ROLLBACK");
                    }
                    t.step(txid - 1, "INITSTATE");
                    next = committed_at;
                }
            }
        }
        while next < total {
            t.input(next);
            next += 1;
        }
        clock.fetch_add(1_000, Ordering::SeqCst);
        t.poll();
        t.step(txid, "PREPARE");
        t.step(txid, "COMMIT");
        proptest::prop_assert!(t.out.errors.is_empty(), "{:?}", t.out.errors);
        let counted = committed(&backend, t.id, "tuples").unwrap_or(0);
        proptest::prop_assert_eq!(counted, total);
    }
}
