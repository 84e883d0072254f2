//! Stateful windows (Storm's `IStatefulWindowedBolt` with `withPersistence()`): a windowed
//! bolt with a key/value state, whose windows' contents are checkpointed with that state. A
//! restarted task finds its windows as the last commit left them, so it neither loses a window
//! nor evaluates one again that the commit had already seen evaluated.
//!
//! As in Storm's persistent windows, an input is acked when the checkpoint that holds it
//! commits (not when it leaves its window, so windows need not fit in the message timeout),
//! and a window's emits are not anchored to its inputs: their effect is in the committed
//! windows, not in the inputs' tuple trees. With `exactly_once` state a failure anywhere
//! rewinds every task, windows included, to the last checkpoint.

use std::hash::Hash;
use std::time::Duration;

use super::bolt::{
    Clock, TupleWindow, WindowCollector, declare_late_stream, guarded, late_tuple, poll_interval,
};
use super::persist::detached;
use super::spec::{PERSISTENT_WINDOW_MARKER, WindowSpec};
use super::windows::{Due, Inserted, TaskWindows, wall_clock};
use crate::state::{KeyValueState, Providers, StateData, StateStore, StateTask};
use crate::{BoltCollector, ComponentError, Config, OutputDeclarer, TopologyContext, Tuple};

/// A windowed bolt with a key/value state, whose windows are checkpointed with the state
/// (Storm's `IStatefulWindowedBolt`, persistent). Add it with
/// [`TopologyBuilder::set_stateful_windowed_bolt`](crate::TopologyBuilder::set_stateful_windowed_bolt).
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// use squall_topology_api::state::KeyValueState;
/// use squall_topology_api::window::*;
/// /// Sums each tumbling window of 100 numbers, and keeps the total of all windows.
/// struct Sum;
/// impl StatefulWindowedBolt for Sum {
///     type Key = String;
///     type Value = i64;
///     fn declare_outputs(&self, out: &mut OutputDeclarer) {
///         out.declare(Fields::new(["sum", "total"]));
///     }
///     fn execute(
///         &mut self,
///         window: &TupleWindow<'_>,
///         state: &mut KeyValueState<String, i64>,
///         out: &mut WindowCollector<'_, '_>,
///     ) -> Result<(), ComponentError> {
///         let mut sum = 0;
///         for t in window.get() {
///             sum += t.get_i64("n")?;
///         }
///         let total = state.entry("total".into()).or_insert(0);
///         *total += sum;
///         out.emit(values![sum, *total])?;
///         Ok(())
///     }
/// }
/// # struct Numbers;
/// # impl Spout for Numbers {
/// #     fn declare_outputs(&self, out: &mut OutputDeclarer) { out.declare(Fields::new(["n"])); }
/// #     fn next_tuple(&mut self, _: &mut SpoutCollector<'_>) -> Result<(), ComponentError> { Ok(()) }
/// # }
/// let mut b = TopologyBuilder::new();
/// b.set_spout("numbers", || Numbers, 1);
/// b.set_stateful_windowed_bolt("sum", || Sum, WindowSpec::tumbling(Extent::count(100)), 1)
///     .shuffle_grouping("numbers");
/// assert!(b.build().is_ok());
/// ```
pub trait StatefulWindowedBolt: Send + 'static {
    /// The state's keys.
    type Key: StateData + Eq + Hash + Clone;
    /// The state's values.
    type Value: StateData;

    /// Declares the streams this bolt emits on.
    fn declare_outputs(&self, declarer: &mut OutputDeclarer) {
        let _ = declarer;
    }

    /// Called once per task before its state and windows are loaded.
    ///
    /// # Errors
    /// Reported; the task still runs.
    fn prepare(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        let _ = context;
        Ok(())
    }

    /// Called once the committed state and windows are loaded, before the first window
    /// (Storm's `initState`).
    fn init_state(&mut self, state: &mut KeyValueState<Self::Key, Self::Value>) {
        let _ = state;
    }

    /// Processes one window. Emits are not anchored: the window's inputs are acked when the
    /// checkpoint holding them commits.
    ///
    /// # Errors
    /// Reported as the component's error; with `exactly_once` state it also rewinds the
    /// topology to the last checkpoint.
    fn execute(
        &mut self,
        window: &TupleWindow<'_>,
        state: &mut KeyValueState<Self::Key, Self::Value>,
        collector: &mut WindowCollector<'_, '_>,
    ) -> Result<(), ComponentError>;

    /// Called before the state and windows are prepared for checkpoint `txid` (Storm's
    /// `prePrepare`).
    fn pre_prepare(&mut self, txid: i64, state: &mut KeyValueState<Self::Key, Self::Value>) {
        let _ = (txid, state);
    }

    /// Called before checkpoint `txid` commits (Storm's `preCommit`).
    fn pre_commit(&mut self, txid: i64) {
        let _ = txid;
    }

    /// Called before the state and windows go back to the last commit (Storm's
    /// `preRollback`).
    fn pre_rollback(&mut self) {}

    /// The topology is shutting down.
    fn cleanup(&mut self) {}

    /// The bolt's own configuration; the window's keys are added to it.
    fn component_config(&self) -> Config {
        Config::new()
    }
}

