use std::fmt;

use super::*;
use crate::state::{MemoryBackend, SharedBackend};
use crate::{EmitError, TaskId, Values};

/// Counts words; emits each new count.
struct Count;

impl StatefulBolt for Count {
    type Key = String;
    type Value = i64;

    fn declare_outputs(&self, out: &mut OutputDeclarer) {
        out.declare(Fields::new(["word", "count"]));
    }

    fn execute(
        &mut self,
        input: &Tuple,
        state: &mut KeyValueState<String, i64>,
        out: &mut BasicCollector<'_, '_>,
    ) -> Result<(), ComponentError> {
        let word = input.get_str("word")?.to_owned();
        if word == "poison" {
            return Err(ComponentError::msg("poison"));
        }
        let count = state.entry(word.clone()).or_insert(0);
        *count += 1;
        let n = *count;
        out.emit(values![word, n])?;
        Ok(())
    }
}

/// What the runner did, named by the first value of each tuple.
#[derive(Default)]
struct Recorder {
    emitted: Vec<(String, Values, usize)>,
    acked: Vec<String>,
    failed: Vec<String>,
    errors: Vec<String>,
}

fn name(t: &Tuple) -> String {
    match t.source_stream() {
        CHECKPOINT_STREAM_ID => format!(
            "{}:{}",
            t.get_str("action").unwrap_or("?"),
            t.get_i64("txid").unwrap_or(-9)
        ),
        _ => t.get_str(0).unwrap_or("?").to_owned(),
    }
}

impl crate::BoltOutput for Recorder {
    fn emit(
        &mut self,
        stream: Option<&str>,
        anchors: &[&Tuple],
        values: Values,
        _direct: Option<TaskId>,
    ) -> Result<&[TaskId], EmitError> {
        self.emitted.push((
            crate::stream_or_default(stream).to_owned(),
            values,
            anchors.len(),
        ));
        Ok(&[])
    }
    fn ack(&mut self, input: &Tuple) {
        self.acked.push(name(input));
    }
    fn fail(&mut self, input: &Tuple) {
        self.failed.push(name(input));
    }
    fn reset_timeout(&mut self, _input: &Tuple) {}
    fn report_error(&mut self, error: &dyn fmt::Display) {
        self.errors.push(error.to_string());
    }
}

fn word(w: &str) -> Tuple {
    Tuple::for_test("split", "default", Fields::new(["word"]), values![w])
}

/// A copy of a new try of a step, from task 1.
fn checkpoint(txid: i64, action: &str) -> Tuple {
    thread_local!(static SEQ: std::cell::Cell<i64> = const { std::cell::Cell::new(0) });
    let seq = SEQ.with(|s| {
        s.set(s.get() + 1);
        s.get()
    });
    checkpoint_from(1, txid, action, seq)
}

/// A copy of try `seq` of a step, from task `task`.
fn checkpoint_from(task: TaskId, txid: i64, action: &str, seq: i64) -> Tuple {
    Tuple::from_parts(
        crate::StreamSchema::intern(
            crate::state::CHECKPOINT_COMPONENT_ID,
            CHECKPOINT_STREAM_ID,
            Fields::new(crate::state::CHECKPOINT_FIELDS),
        ),
        task,
        values![txid, action, seq],
        crate::AnchorIds::new(),
    )
}

/// A runner for task `count-2` on `backend`, as `prepare` sets it up.
fn runner(backend: &SharedBackend, senders: usize) -> Stateful<Plain<Count>> {
    let mut providers = Providers::default();
    let shared = Arc::clone(backend);
    providers.register("test", Arc::new(move |_| Ok(Arc::clone(&shared))));
    let mut s = Stateful::new(Count, providers);
    s.checkpoints.arrivals = Arrivals::new(senders);
    s.checkpoints
        .counting
        .insert(crate::state::CHECKPOINT_COMPONENT_ID.to_owned());
    s.topology = "t".into();
    s.namespace = "count-2".into();
    s.config.set(crate::state::TOPOLOGY_STATE_PROVIDER, "test");
    s.open_store().unwrap();
    s
}

