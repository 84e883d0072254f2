//! Two-phase sinks (Flink's `TwoPhaseCommitSinkFunction`, on Storm's checkpoint steps): a
//! sink gathers its inputs into a transaction; PREPARE closes the transaction and keeps it
//! durably with the checkpoint; COMMIT makes it visible in the external system. A sink that
//! must not show duplicates or uncommitted results (a table of counts, a file) writes only
//! what a committed checkpoint covers: after a failure, what was never committed is dropped
//! and replayed, and a commit cut short is done again, so `commit` must be idempotent.

use crate::{Bolt, BoltCollector, ComponentError, Config, OutputDeclarer, TopologyContext, Tuple};
use serde::{Deserialize, Serialize};

use super::bolt::{CheckpointedTask, Checkpoints, declare_checkpoint_stream, execute_checkpointed};
use super::checkpoint::{Action, Step};
use super::kv::StateData;
use super::provider::Providers;
use super::store::StateStore;
use super::topology_name;

/// A sink that writes once per checkpoint. Add it with
/// [`TopologyBuilder::set_two_phase_sink`](crate::TopologyBuilder::set_two_phase_sink).
///
/// # Examples
/// ```
/// use squall_topology_api::*;
/// use squall_topology_api::state::TwoPhaseSink;
/// use std::collections::BTreeMap;
/// /// Keeps the latest count of each word; a commit publishes them.
/// #[derive(Default)]
/// struct LatestCounts { published: BTreeMap<String, i64> }
/// impl TwoPhaseSink for LatestCounts {
///     type Transaction = BTreeMap<String, i64>;
///     fn write(&mut self, input: &Tuple, txn: &mut Self::Transaction) -> Result<(), ComponentError> {
///         txn.insert(input.get_str("word")?.to_owned(), input.get_i64("count")?);
///         Ok(())
///     }
///     fn commit(&mut self, _txid: i64, txn: &Self::Transaction) -> Result<(), ComponentError> {
///         // Absolute values: doing it twice changes nothing.
///         self.published.extend(txn.iter().map(|(k, v)| (k.clone(), *v)));
///         Ok(())
///     }
/// }
/// let mut sink = LatestCounts::default();
/// let mut txn = BTreeMap::new();
/// let t = Tuple::for_test("count", "default", Fields::new(["word", "count"]), values!["storm", 3]);
/// sink.write(&t, &mut txn).unwrap();
/// sink.commit(0, &txn).unwrap();
/// assert_eq!(sink.published["storm"], 3);
/// ```
pub trait TwoPhaseSink: Send + 'static {
    /// What one checkpoint's inputs amount to, kept durably between PREPARE and COMMIT.
    type Transaction: StateData + Default;

    /// Called once per task before its first input.
    ///
    /// # Errors
    /// Reported; the task still runs.
    fn prepare(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        let _ = context;
        Ok(())
    }

    /// Adds one input to the open transaction.
    ///
    /// # Errors
    /// The input is failed and the error reported.
    fn write(
        &mut self,
        input: &Tuple,
        transaction: &mut Self::Transaction,
    ) -> Result<(), ComponentError>;

    /// Makes checkpoint `txid`'s transaction visible. May be called again for the same
    /// transaction after a failure, so it must be idempotent.
    ///
    /// # Errors
    /// The commit step fails and is retried by the checkpoint's recovery.
    fn commit(&mut self, txid: i64, transaction: &Self::Transaction) -> Result<(), ComponentError>;

    /// Called when the task stops, if it stops cleanly.
    fn cleanup(&mut self) {}

    /// The sink's own configuration.
    fn component_config(&self) -> Config {
        Config::new()
    }
}

/// The key a task's staged transaction is kept under.
const STAGED_KEY: &str = "staged";

/// A transaction set aside at PREPARE, with the checkpoint it belongs to.
#[derive(Serialize, Deserialize)]
struct Staged<T> {
    txid: i64,
    transaction: T,
}

/// Runs a [`TwoPhaseSink`] as a bolt.
pub(crate) struct TwoPhase<S: TwoPhaseSink> {
    sink: S,
    providers: Providers,
    checkpoints: Checkpoints,
    store: Option<Box<dyn StateStore>>,
    topology: String,
    namespace: String,
    config: Config,
    open: S::Transaction,
    started: bool,
    /// At-least-once: inputs before the first INITSTATE, then inputs awaiting their commit.
    waiting: Vec<Tuple>,
    pending: Vec<Tuple>,
    prepared: Vec<Tuple>,
}

impl<S: TwoPhaseSink> TwoPhase<S> {
    pub(crate) fn new(sink: S, providers: Providers) -> Self {
        TwoPhase {
            sink,
            providers,
            checkpoints: Checkpoints::new(),
            store: None,
            topology: String::new(),
            namespace: String::new(),
            config: Config::new(),
            open: S::Transaction::default(),
            started: false,
            waiting: Vec::new(),
            pending: Vec::new(),
            prepared: Vec::new(),
        }
    }