/// Runs a [`StatefulWindowedBolt`] under the stateful runner: its windows are kept in their
/// own store, namespace `<component>-<task>-window` (Storm's), prepared, committed and rolled
/// back with the task's key/value state.
pub(crate) struct StatefulWindowed<B> {
    bolt: B,
    windows: TaskWindows,
    providers: Providers,
    config: Config,
    topology: String,
    namespace: String,
    /// Opened in `prepare`, or at the next step if the backend was down then.
    store: Option<Box<dyn StateStore>>,
    /// The windows are loaded from the store (at INITSTATE).
    loaded: bool,
    /// `exactly_once` state: a window's error rewinds the topology to the last checkpoint.
    exactly_once: bool,
}

impl<B: StatefulWindowedBolt> StatefulWindowed<B> {
    pub(crate) fn new(bolt: B, spec: WindowSpec, providers: Providers) -> Self {
        StatefulWindowed::with_clock(bolt, spec, providers, wall_clock())
    }

    pub(crate) fn with_clock(
        bolt: B,
        spec: WindowSpec,
        providers: Providers,
        clock: Clock,
    ) -> Self {
        StatefulWindowed {
            bolt,
            windows: TaskWindows::new(spec, clock),
            providers,
            config: Config::new(),
            topology: String::new(),
            namespace: String::new(),
            store: None,
            loaded: false,
            exactly_once: false,
        }
    }

    fn store(&mut self) -> Result<&mut Box<dyn StateStore>, ComponentError> {
        if self.store.is_none() {
            let backend = self.providers.resolve(&self.config)?;
            self.store = Some(backend.open(&self.topology, &self.namespace)?);
        }
        self.store
            .as_mut()
            .ok_or_else(|| ComponentError::msg("no window store"))
    }

    /// Reads the windows back from the committed store.
    fn load(&mut self) -> Result<(), ComponentError> {
        let loaded = self.store()?.load()?;
        self.windows.restore(loaded)?;
        self.loaded = true;
        Ok(())
    }

    /// Evaluates the due windows; their emits are not anchored. A window's error is
    /// reported; with `exactly_once` the first is returned, so the runner fails the next
    /// checkpoint and every task goes back to the last one (the window's half-made changes
    /// to the state with it). With `at_least_once` the window's tuples expire regardless, as
    /// with plain windows.
    fn run(
        &mut self,
        due: Due,
        state: &mut KeyValueState<B::Key, B::Value>,
        out: &mut BoltCollector<'_>,
    ) -> Result<(), ComponentError> {
        let bolt = &mut self.bolt;
        let exactly_once = self.exactly_once;
        let mut first_error = None;
        self.windows.evaluate(
            due,
            |window| {
                let mut collector = WindowCollector {
                    inner: out,
                    anchors: &[],
                };
                if let Err(e) = guarded(|| bolt.execute(window, state, &mut collector)) {
                    if exactly_once && first_error.is_none() {
                        first_error = Some(e);
                    } else {
                        collector.report_error(&e);
                    }
                }
            },
            // Acked by the runner when its checkpoint committed.
            drop,
        );
        first_error.map_or(Ok(()), Err)
    }
}