fn feed(
    s: &mut Stateful<Plain<Count>>,
    rec: &mut Recorder,
    t: Tuple,
) -> Result<(), ComponentError> {
    let mut out = BoltCollector::new(rec);
    s.execute(t, &mut out)
}

use std::sync::Arc;

#[test]
fn inputs_wait_for_the_state_and_are_acked_only_when_their_checkpoint_commits() {
    let backend: SharedBackend = Arc::new(MemoryBackend::new());
    let mut s = runner(&backend, 1);
    let mut rec = Recorder::default();
    feed(&mut s, &mut rec, word("storm")).unwrap();
    assert!(
        rec.emitted.is_empty(),
        "nothing runs before the state is loaded"
    );

    feed(&mut s, &mut rec, checkpoint(-1, "INITSTATE")).unwrap();
    assert_eq!(
        rec.emitted[0].1,
        values!["storm", 1i64],
        "the held input runs after INITSTATE"
    );
    assert_eq!(rec.emitted[0].2, 1, "emits are anchored to the input");
    assert_eq!(rec.acked, ["INITSTATE:-1"]);

    feed(&mut s, &mut rec, word("storm")).unwrap();
    feed(&mut s, &mut rec, checkpoint(0, "PREPARE")).unwrap();
    feed(&mut s, &mut rec, word("flink")).unwrap(); // after the prepare
    assert_eq!(
        rec.acked,
        ["INITSTATE:-1", "PREPARE:0"],
        "no input is acked at PREPARE"
    );
    feed(&mut s, &mut rec, checkpoint(0, "COMMIT")).unwrap();
    assert_eq!(
        rec.acked,
        ["INITSTATE:-1", "PREPARE:0", "storm", "storm", "COMMIT:0"],
        "COMMIT acks what PREPARE covered, not the input since"
    );
    let forwarded: Vec<(i64, &str)> = rec
        .emitted
        .iter()
        .filter(|(stream, _, _)| stream == CHECKPOINT_STREAM_ID)
        .map(|(_, v, _)| (v[0].as_i64().unwrap(), v[1].as_str().unwrap()))
        .collect();
    assert_eq!(
        forwarded,
        [(-1, "INITSTATE"), (0, "PREPARE"), (0, "COMMIT")]
    );

    // A restarted task loads what was committed: storm=2, and not flink (never prepared).
    let mut again = runner(&backend, 1);
    let mut rec2 = Recorder::default();
    feed(&mut again, &mut rec2, checkpoint(0, "INITSTATE")).unwrap();
    let state = again.state.as_ref().unwrap();
    assert_eq!(state.get("storm"), Some(&2));
    assert_eq!(state.get("flink"), None);
}

#[test]
fn a_rollback_fails_every_input_since_the_commit_and_restores_the_committed_counts() {
    let backend: SharedBackend = Arc::new(MemoryBackend::new());
    let mut s = runner(&backend, 1);
    let mut rec = Recorder::default();
    feed(&mut s, &mut rec, checkpoint(-1, "INITSTATE")).unwrap();
    feed(&mut s, &mut rec, word("a")).unwrap();
    feed(&mut s, &mut rec, checkpoint(0, "PREPARE")).unwrap();
    feed(&mut s, &mut rec, checkpoint(0, "COMMIT")).unwrap();
    feed(&mut s, &mut rec, word("b")).unwrap();
    feed(&mut s, &mut rec, checkpoint(1, "PREPARE")).unwrap();
    feed(&mut s, &mut rec, word("a")).unwrap();
    feed(&mut s, &mut rec, checkpoint(1, "ROLLBACK")).unwrap();
    assert_eq!(rec.failed, ["b", "a"]);
    let state = s.state.as_ref().unwrap();
    assert_eq!(state.get("a"), Some(&1));
    assert_eq!(state.get("b"), None);
    // The INITSTATE after a rollback (txid 0 again) is not stale.
    feed(&mut s, &mut rec, checkpoint(0, "INITSTATE")).unwrap();
    assert_eq!(rec.acked.last().unwrap(), "INITSTATE:0");
}

