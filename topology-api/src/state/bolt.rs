//! Stateful bolts (Storm's `IStatefulBolt` run by its `StatefulBoltExecutor`) and the
//! forwarder that passes checkpoints through plain bolts (`CheckpointTupleForwarder`).
//!
//! A stateful bolt's inputs are acked only when the checkpoint that covers their effect on
//! the state commits, and failed when it is rolled back, so after a crash the state is the
//! last committed one and every input since is replayed: at-least-once state, as in Storm.

use std::hash::Hash;

use crate::{
    BasicCollector, Bolt, BoltCollector, BoltOutput, ComponentError, Config, EmitError, Fields,
    OutputDeclarer, TaskId, TopologyContext, Tuple, Values, values,
};

use std::collections::BTreeSet;

use super::align::{Aligner, Outcome};
use super::arrivals::{Arrival, Arrivals};
use super::checkpoint::{Action, Step};
use super::guarantee::Guarantee;
use super::kv::{KeyValueState, StateData};
use super::provider::Providers;
use super::store::StateStore;
use super::task::{Plain, StateTask};
use super::{CHECKPOINT_FIELDS, CHECKPOINT_STREAM_ID, topology_name};

/// A bolt whose work is a key/value state per task (Storm's `IStatefulBolt` with a
/// `KeyValueState`). Add it with
/// [`TopologyBuilder::set_stateful_bolt`](crate::TopologyBuilder::set_stateful_bolt).
///
/// Emits are anchored to the input; an input is acked once the checkpoint after it commits,
/// and failed when `execute` returns an error or its checkpoint is rolled back.
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// use squall_topology_api::state::{KeyValueState, StatefulBolt};
/// /// Counts words; the counts survive restarts.
/// struct Count;
/// impl StatefulBolt for Count {
///     type Key = String;
///     type Value = u64;
///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
///         out.declare(Fields::new(["word", "count"]));
///     }
///     fn execute(
///         &mut self,
///         input: &Tuple,
///         state: &mut KeyValueState<String, u64>,
///         out: &mut BasicCollector<'_, '_>,
///     ) -> Result<(), ComponentError> {
///         let word = input.get_str("word")?.to_owned();
///         let count = state.entry(word.clone()).or_insert(0);
///         *count += 1;
///         out.emit(values![word, *count as i64])?;
///         Ok(())
///     }
/// }
/// let mut state = KeyValueState::detached();
/// let input = Tuple::for_test("split", "default", Fields::new(["word"]), values!["storm"]);
/// # struct Rec;
/// # impl BoltOutput for Rec {
/// #     fn emit(&mut self, _: Option<&str>, _: &[&Tuple], _: Values, _: Option<TaskId>) -> Result<&[TaskId], EmitError> { Ok(&[]) }
/// #     fn ack(&mut self, _: &Tuple) {}
/// #     fn fail(&mut self, _: &Tuple) {}
/// #     fn reset_timeout(&mut self, _: &Tuple) {}
/// #     fn report_error(&mut self, _: &dyn std::fmt::Display) {}
/// # }
/// # let mut rec = Rec;
/// # let mut collector = BoltCollector::new(&mut rec);
/// let mut out = BasicCollector::new(&mut collector, &input);
/// Count.execute(&input, &mut state, &mut out).unwrap();
/// assert_eq!(state.get("storm"), Some(&1));
/// ```
pub trait StatefulBolt: Send + 'static {
    /// The state's keys.
    type Key: StateData + Eq + Hash + Clone;
    /// The state's values.
    type Value: StateData;

    /// Declares the bolt's output streams.
    fn declare_outputs(&self, declarer: &mut OutputDeclarer) {
        let _ = declarer;
    }

    /// Called once per task before its state is loaded.
    ///
    /// # Errors
    /// Reported; the task still runs.
    fn prepare(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        let _ = context;
        Ok(())
    }

    /// Called once the task's committed state is loaded, before its first tuple (Storm's
    /// `initState`).
    fn init_state(&mut self, state: &mut KeyValueState<Self::Key, Self::Value>) {
        let _ = state;
    }

    /// Processes one input.
    ///
    /// # Errors
    /// The input is failed and the error reported.
    fn execute(
        &mut self,
        input: &Tuple,
        state: &mut KeyValueState<Self::Key, Self::Value>,
        collector: &mut BasicCollector<'_, '_>,
    ) -> Result<(), ComponentError>;

    /// Called before the state's changes are prepared for checkpoint `txid` (Storm's
    /// `prePrepare`): the last moment to write something into this checkpoint.
    fn pre_prepare(&mut self, txid: i64, state: &mut KeyValueState<Self::Key, Self::Value>) {
        let _ = (txid, state);
    }

    /// Called before checkpoint `txid` commits (Storm's `preCommit`).
    fn pre_commit(&mut self, txid: i64) {
        let _ = txid;
    }

    /// Called before the state is rolled back to the last commit (Storm's `preRollback`).
    fn pre_rollback(&mut self) {}

    /// Called when the task stops, if it stops cleanly.
    fn cleanup(&mut self) {}

    /// The bolt's own configuration, as [`Bolt::component_config`].
    fn component_config(&self) -> Config {
        Config::new()
    }
}