impl<B: StatefulWindowedBolt> StateTask for StatefulWindowed<B> {
    type Key = B::Key;
    type Value = B::Value;

    fn declare_outputs(&self, declarer: &mut OutputDeclarer) {
        self.bolt.declare_outputs(declarer);
        declare_late_stream(self.windows.spec(), declarer);
    }

    fn component_config(&self) -> Config {
        let mut config = self.bolt.component_config();
        config = config.merged(&self.windows.spec().to_config());
        config.set(PERSISTENT_WINDOW_MARKER, true);
        config
    }

    fn prepare(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        let checked = self.windows.spec().check().map_err(ComponentError::msg);
        // Inputs are acked at checkpoints, so sessions need no cut before the timeout.
        self.windows.prepare(context, None);
        self.exactly_once = crate::state::exactly_once(context);
        self.windows.track_changes();
        self.topology = crate::state::topology_name(context.topology_id()).to_owned();
        self.namespace = format!(
            "{}-{}-window",
            context.this_component_id(),
            context.this_task_id()
        );
        self.config = context.config().clone();
        if let Err(e) = self.store() {
            tracing::warn!(namespace = %self.namespace, error = %e, "the window store did not open; trying again at the next checkpoint");
        }
        self.bolt.prepare(context)?;
        checked
    }

    fn init_state(
        &mut self,
        state: &mut KeyValueState<B::Key, B::Value>,
    ) -> Result<(), ComponentError> {
        self.load()?;
        self.bolt.init_state(state);
        Ok(())
    }

    fn execute(
        &mut self,
        input: &Tuple,
        state: &mut KeyValueState<B::Key, B::Value>,
        out: &mut BoltCollector<'_>,
    ) -> Result<(), ComponentError> {
        if input.is_tick() {
            return Ok(());
        }
        let stamp = self.windows.stamp(input)?;
        match self.windows.insert(stamp, detached(input)) {
            Inserted::Held(due) => self.run(due, state, out),
            Inserted::Late(_, late) => {
                late_tuple(self.windows.spec(), input, &late, out);
                Ok(())
            }
        }
    }

    fn pre_prepare(
        &mut self,
        txid: i64,
        state: &mut KeyValueState<B::Key, B::Value>,
    ) -> Result<(), ComponentError> {
        self.bolt.pre_prepare(txid, state);
        let changes = self.windows.changes()?;
        self.store()?.prepare(txid, &changes)?;
        Ok(())
    }

    fn pre_commit(&mut self, txid: i64) -> Result<(), ComponentError> {
        self.bolt.pre_commit(txid);
        self.store()?.commit(txid)?;
        Ok(())
    }

    fn pre_rollback(&mut self) -> Result<(), ComponentError> {
        self.bolt.pre_rollback();
        self.store()?.rollback()?;
        if self.loaded {
            self.load()?;
        }
        Ok(())
    }

    fn poll_interval(&self) -> Option<Duration> {
        poll_interval(self.windows.spec())
    }

    fn poll(
        &mut self,
        state: &mut KeyValueState<B::Key, B::Value>,
        out: &mut BoltCollector<'_>,
    ) -> Result<(), ComponentError> {
        let due = self.windows.poll();
        self.run(due, state, out)
    }

    fn cleanup(&mut self) {
        self.bolt.cleanup();
    }
}

#[cfg(test)]
mod tests;