#[test]
fn a_prepare_before_the_state_is_loaded_fails_the_checkpoint() {
    let backend: SharedBackend = Arc::new(MemoryBackend::new());
    let mut s = runner(&backend, 1);
    let mut rec = Recorder::default();
    let err = feed(&mut s, &mut rec, checkpoint(3, "PREPARE")).unwrap_err();
    assert!(
        err.to_string().contains("before the state was loaded"),
        "{err}"
    );
    assert_eq!(rec.failed, ["PREPARE:3"]);
    assert!(rec.emitted.is_empty(), "a failed step is not forwarded");
}

#[test]
fn a_failing_input_is_failed_at_once_and_leaves_no_deferred_ack() {
    let backend: SharedBackend = Arc::new(MemoryBackend::new());
    let mut s = runner(&backend, 1);
    let mut rec = Recorder::default();
    feed(&mut s, &mut rec, checkpoint(-1, "INITSTATE")).unwrap();
    feed(&mut s, &mut rec, word("poison")).unwrap();
    assert_eq!(rec.failed, ["poison"]);
    assert_eq!(rec.errors, ["poison"]);
    assert!(s.pending.is_empty());
}

#[test]
fn a_step_runs_once_every_upstream_task_sent_it() {
    let backend: SharedBackend = Arc::new(MemoryBackend::new());
    let mut s = runner(&backend, 2);
    let mut rec = Recorder::default();
    feed(&mut s, &mut rec, checkpoint_from(1, -1, "INITSTATE", 50)).unwrap();
    assert!(s.state.is_none(), "one of two copies");
    assert_eq!(
        rec.acked,
        ["INITSTATE:-1"],
        "the early copy is acked at once"
    );
    assert!(rec.emitted.is_empty(), "not forwarded before the last copy");
    feed(&mut s, &mut rec, checkpoint_from(1, -1, "INITSTATE", 50)).unwrap();
    assert!(s.state.is_none(), "the same sender's copy counts once");
    feed(&mut s, &mut rec, checkpoint_from(2, -1, "INITSTATE", 50)).unwrap();
    assert!(s.state.is_some());
}

#[test]
fn a_plain_bolt_forwards_checkpoints_once_and_runs_everything_else() {
    struct Echo;
    impl Bolt for Echo {
        fn execute(&mut self, t: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
            out.emit(&[&t], values!["echo"])?;
            out.ack(&t);
            Ok(())
        }
    }
    let mut f = CheckpointForwarder::new(Box::new(Echo));
    f.checkpoints.arrivals = Arrivals::new(2);
    f.checkpoints
        .counting
        .insert(crate::state::CHECKPOINT_COMPONENT_ID.to_owned());
    let mut rec = Recorder::default();
    let mut out = BoltCollector::new(&mut rec);
    f.execute(word("x"), &mut out).unwrap();
    f.execute(checkpoint_from(1, 4, "PREPARE", 9), &mut out)
        .unwrap();
    f.execute(checkpoint_from(2, 4, "PREPARE", 9), &mut out)
        .unwrap();
    f.execute(checkpoint_from(1, 3, "COMMIT", 8), &mut out)
        .unwrap(); // an abandoned try
    assert_eq!(rec.acked, ["x", "PREPARE:4", "PREPARE:4", "COMMIT:3"]);
    let streams: Vec<&str> = rec.emitted.iter().map(|(s, _, _)| s.as_str()).collect();
    assert_eq!(streams, ["default", CHECKPOINT_STREAM_ID]);
}