/// Declares the `$checkpoint` stream every bolt of a stateful topology emits.
pub(super) fn declare_checkpoint_stream(declarer: &mut OutputDeclarer) {
    declarer.declare_stream(CHECKPOINT_STREAM_ID, Fields::new(CHECKPOINT_FIELDS));
}

/// The step a checkpoint tuple carries, if it is well formed.
pub(super) fn step_of(input: &Tuple) -> Option<Step> {
    let txid = input.get_i64("txid").ok()?;
    let action = Action::parse(input.get_str("action").ok()?)?;
    let seq = u64::try_from(input.get_i64("seq").ok()?).ok()?;
    Some(Step { txid, action, seq })
}

/// What a task's checkpoint handling makes of one input.
pub(super) enum Routed {
    /// A data input to process now.
    Data(Tuple),
    /// Held until the step being aligned completes.
    Held,
    /// A checkpoint copy that needs only its ack: an early or stale copy, or one whose sender
    /// does not count in this mode.
    Ack(Tuple),
    /// A checkpoint tuple without a txid and action.
    Malformed(Tuple),
    /// A step to run now (then forward with `input`), followed by the inputs held for it.
    Step {
        input: Tuple,
        step: Step,
        released: Vec<Tuple>,
    },
}

/// A task's view of the checkpoints: which senders count, and the counting (Storm's mode) or
/// the alignment (exactly-once) of their copies.
pub(super) struct Checkpoints {
    guarantee: Guarantee,
    counting: BTreeSet<String>,
    arrivals: Arrivals,
    aligner: Aligner<Tuple>,
    /// Exactly-once: a ROLLBACK or INITSTATE completed here since the task started. Until
    /// then this task may have missed tuples sent to the process it replaced, so it must not
    /// let a checkpoint through.
    ready: bool,
    /// Exactly-once: an input failed here since the last recovery. Its effect may be half in
    /// the state and its replay is behind the next barrier, so that checkpoint must fail.
    failed: bool,
}

impl Checkpoints {
    pub(super) fn new() -> Self {
        Checkpoints {
            guarantee: Guarantee::AtLeastOnce,
            counting: BTreeSet::new(),
            arrivals: Arrivals::new(1),
            aligner: Aligner::new(1),
            ready: false,
            failed: false,
        }
    }

    /// An input failed at this task.
    pub(super) fn note_failure(&mut self) {
        self.failed = true;
    }