    fn store(&mut self) -> Result<&mut Box<dyn StateStore>, ComponentError> {
        if self.store.is_none() {
            let backend = self.providers.resolve(&self.config)?;
            self.store = Some(backend.open(&self.topology, &self.namespace)?);
        }
        self.store
            .as_mut()
            .ok_or_else(|| ComponentError::msg("no state store"))
    }

    fn write(&mut self, input: Tuple, out: &mut BoltCollector<'_>) {
        let exactly_once = self.checkpoints.exactly_once();
        if !self.started {
            if exactly_once {
                out.ack(&input); // from before a rewind: replayed
            } else {
                self.waiting.push(input);
            }
            return;
        }
        match self.sink.write(&input, &mut self.open) {
            Ok(()) if exactly_once || input.is_tick() => out.ack(&input),
            Ok(()) => self.pending.push(input),
            Err(e) => {
                self.checkpoints.note_failure();
                out.fail(&input);
                out.report_error(&e);
            }
        }
    }

    /// Opens the task for inputs: a fresh transaction, then what waited.
    fn start(&mut self, out: &mut BoltCollector<'_>) {
        self.open = S::Transaction::default();
        self.started = true;
        for input in std::mem::take(&mut self.waiting) {
            self.write(input, out);
        }
    }

    fn run_action(
        &mut self,
        step: Step,
        out: &mut BoltCollector<'_>,
    ) -> Result<(), ComponentError> {
        match step.action {
            Action::Prepare => {
                if !self.started {
                    return Err(ComponentError::msg(format!(
                        "PREPARE {} arrived before the sink started; the checkpoint recovers",
                        step.txid
                    )));
                }
                let staged = Staged {
                    txid: step.txid,
                    transaction: std::mem::take(&mut self.open),
                };
                let change = (
                    serde_json::to_vec(STAGED_KEY)?,
                    Some(serde_json::to_vec(&staged)?),
                );
                self.store()?.prepare(step.txid, &[change])?;
                self.prepared.append(&mut self.pending);
            }
            Action::Commit => {
                let store = self.store()?;
                store.commit(step.txid)?;
                let key = serde_json::to_vec(STAGED_KEY)?;
                let staged = store.load()?.entries.into_iter().find(|(k, _)| *k == key);
                if let Some((_, value)) = staged {
                    let staged: Staged<S::Transaction> = serde_json::from_slice(&value)?;
                    if staged.txid == step.txid {
                        self.sink.commit(step.txid, &staged.transaction)?;
                    }
                }
                for input in self.prepared.drain(..) {
                    out.ack(&input);
                }
            }
            Action::Rollback => {
                self.store()?.rollback()?;
                self.open = S::Transaction::default();
                for input in self.prepared.drain(..).chain(self.pending.drain(..)) {
                    out.fail(&input);
                }
                if self.checkpoints.exactly_once() {
                    self.start(out);
                }
            }
            Action::InitState => {
                // In exactly-once mode every recovery ends here and everything uncommitted is
                // replayed, so the open transaction starts over.
                if !self.started || self.checkpoints.exactly_once() {
                    self.start(out);
                }
            }
        }
        Ok(())
    }
}

impl<S: TwoPhaseSink> CheckpointedTask for TwoPhase<S> {
    fn checkpoints(&mut self) -> &mut Checkpoints {
        &mut self.checkpoints
    }

    fn process(&mut self, input: Tuple, out: &mut BoltCollector<'_>) {
        self.write(input, out);
    }

    fn run_step(&mut self, step: Step, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        self.checkpoints.check(step)?;
        self.run_action(step, out)?;
        self.checkpoints.completed(step);
        Ok(())
    }
}

impl<S: TwoPhaseSink> Bolt for TwoPhase<S> {
    fn declare_outputs(&self, declarer: &mut OutputDeclarer) {
        declare_checkpoint_stream(declarer);
    }

    fn prepare(&mut self, context: &TopologyContext) -> Result<(), ComponentError> {
        self.checkpoints.prepare(context);
        self.topology = topology_name(context.topology_id()).to_owned();
        self.namespace = format!("{}-{}", context.this_component_id(), context.this_task_id());
        self.config = context.config().clone();
        self.sink.prepare(context)?;
        self.store().map(drop)
    }

    fn execute(&mut self, input: Tuple, out: &mut BoltCollector<'_>) -> Result<(), ComponentError> {
        execute_checkpointed(self, input, out)
    }

    fn cleanup(&mut self) {
        self.sink.cleanup();
    }

    fn component_config(&self) -> Config {
        self.sink.component_config()
    }
}