    /// Exactly-once: refuses a PREPARE this task cannot vouch for (see `ready` and `failed`).
    pub(super) fn check(&self, step: Step) -> Result<(), ComponentError> {
        if !self.exactly_once() || step.action != Action::Prepare {
            return Ok(());
        }
        if !self.ready {
            return Err(ComponentError::msg(format!(
                "PREPARE {} arrived before this task was started by a rollback; the checkpoint recovers",
                step.txid
            )));
        }
        if self.failed {
            return Err(ComponentError::msg(format!(
                "an input failed here since the last checkpoint: PREPARE {} fails, and every task rewinds",
                step.txid
            )));
        }
        Ok(())
    }

    /// A step completed here.
    pub(super) fn completed(&mut self, step: Step) {
        if matches!(step.action, Action::Rollback | Action::InitState) {
            self.ready = true;
            self.failed = false;
        }
    }

    pub(super) fn prepare(&mut self, context: &TopologyContext) {
        self.guarantee = Guarantee::of(context.config());
        let spec = context.spec();
        self.counting = spec
            .component(context.this_component_id())
            .map(|me| {
                me.inputs
                    .iter()
                    .filter(|i| {
                        i.stream == CHECKPOINT_STREAM_ID
                            && self.guarantee.counts(spec, &i.component)
                    })
                    .map(|i| i.component.clone())
                    .collect()
            })
            .unwrap_or_default();
        let senders = self.guarantee.senders(context);
        self.arrivals = Arrivals::new(senders);
        self.aligner = Aligner::new(senders);
    }

    pub(super) fn exactly_once(&self) -> bool {
        self.guarantee == Guarantee::ExactlyOnce
    }

    /// Sorts one input; the first value lists inputs dropped by a superseded alignment, to be
    /// acked unprocessed.
    pub(super) fn route(&mut self, input: Tuple) -> (Vec<Tuple>, Routed) {
        if input.source_stream() != CHECKPOINT_STREAM_ID {
            if !self.exactly_once() {
                return (Vec::new(), Routed::Data(input));
            }
            let from = input.source_task();
            return match self.aligner.data(from, input) {
                Some(t) => (Vec::new(), Routed::Data(t)),
                None => (Vec::new(), Routed::Held),
            };
        }
        if !self.counting.contains(input.source_component()) {
            return (Vec::new(), Routed::Ack(input));
        }
        let Some(step) = step_of(&input) else {
            return (Vec::new(), Routed::Malformed(input));
        };
        if !self.exactly_once() {
            return match self.arrivals.arrive(input.source_task(), step) {
                Arrival::Complete => (
                    Vec::new(),
                    Routed::Step {
                        input,
                        step,
                        released: Vec::new(),
                    },
                ),
                Arrival::Waiting | Arrival::Stale => (Vec::new(), Routed::Ack(input)),
            };
        }
        let (dropped, outcome) = self.aligner.barrier(input.source_task(), step);
        let routed = match outcome {
            Outcome::Complete { released } => Routed::Step {
                input,
                step,
                released,
            },
            Outcome::Waiting | Outcome::Stale => Routed::Ack(input),
        };
        (dropped, routed)
    }
}

pub(super) fn malformed() -> ComponentError {
    ComponentError::msg("a malformed checkpoint tuple was dropped")
}

/// A bolt task that takes part in checkpoints: what it does with a data input and with a step
/// once the step is due. [`execute_checkpointed`] does the rest, the same for every kind.
pub(super) trait CheckpointedTask {
    fn checkpoints(&mut self) -> &mut Checkpoints;
    /// Processes (or holds, or drops) one data input.
    fn process(&mut self, input: Tuple, out: &mut BoltCollector<'_>);
    /// Carries out a step; an error fails it, which sends the coordinator into recovery.
    fn run_step(&mut self, step: Step, out: &mut BoltCollector<'_>) -> Result<(), ComponentError>;
}

/// Routes one input of a checkpointed task: data to `process`; a step that is due to
/// `run_step`, then forwarded (or failed), then the inputs held for it.
pub(super) fn execute_checkpointed<T: CheckpointedTask>(
    task: &mut T,
    input: Tuple,
    out: &mut BoltCollector<'_>,
) -> Result<(), ComponentError> {
    let (dropped, routed) = task.checkpoints().route(input);
    for t in &dropped {
        out.ack(t);
    }
    match routed {
        Routed::Data(t) => task.process(t, out),
        Routed::Held => {}
        Routed::Ack(t) => out.ack(&t),
        Routed::Malformed(t) => {
            out.ack(&t);
            return Err(malformed());
        }
        Routed::Step {
            input,
            step,
            released,
        } => {
            let result = task.run_step(step, out);
            match &result {
                Ok(()) => forward(&input, step, out),
                Err(_) => out.fail(&input),
            }
            for t in released {
                task.process(t, out);
            }
            return result;
        }
    }
    Ok(())
}

/// Forwards a completed step downstream, anchored to its last copy, and acks it.
pub(super) fn forward(input: &Tuple, step: Step, out: &mut BoltCollector<'_>) {
    if let Err(e) = out.emit_on(
        CHECKPOINT_STREAM_ID,
        &[input],
        values![step.txid, step.action.as_str(), step.seq as i64],
    ) {
        out.report_error(&e);
        out.fail(input);
        return;
    }
    out.ack(input);
}

/// Runs a plain bolt in a topology with stateful bolts: checkpoint steps pass through it once
/// every upstream task sent them (aligned, in exactly-once mode).
pub(crate) struct CheckpointForwarder {
    inner: Box<dyn Bolt>,
    checkpoints: Checkpoints,
}

impl CheckpointForwarder {
    pub(crate) fn new(inner: Box<dyn Bolt>) -> Self {
        CheckpointForwarder {
            inner,
            checkpoints: Checkpoints::new(),
        }
    }
}

impl CheckpointedTask for CheckpointForwarder {
    fn checkpoints(&mut self) -> &mut Checkpoints {
        &mut self.checkpoints
    }

    /// Runs the plain bolt; in exactly-once mode, notes whether it failed its input.
    fn process(&mut self, input: Tuple, out: &mut BoltCollector<'_>) {
        let result = if self.checkpoints.exactly_once() {
            let mut failed = false;
            let mut watch = WatchFails {
                inner: out.output(),
                failed: &mut failed,
            };
            let result = self
                .inner
                .execute(input, &mut BoltCollector::new(&mut watch));
            if failed || result.is_err() {
                self.checkpoints.note_failure();
            }
            result
        } else {
            self.inner.execute(input, out)
        };
        if let Err(e) = result {
            out.report_error(&e);
        }
    }

    /// A plain bolt has nothing to do for a step but vouch for it.
    fn run_step(&mut self, step: Step, _out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        self.checkpoints.check(step)?;
        self.checkpoints.completed(step);
        Ok(())
    }
}

/// Passes everything through, noting a failed input.
struct WatchFails<'a> {
    inner: &'a mut dyn BoltOutput,
    failed: &'a mut bool,
}

impl BoltOutput for WatchFails<'_> {
    fn emit(
        &mut self,
        stream: Option<&str>,
        anchors: &[&Tuple],
        values: Values,
        direct_task: Option<TaskId>,
    ) -> Result<&[TaskId], EmitError> {
        self.inner.emit(stream, anchors, values, direct_task)
    }

    fn ack(&mut self, input: &Tuple) {
        self.inner.ack(input);
    }

    fn fail(&mut self, input: &Tuple) {
        *self.failed = true;
        self.inner.fail(input);
    }

    fn reset_timeout(&mut self, input: &Tuple) {
        self.inner.reset_timeout(input);
    }

    fn report_error(&mut self, error: &dyn std::fmt::Display) {
        self.inner.report_error(error);
    }
}

impl Bolt for CheckpointForwarder {
    fn declare_outputs(&self, declarer: &mut OutputDeclarer) {
        self.inner.declare_outputs(declarer);
        declare_checkpoint_stream(declarer);
    }

    fn prepare(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        self.checkpoints.prepare(context);
        self.inner.prepare(context)
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        execute_checkpointed(self, input, out)
    }

    fn cleanup(&mut self) {
        self.inner.cleanup();
    }

    fn component_config(&self) -> Config {
        self.inner.component_config()
    }

    fn poll_interval(&self) -> Option<std::time::Duration> {
        self.inner.poll_interval()
    }

    fn poll(&mut self, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        self.inner.poll(out)
    }
}

/// Runs a stateful task (a [`StatefulBolt`], or a stateful windowed bolt) as a bolt: loads
/// its state on INITSTATE, holds its acks until COMMIT, and follows the checkpoint steps.
pub(crate) struct Stateful<T: StateTask> {
    task: T,
    providers: Providers,
    checkpoints: Checkpoints,
    topology: String,
    namespace: String,
    /// Opened in `prepare`, or at INITSTATE if the backend was down then.
    store: Option<Box<dyn StateStore>>,
    /// Loaded at INITSTATE.
    state: Option<KeyValueState<T::Key, T::Value>>,
    /// Inputs that arrived before the state was loaded.
    waiting: Vec<Tuple>,
    /// Inputs processed since the last PREPARE: acked by the COMMIT after the next one.
    pending: Vec<Tuple>,
    /// Inputs covered by the last PREPARE: acked by its COMMIT.
    prepared: Vec<Tuple>,
    config: Config,
}

impl<B: StatefulBolt> Stateful<Plain<B>> {
    pub(crate) fn new(bolt: B, providers: Providers) -> Self {
        Stateful::of(Plain(bolt), providers)
    }
}

impl<T: StateTask> Stateful<T> {
    pub(crate) fn of(task: T, providers: Providers) -> Self {
        Stateful {
            task,
            providers,
            checkpoints: Checkpoints::new(),
            topology: String::new(),
            namespace: String::new(),
            store: None,
            state: None,
            waiting: Vec::new(),
            pending: Vec::new(),
            prepared: Vec::new(),
            config: Config::new(),
        }
    }

    fn open_store(&mut self) -> Result<(), ComponentError> {
        if self.store.is_none() && self.state.is_none() {
            let backend = self.providers.resolve(&self.config)?;
            self.store = Some(backend.open(&self.topology, &self.namespace)?);
        }
        Ok(())
    }

    /// Runs the user's `execute` on a data tuple; the input is kept for its deferred ack.
    fn process_input(&mut self, input: Tuple, out: &mut BoltCollector<'_>) {
        let exactly_once = self.checkpoints.exactly_once();
        let Some(state) = self.state.as_mut() else {
            if exactly_once {
                // Sent before the rollback or start-up this task has not seen yet: the spouts
                // replay it from their committed positions.
                out.ack(&input);
            } else {
                self.waiting.push(input);
            }
            return;
        };
        let result = self.task.execute(&input, state, out);
        match result {
            // In exactly-once mode a failure rewinds everything, so acks need not wait.
            Ok(()) if input.is_tick() || exactly_once => out.ack(&input),
            Ok(()) => self.pending.push(input),
            Err(e) => {
                self.checkpoints.note_failure();
                out.fail(&input);
                out.report_error(&e);
            }
        }
    }

    fn run_action(
        &mut self,
        step: Step,
        out: &mut BoltCollector<'_>,
    ) -> Result<(), ComponentError> {
        match step.action {
            Action::Prepare => {
                let Some(state) = self.state.as_mut() else {
                    return Err(ComponentError::msg(format!(
                        "PREPARE {} arrived before the state was loaded; the checkpoint recovers",
                        step.txid
                    )));
                };
                self.task.pre_prepare(step.txid, state)?;
                state.prepare_commit(step.txid)?;
                self.prepared.append(&mut self.pending);
            }
            Action::Commit => {
                self.task.pre_commit(step.txid)?;
                match (self.state.as_mut(), self.store.as_mut()) {
                    (Some(state), _) => state.commit(step.txid)?,
                    (None, Some(store)) => store.commit(step.txid)?,
                    (None, None) => {
                        self.open_store()?;
                        if let Some(store) = self.store.as_mut() {
                            store.commit(step.txid)?;
                        }
                    }
                }
                for input in self.prepared.drain(..) {
                    out.ack(&input);
                }
            }
            Action::Rollback => {
                self.task.pre_rollback()?;
                match (self.state.as_mut(), self.store.as_mut()) {
                    (Some(state), _) => state.rollback()?,
                    (None, Some(store)) => store.rollback()?,
                    (None, None) => {
                        self.open_store()?;
                        if let Some(store) = self.store.as_mut() {
                            store.rollback()?;
                        }
                    }
                }
                for input in self.prepared.drain(..).chain(self.pending.drain(..)) {
                    out.fail(&input);
                }
                if self.checkpoints.exactly_once() {
                    // Everything after this barrier is replayed from the committed positions:
                    // the task starts from the committed state, as at INITSTATE.
                    self.init_state(out)?;
                }
            }
            Action::InitState => {
                if self.checkpoints.exactly_once()
                    && let Some(state) = self.state.as_mut()
                {
                    // Every recovery ends here: back to the committed state, as the spouts go
                    // back to their committed positions.
                    self.task.pre_rollback()?;
                    state.rollback()?;
                }
                self.init_state(out)?;
            }
        }
        Ok(())
    }

    /// Loads the committed state, once, then runs the inputs that waited for it.
    fn init_state(&mut self, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        if self.state.is_some() {
            return Ok(());
        }
        self.open_store()?;
        let Some(store) = self.store.take() else {
            return Err(ComponentError::msg("no state store"));
        };
        let mut state = KeyValueState::load(store)?;
        self.task.init_state(&mut state)?;
        self.state = Some(state);
        tracing::info!(namespace = %self.namespace, "state loaded");
        for input in std::mem::take(&mut self.waiting) {
            self.process_input(input, out);
        }
        Ok(())
    }
}

impl<T: StateTask> CheckpointedTask for Stateful<T> {
    fn checkpoints(&mut self) -> &mut Checkpoints {
        &mut self.checkpoints
    }

    fn process(&mut self, input: Tuple, out: &mut BoltCollector<'_>) {
        self.process_input(input, out);
    }

    fn run_step(&mut self, step: Step, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        self.checkpoints.check(step)?;
        self.run_action(step, out)?;
        self.checkpoints.completed(step);
        Ok(())
    }
}

impl<T: StateTask> Bolt for Stateful<T> {
    fn declare_outputs(&self, declarer: &mut OutputDeclarer) {
        self.task.declare_outputs(declarer);
        declare_checkpoint_stream(declarer);
    }

    fn prepare(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        self.checkpoints.prepare(context);
        self.topology = topology_name(context.topology_id()).to_owned();
        self.namespace = format!("{}-{}", context.this_component_id(), context.this_task_id());
        self.config = context.config().clone();
        self.task.prepare(context)?;
        // A backend that is down now is opened again at INITSTATE.
        self.open_store()
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        execute_checkpointed(self, input, out)
    }

    fn cleanup(&mut self) {
        self.task.cleanup();
    }

    fn component_config(&self) -> Config {
        self.task.component_config()
    }

    fn poll_interval(&self) -> Option<std::time::Duration> {
        self.task.poll_interval()
    }

    /// Time-driven work runs once the state is loaded; an error in it fails the next
    /// checkpoint in exactly-once mode, as a failed input does.
    fn poll(&mut self, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        let Some(state) = self.state.as_mut() else {
            return Ok(());
        };
        let result = self.task.poll(state, out);
        if result.is_err() {
            self.checkpoints.note_failure();
        }
        result
    }
}

#[cfg(test)]
mod tests;
